"""Names as the pulumi-aws bridge and the Terraform provider make and refuse them.

Facts live in ``blueprint/fidelity/provider_facts.json``; the mocks and the local deploy apply
them, so a name AWS would never see fails offline with the bridge's own words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pulumi_aws as aws
import pytest

from blueprint.capture import Plan, ResourceError, capture_program
from blueprint.fidelity import FidelityError
from blueprint.fidelity.facts import known_types, raw
from blueprint.local.registry import Ctx
from tests.conftest import STACKS, bootstrap_plan, stack_plan

RG = "aws:elasticache/replicationGroup:ReplicationGroup"


def failure(program: Callable[[], object]) -> str:
    with pytest.raises(ResourceError) as caught:
        capture_program(cast(Callable[[], None], program))
    return str(caught.value)


def captured(program: Callable[[], object]) -> Plan:
    return capture_program(cast(Callable[[], None], program))


def test_every_aws_type_the_stacks_register_has_an_entry() -> None:
    plans = [*(stack_plan(s) for s in STACKS), *(bootstrap_plan(s) for s in STACKS)]
    used = {r.type for p in plans for r in p.resources if r.type.startswith("aws:")}
    assert used - known_types() == set()


def test_every_entry_states_its_auto_name_rule_or_that_it_has_none() -> None:
    for type_, entry in raw()["types"].items():
        rule = entry["auto_name"]
        assert rule is not None or entry.get("no_auto_name"), type_
        if rule:
            assert {"property", "max_length", "random_length", "separator"} <= set(rule), type_


def test_the_table_records_the_commits_it_was_read_at() -> None:
    sources = raw()["sources"]
    assert sources["pulumi-aws"]["files"]["provider/resource_overrides.go"]
    assert all(len(c) == 40 for c in sources["tf"]["files"].values())


@pytest.mark.parametrize("stack", STACKS)
def test_checked_in_stacks_capture_cleanly_under_the_table(stack: str) -> None:
    assert stack_plan(stack).resources


def test_over_long_replication_group_auto_name_fails_like_the_bridge() -> None:
    logical = "feature-platform-online-store-group"  # 35 characters, no replication_group_id
    message = failure(
        lambda: aws.elasticache.ReplicationGroup(
            logical, description="d", node_type="cache.t4g.micro"
        )
    )
    assert f"{RG}::{logical}" in message
    assert "replicationGroupId" in message
    assert f"name '{logical}-' plus 7 random chars is longer than maximum length 40" in message


def test_replication_group_auto_name_is_lowercased_and_suffixed() -> None:
    plan = captured(
        lambda: aws.elasticache.ReplicationGroup(
            "Online-Store", description="d", node_type="cache.t4g.micro"
        )
    )
    group_id = plan.of_type(RG)[0].outputs["replicationGroupId"]
    assert group_id.startswith("online-store-") and len(group_id) == len("online-store-") + 7


def test_bucket_auto_name_is_lowercased_and_capped_at_63() -> None:
    plan = captured(lambda: aws.s3.Bucket("Logs"))
    assert plan.of_type("aws:s3/bucket:Bucket")[0].outputs["bucket"].startswith("logs-")
    message = failure(lambda: aws.s3.Bucket("b" * 56))
    assert "plus 7 random chars is longer than maximum length 63" in message


def test_kms_alias_auto_name_gets_the_alias_prefix() -> None:
    plan = captured(lambda: aws.kms.Alias("data", target_key_id="1234abcd-12ab-34cd-56ef"))
    assert plan.of_type("aws:kms/alias:Alias")[0].outputs["name"].startswith("alias/data-")


def test_auto_name_the_bridge_allows_but_the_provider_refuses_fails() -> None:
    # pulumi-aws auto-names MSK clusters up to 255; MSK takes 64.
    message = failure(
        lambda: aws.msk.Cluster(
            "c" * 60,
            kafka_version="3.8.x",
            number_of_broker_nodes=3,
            broker_node_group_info=cast(
                Any, {"instance_type": "kafka.m7g.large", "client_subnets": ["s"]}
            ),
        )
    )
    assert "'clusterName'" in message and "outside 1..64" in message


@pytest.mark.parametrize(
    ("build", "prop", "rule"),
    [
        (lambda: aws.s3.Bucket("b", bucket="My_Bucket"), "'bucket'", "must match"),
        (lambda: aws.s3.Bucket("b", bucket="xn--bucket"), "'bucket'", "reserved prefix"),
        (lambda: aws.s3.Bucket("b", bucket="a..b"), "'bucket'", "adjacent periods"),
        (lambda: aws.s3.Bucket("b", bucket="192.168.1.1"), "'bucket'", "IP address"),
        (lambda: aws.iam.Role("r", name="r" * 65, assume_role_policy="{}"), "'name'", "1..64"),
        (lambda: aws.kms.Alias("a", name="alias/aws/x", target_key_id="k"), "'name'", "alias/aws"),
        (lambda: aws.kms.Alias("a", name="data", target_key_id="k"), "'name'", "alias/"),
        (lambda: aws.cloudwatch.LogGroup("l", name="has space"), "'name'", "must match"),
        (
            lambda: aws.eks.Cluster(
                "e",
                name="-bad",
                role_arn="arn:aws:iam::123456789012:role/r",
                vpc_config={"subnet_ids": []},
            ),
            "'name'",
            "must match",
        ),
        (
            lambda: aws.elasticache.ReplicationGroup(
                "g", replication_group_id="a--b", description="d", node_type="cache.t4g.micro"
            ),
            "'replicationGroupId'",
            "consecutive hyphens",
        ),
    ],
)
def test_invalid_explicit_names_fail_naming_property_and_rule(
    build: Callable[[], Any], prop: str, rule: str
) -> None:
    message = failure(build)
    assert "urn:pulumi:" in message and prop in message and rule in message


def test_valid_explicit_names_pass() -> None:
    def program() -> None:
        aws.s3.Bucket("b", bucket="feature-platform-logs-1")
        aws.iam.Role("r", name="r" * 64, assume_role_policy="{}")
        aws.kms.Alias("a", name="alias/feature-platform-data", target_key_id="k")
        aws.cloudwatch.LogGroup("l", name="/aws/eks/feature-platform-dev/cluster")

    assert len(captured(program).resources) == 4


def _ctx(type_: str, name: str, **inputs: Any) -> Ctx:
    return Ctx(cast(Any, None), type_, name, inputs, "eu-central-1", "123456789012", {}, "dev")


def test_local_deploy_names_with_the_same_table() -> None:
    assert _ctx(RG, "Store").physical_name("replicationGroupId").startswith("store-")
    with pytest.raises(FidelityError, match="longer than maximum length 40"):
        _ctx(RG, "feature-platform-online-store-group").physical_name("replicationGroupId")
    assert _ctx(RG, "x", replicationGroupId="given").physical_name("replicationGroupId") == "given"
