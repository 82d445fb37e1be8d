"""The composed platform: one tagged provider for everything, protection, outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blueprint.capture import Plan, PlannedResource, capture
from components.platform import WORKLOADS
from components.provider import REQUIRED_TAG_KEYS, default_tags
from tests.conftest import PROJECT_DIR, run_component, stack_config, stack_document

STATEFUL = (
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    "aws:eks/cluster:Cluster",
    "aws:msk/cluster:Cluster",
    "aws:msk/topic:Topic",
    "aws:elasticache/replicationGroup:ReplicationGroup",
)
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DATA_PORTS = (6379, 9098)


def _admits(rule: PlannedResource, port: int) -> bool:
    if rule.inputs["ipProtocol"] == "-1":
        return True
    return bool(rule.inputs["fromPort"] <= port <= rule.inputs["toPort"])


def test_no_ingress_rule_anywhere_is_open_to_the_world(plan: Plan) -> None:
    rules = plan.of_type(INGRESS)
    assert rules
    for rule in rules:
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0", rule.name
        assert rule.inputs.get("cidrIpv6") != "::/0", rule.name
    for group in plan.of_type(SECURITY_GROUP):
        # Rules live in their own resources; an inline rule would escape this check.
        assert not group.inputs.get("ingress"), group.name


def test_only_the_node_security_group_reaches_the_data_ports(plan: Plan) -> None:
    node_sg = plan.outputs["node_security_group_id"]
    rotation_sg = plan.named(SECURITY_GROUP, "-online-store-rotation-sg").id
    allowed = {6379: {node_sg, rotation_sg}, 9098: {node_sg}}
    for port in DATA_PORTS:
        sources = set()
        for rule in plan.of_type(INGRESS):
            if not _admits(rule, port):
                continue
            source = rule.inputs.get("referencedSecurityGroupId")
            assert source, (rule.name, "a data port is never opened to a CIDR")
            if source != rule.inputs["securityGroupId"]:  # a group's own members
                sources.add(source)
        assert sources <= allowed[port], (port, sources)
        assert node_sg in sources, port


def test_the_kubernetes_layer_uses_a_provider_built_from_the_cluster(plan: Plan) -> None:
    (provider,) = plan.of_type("pulumi:providers:kubernetes")
    cluster = plan.named("aws:eks/cluster:Cluster", "-eks")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster.outputs["endpoint"]
    # It waits for the deployer's cluster-admin access; before that every call is refused.
    associations = plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert {a.urn for a in associations} <= set(provider.depends_on)
    kubernetes = [r for r in plan.resources if r.custom and r.type.startswith("kubernetes:")]
    assert kubernetes
    assert {r.provider_urn for r in kubernetes} == {provider.urn}


def test_the_kubernetes_layer_can_be_left_for_a_run_inside_the_vpc(
    write_stack: Callable[[str, Callable[[dict[str, Any]], None]], Path],
) -> None:
    def aws_layer_only(values: dict[str, Any]) -> None:
        values["feature-platform:kubernetes"] = {"apply": False}

    plan = capture(PROJECT_DIR, "prod", stack_file=write_stack("prod", aws_layer_only))
    assert not [
        r for r in plan.resources if r.type.startswith(("kubernetes:", "pulumi:providers:kub"))
    ]
    assert plan.of_type("aws:eks/cluster:Cluster")


def test_one_aws_provider_with_region_account_and_deployer_role(plan: Plan) -> None:
    config = stack_config(plan.stack)
    (provider,) = plan.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == config.aws.region
    assert json.loads(provider.inputs["allowedAccountIds"]) == [config.aws.account_id]
    # The stacks run as the pipeline job's role (aws.credentials: ambient): nothing assumed.
    assert config.aws.credentials.value == "ambient"
    assert not json.loads(provider.inputs.get("assumeRoles") or "[]")


def test_ambient_credentials_change_the_providers_and_nothing_the_program_builds() -> None:
    """The pipelines' setting: the provider assumes nothing (the job holds its role already),
    the account pin stays, the kubeconfig's token assumes nothing, and every resource the
    program builds is built exactly as with the default."""
    from components.config.models import Credentials  # noqa: PLC0415
    from components.platform import FeaturePlatform  # noqa: PLC0415

    ambient = stack_config("dev")
    base = ambient.model_copy(
        update={"aws": ambient.aws.model_copy(update={"credentials": Credentials.ASSUME})}
    )

    def build(config: Any) -> Plan:
        def program() -> None:
            FeaturePlatform("feature-platform", config)

        return run_component(program, stack="dev")

    assumed_plan, ambient_plan = build(base), build(ambient)
    (assumed_provider,) = assumed_plan.of_type("pulumi:providers:aws")
    (ambient_provider,) = ambient_plan.of_type("pulumi:providers:aws")
    (assume,) = json.loads(assumed_provider.inputs["assumeRoles"])
    assert assume["roleArn"] == base.aws.assume_role_arn
    assert not json.loads(ambient_provider.inputs.get("assumeRoles") or "[]")
    assert json.loads(ambient_provider.inputs["allowedAccountIds"]) == [ambient.aws.account_id]
    (k8s,) = ambient_plan.of_type("pulumi:providers:kubernetes")
    token = json.loads(k8s.inputs["kubeconfig"])["users"][0]["user"]["exec"]["args"]
    assert "--role-arn" not in token

    def built(plan: Plan) -> dict[str, Any]:
        return {r.urn: r.inputs for r in plan.resources if not r.type.startswith("pulumi:")}

    assert built(assumed_plan) == built(ambient_plan)


def test_default_tags_carry_every_required_key_with_a_value(plan: Plan) -> None:
    config = stack_config(plan.stack)
    (provider,) = plan.of_type("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert all(tags.get(key) for key in REQUIRED_TAG_KEYS)
    assert tags["environment"] == plan.stack
    assert tags["data-classification"] == config.tags.data_classification.value
    assert tags["managed-by"] == "pulumi"


def test_extra_tags_cannot_override_required_ones() -> None:
    config = stack_config(
        "dev",
        tags={
            "owner": "a",
            "costCenter": "b",
            "dataClassification": "internal",
            "extra": {"environment": "prod", "team": "x"},
        },
    )
    tags = default_tags(config)
    assert tags["environment"] == "dev" and tags["team"] == "x"


def test_every_aws_resource_uses_the_tagged_provider(plan: Plan) -> None:
    (provider,) = plan.of_type("pulumi:providers:aws")
    aws_resources = [r for r in plan.resources if r.custom and r.type.startswith("aws:")]
    assert aws_resources
    offenders = [r.name for r in aws_resources if r.provider_urn != provider.urn]
    assert offenders == []


def test_default_providers_are_disabled_in_every_stack_file(plan: Plan) -> None:
    disabled = stack_document(plan.stack)["config"]["pulumi:disable-default-providers"]
    assert {"aws", "kubernetes"} <= set(disabled)


def test_stateful_resources_are_protected_exactly_in_prod(dev: Plan, prod: Plan) -> None:
    for type_ in STATEFUL:
        assert all(r.protect and r.retain_on_delete for r in prod.of_type(type_)), type_
        assert not any(r.protect or r.retain_on_delete for r in dev.of_type(type_)), type_
    # Protection is for stateful resources only: networking stays replaceable.
    assert not any(r.protect for r in prod.of_type("aws:ec2/subnet:Subnet"))


def test_components_use_their_type_tokens_and_children_their_names(plan: Plan) -> None:
    components = [r for r in plan.resources if not r.custom]
    assert all(r.type.startswith("featureplatform:") for r in components)
    for component in components:
        for child in plan.children(component):
            assert child.name.startswith(f"{component.name}-"), (component.name, child.name)


def test_stack_outputs_carry_real_looking_identifiers(plan: Plan) -> None:
    outputs = plan.outputs
    assert outputs["vpc_id"].startswith("vpc-")
    assert len(outputs["private_subnet_ids"]) == stack_config(plan.stack).network.az_count
    assert outputs["data_key_arn"].startswith("arn:aws:kms:eu-central-1:")
    assert set(outputs["workload_role_arns"]) == set(WORKLOADS)
    assert outputs["kafka_bootstrap_brokers"].endswith(":9098")
    assert outputs["cluster_endpoint"].startswith("https://")
    for topic in ("page_topic_arn", "ticket_topic_arn"):
        assert outputs[topic].startswith(
            f"arn:aws:sns:eu-central-1:{plan.outputs['data_key_arn'].split(':')[4]}:"
        )
    assert outputs["prometheus_remote_write_url"].startswith("https://aps-workspaces.eu-central-1.")
    assert outputs["prometheus_remote_write_url"].endswith("/api/v1/remote_write")


def test_nodes_and_their_volumes_carry_the_platform_tags(plan: Plan) -> None:
    expected = default_tags(stack_config(plan.stack))
    templates = plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert templates
    for template in templates:
        specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
        assert set(specs) == {"instance", "volume"}
        for tags in specs.values():
            assert expected.items() <= tags.items(), template.name
