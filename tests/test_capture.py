"""Capture: what the recording monitor keeps of each stack, and how stack files are read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from blueprint.capture import Plan, capture_program
from blueprint.stackfile import SECRET_PLACEHOLDER, StackFileError, read_project, read_stack
from components.network import INTERFACE_ENDPOINT_SERVICES
from tests.conftest import PROJECT_DIR, stack_config

ROOT_TYPE = "featureplatform:platform:FeaturePlatform"


def test_resource_counts_follow_the_config(plan: Plan) -> None:
    config = stack_config(plan.stack)
    azs = config.network.az_count
    nats = azs if config.network.nat_gateways.value == "per-az" else 1
    counts = Counter(r.type for r in plan.resources)
    assert counts["aws:ec2/subnet:Subnet"] == 3 * azs
    assert counts["aws:ec2/natGateway:NatGateway"] == counts["aws:ec2/eip:Eip"] == nats
    assert counts["aws:ec2/routeTable:RouteTable"] == 1 + azs + 1  # public, private per AZ, data
    assert counts["aws:ec2/vpcEndpoint:VpcEndpoint"] == len(INTERFACE_ENDPOINT_SERVICES) + 1
    assert counts["aws:kms/key:Key"] == 5  # data, logs, secrets, cluster, alerts
    assert counts["aws:s3/bucket:Bucket"] == 3
    assert counts["pulumi:providers:aws"] == 1
    assert counts[ROOT_TYPE] == 1


def test_every_resource_hangs_below_the_platform_component(plan: Plan) -> None:
    by_urn = {r.urn: r for r in plan.resources}
    (root,) = plan.of_type(ROOT_TYPE)
    assert root.parent.endswith("pulumi:pulumi:Stack::feature-platform-" + plan.stack)
    for resource in plan.resources:
        chain, urn = [], resource.urn
        while urn in by_urn:
            chain.append(by_urn[urn].type)
            urn = by_urn[urn].parent
        assert chain[-1] == ROOT_TYPE, (resource.name, chain)


def test_secret_inputs_are_marked(plan: Plan) -> None:
    marked = {(r.type, key) for r in plan.resources for key in r.secret_inputs}
    # The generated password, in Secrets Manager and on the default user; nothing else
    # of the platform's inputs is secret.
    assert marked == {
        ("aws:secretsmanager/secretVersion:SecretVersion", "secretStringWo"),
        ("aws:elasticache/user:User", "passwordsWo"),
    }


def test_property_dependencies_name_the_resources_feeding_each_input(plan: Plan) -> None:
    registry_policy = next(
        p
        for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if p.inputs["bucket"] == plan.named("aws:s3/bucket:Bucket", "-registry-bucket").id
    )
    bucket = plan.named("aws:s3/bucket:Bucket", "-registry-bucket")
    data_key = plan.named("aws:kms/key:Key", "-kms-data")
    assert registry_policy.property_dependencies["bucket"] == [bucket.urn]
    assert set(registry_policy.property_dependencies["policy"]) == {bucket.urn, data_key.urn}


def test_resource_options_are_recorded(prod: Plan) -> None:
    bucket = prod.named("aws:s3/bucket:Bucket", "-registry-bucket")
    assert (bucket.protect, bucket.retain_on_delete) == (True, True)
    logging = next(iter(prod.of_type("aws:s3/bucketLogging:BucketLogging")))
    assert logging.depends_on  # explicit depends_on survives


def _project(tmp_path: Path, config: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nruntime: python\nstackConfigDir: stacks\n"
        "config:\n  greeting:\n    value: hello\n"
    )
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(config)
    return tmp_path


def test_stack_files_are_flattened_like_the_engine_does(tmp_path: Path) -> None:
    project = read_project(
        _project(
            tmp_path,
            "config:\n"
            "  demo:size: 3\n"
            "  demo:flag: true\n"
            "  demo:nested:\n    a: 1\n    b: [x, y]\n"
            "  aws:region: eu-central-1\n"
            "  demo:token:\n    secure: v1:abc\n"
            "  demo:creds:\n    user: u\n    password:\n      secure: v1:def\n",
        )
    )
    settings = read_stack(project, "dev")
    assert settings.config["demo:greeting"] == "hello"  # project default
    assert settings.config["demo:size"] == "3"
    assert settings.config["demo:flag"] == "true"
    assert settings.config["demo:nested"] == '{"a": 1, "b": ["x", "y"]}'
    assert settings.config["aws:region"] == "eu-central-1"
    assert settings.config["demo:token"] == SECRET_PLACEHOLDER
    assert SECRET_PLACEHOLDER in settings.config["demo:creds"]
    assert settings.secret_keys == ["demo:creds", "demo:token"]


def test_unknown_stack_lists_the_stacks_that_exist() -> None:
    project = read_project(PROJECT_DIR)
    with pytest.raises(StackFileError, match="stacks in this project: dev, prod, staging"):
        read_stack(project, "qa")


def test_a_directory_without_pulumi_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackFileError, match=r"no Pulumi\.yaml"):
        read_project(tmp_path)


def test_capture_restores_the_sdks_source_positions() -> None:
    """The capture skips the SDK's per-resource stack walk, and only while it runs."""
    import pulumi.runtime.resource as pulumi_resource  # noqa: PLC0415

    original = pulumi_resource._get_stack_trace
    seen: list[object] = []

    def program() -> None:
        seen.append(pulumi_resource._get_stack_trace)

    capture_program(program)
    assert seen and seen[0] is not original
    assert pulumi_resource._get_stack_trace is original


def test_a_second_resource_with_the_same_urn_is_refused_as_the_engine_does() -> None:
    import pulumi_random as random  # noqa: PLC0415

    def build() -> None:
        random.RandomPassword("same", length=16)
        random.RandomPassword("same", length=20)

    with pytest.raises(Exception, match="Duplicate resource URN") as caught:
        capture_program(build, stack="test")
    assert "random:index/randomPassword:RandomPassword::same" in str(caught.value)


def test_no_stack_registers_a_urn_twice(plan: Plan) -> None:
    urns = [r.urn for r in plan.resources]
    assert len(urns) == len(set(urns))
