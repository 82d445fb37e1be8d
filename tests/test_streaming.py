"""MSK: IAM over TLS only, CMK at rest, brokers per AZ, one client SG, topics as code."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from blueprint.capture import Plan, PlannedResource
from components.config.data_stores import StreamingSettings
from components.streaming import (
    ENHANCED_MONITORING,
    JMX_EXPORTER_PORT,
    NODE_EXPORTER_PORT,
    SASL_IAM_PORT,
    STORAGE_DIMENSION,
    STORAGE_METRIC,
    STORAGE_TARGET_UTILIZATION_PERCENT,
    VOLUME_SIZE_PATH,
    Streaming,
    StreamingArgs,
)
from tests.conftest import run_component, stack_config

CLUSTER = "aws:msk/cluster:Cluster"
CONFIGURATION = "aws:msk/configuration:Configuration"
TOPIC = "aws:msk/topic:Topic"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"

VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUBNET_IDS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2", "subnet-0ccccccccccccccc3"]
CLIENT_SG = "sg-0e0e0e0e0e0e0e0e1"
DATA_KEY = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
LOGS_KEY = "arn:aws:kms:eu-central-1:123456789012:key/66666666-7777-8888-9999-000000000000"
MS_PER_HOUR = 3_600_000


def _settings(stack: str, **changes: Any) -> StreamingSettings:
    """The stack's streaming settings, with ``changes`` validated like the stack file."""
    base = stack_config(stack).streaming
    return StreamingSettings.model_validate({**base.model_dump(), **changes})


def _args(stack: str, **changes: Any) -> StreamingArgs:
    config = stack_config(stack)
    az_count = config.network.az_count
    return StreamingArgs(
        cluster_name=f"feature-platform-{stack}",
        settings=_settings(stack, **changes),
        vpc_id=VPC_ID,
        data_subnet_ids=SUBNET_IDS[:az_count],
        az_count=az_count,
        client_security_group_id=CLIENT_SG,
        data_key_arn=DATA_KEY,
        logs_key_arn=LOGS_KEY,
        log_retention_days=config.logging.retention_days,
        protect=config.protection.protect_stateful,
    )


def _program(args: StreamingArgs) -> None:
    streaming = Streaming("streaming", args)
    pulumi.export("cluster_arn", streaming.cluster_arn)
    pulumi.export("bootstrap_brokers", streaming.bootstrap_brokers)
    pulumi.export("security_group_id", streaming.security_group_id)
    pulumi.export("topic_arns", streaming.topic_arns)
    pulumi.export("configuration_arn", streaming.configuration_arn)
    pulumi.export("topic_names", {t: r.name for t, r in streaming.topics.items()})


def _build(args: StreamingArgs) -> Plan:
    return run_component(lambda: _program(args))


_plans: dict[str, Plan] = {}


def _plan(stack: str) -> Plan:
    """The component built from a checked-in stack's settings (built once per session)."""
    if stack not in _plans:
        _plans[stack] = _build(_args(stack))
    return _plans[stack]


@pytest.fixture(params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _cluster(plan: Plan) -> PlannedResource:
    (cluster,) = plan.of_type(CLUSTER)
    return cluster


def _own_sg(plan: Plan) -> PlannedResource:
    return plan.named(SECURITY_GROUP, "-sg")


def _rules(plan: Plan, type_: str) -> set[tuple[str, int, int, str]]:
    """``(protocol, from, to, referenced SG)`` of every rule on the brokers' group."""
    sg = _own_sg(plan)
    found = set()
    for rule in plan.of_type(type_):
        assert rule.inputs["securityGroupId"] == sg.id
        found.add(
            (
                rule.inputs["ipProtocol"],
                rule.inputs["fromPort"],
                rule.inputs["toPort"],
                rule.inputs["referencedSecurityGroupId"],
            )
        )
    return found


def _properties(configuration: PlannedResource) -> dict[str, str]:
    lines = configuration.inputs["serverProperties"].splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip())


# --- Encryption and authentication --------------------------------------------------------


def test_traffic_is_tls_only_between_clients_and_brokers_and_between_brokers(
    stack: str,
) -> None:
    encryption = _cluster(_plan(stack)).inputs["encryptionInfo"]
    assert encryption["encryptionInTransit"] == {"clientBroker": "TLS", "inCluster": True}


def test_clients_authenticate_with_iam_only(stack: str) -> None:
    authentication = _cluster(_plan(stack)).inputs["clientAuthentication"]
    # No anonymous listener, no SCRAM secrets, no client-certificate (mTLS) block.
    assert authentication == {"sasl": {"iam": True, "scram": False}, "unauthenticated": False}
    assert "tls" not in authentication


def test_broker_volumes_are_encrypted_with_the_data_key(stack: str) -> None:
    encryption = _cluster(_plan(stack)).inputs["encryptionInfo"]
    assert encryption["encryptionAtRestKmsKeyArn"] == DATA_KEY


# --- Cluster shape ----------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "per_az"), [("dev", 1), ("prod", 1), ("prod", 2)])
def test_brokers_are_a_multiple_of_the_zones_in_the_data_subnets(stack: str, per_az: int) -> None:
    az_count = stack_config(stack).network.az_count
    plan = _build(_args(stack, brokers_per_az=per_az))
    group = _cluster(plan).inputs["brokerNodeGroupInfo"]
    brokers = _cluster(plan).inputs["numberOfBrokerNodes"]
    assert brokers == per_az * az_count
    assert brokers % len(group["clientSubnets"]) == 0
    assert group["clientSubnets"] == SUBNET_IDS[:az_count]
    assert group["securityGroups"] == [_own_sg(plan).id]


def test_dev_spans_two_zones_and_prod_three() -> None:
    assert _cluster(_plan("dev")).inputs["numberOfBrokerNodes"] == 2
    assert _cluster(_plan("prod")).inputs["numberOfBrokerNodes"] == 3


def test_version_type_and_storage_follow_the_settings(stack: str) -> None:
    settings = stack_config(stack).streaming
    cluster = _cluster(_plan(stack))
    assert cluster.inputs["clusterName"] == f"feature-platform-{stack}"
    assert cluster.inputs["kafkaVersion"] == settings.kafka_version
    group = cluster.inputs["brokerNodeGroupInfo"]
    assert group["instanceType"] == settings.broker_instance_type
    assert group["storageInfo"] == {"ebsStorageInfo": {"volumeSize": settings.volume_size_gib}}
    assert "connectivityInfo" not in group  # no public access


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"az_count": 1}, "az_count 1"),
        ({"az_count": 4}, "az_count 4"),
        ({"cluster_name": "feature_platform"}, "cluster_name"),
        ({"cluster_name": "-feature-platform"}, "cluster_name"),
        ({"cluster_name": "x" * 65}, "cluster_name"),
    ],
)
def test_args_msk_would_reject_fail_before_anything_is_built(
    changes: dict[str, Any], error: str
) -> None:
    fields = {**_args("dev").__dict__, **changes}
    with pytest.raises(ValueError, match=error):
        StreamingArgs(**fields)


# --- Network access ---------------------------------------------------------------------


def test_only_the_client_group_reaches_the_iam_listener(stack: str) -> None:
    plan = _plan(stack)
    sg = _own_sg(plan)
    ingress = _rules(plan, INGRESS)
    assert ("tcp", SASL_IAM_PORT, SASL_IAM_PORT, CLIENT_SG) in ingress
    # Every other source is the brokers' own group (broker to broker).
    for _, low, high, source in ingress:
        assert source in {CLIENT_SG, sg.id}
        if low <= SASL_IAM_PORT <= high:
            assert source == CLIENT_SG or (source == sg.id and (low, high) == (0, 65535))


def test_ingress_is_the_iam_listener_and_broker_to_broker_in_dev() -> None:
    plan = _plan("dev")  # open monitoring off: no exporter port
    sg = _own_sg(plan)
    assert _rules(plan, INGRESS) == {
        ("tcp", SASL_IAM_PORT, SASL_IAM_PORT, CLIENT_SG),
        ("tcp", 0, 65535, sg.id),
    }


def test_exporter_ports_open_to_the_client_group_only_with_open_monitoring() -> None:
    plan = _plan("prod")
    sg = _own_sg(plan)
    assert _rules(plan, INGRESS) == {
        ("tcp", SASL_IAM_PORT, SASL_IAM_PORT, CLIENT_SG),
        ("tcp", JMX_EXPORTER_PORT, NODE_EXPORTER_PORT, CLIENT_SG),
        ("tcp", 0, 65535, sg.id),
    }
    without = _build(_args("prod", open_monitoring=False))
    ports = {(low, high) for _, low, high, _ in _rules(without, INGRESS)}
    assert (JMX_EXPORTER_PORT, NODE_EXPORTER_PORT) not in ports


def test_egress_stays_inside_the_brokers_group(stack: str) -> None:
    plan = _plan(stack)
    assert _rules(plan, EGRESS) == {("tcp", 0, 65535, _own_sg(plan).id)}


def test_no_cidr_and_no_inline_rule_anywhere(stack: str) -> None:
    plan = _plan(stack)
    sg = _own_sg(plan)
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress")
    for rule in plan.of_type(INGRESS) + plan.of_type(EGRESS):
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & rule.inputs.keys(), rule.name
    everything = json.dumps([r.inputs for r in plan.resources])
    assert "0.0.0.0/0" not in everything and "::/0" not in everything


# --- Logs and monitoring ----------------------------------------------------------------


def test_broker_logs_go_to_an_encrypted_group_kept_for_the_configured_days(stack: str) -> None:
    plan = _plan(stack)
    config = stack_config(stack)
    group = plan.named(LOG_GROUP, "-broker-logs")
    assert group.inputs["kmsKeyId"] == LOGS_KEY
    assert group.inputs["retentionInDays"] == config.logging.retention_days
    assert group.inputs["deletionProtectionEnabled"] is config.protection.protect_stateful
    logs = _cluster(plan).inputs["loggingInfo"]["brokerLogs"]
    assert logs == {"cloudwatchLogs": {"enabled": True, "logGroup": group.outputs["name"]}}


def test_enhanced_monitoring_publishes_per_partition_consumer_lag(stack: str) -> None:
    assert ENHANCED_MONITORING == "PER_TOPIC_PER_PARTITION"
    assert _cluster(_plan(stack)).inputs["enhancedMonitoring"] == "PER_TOPIC_PER_PARTITION"


@pytest.mark.parametrize(("stack", "enabled"), [("dev", False), ("prod", True)])
def test_open_monitoring_follows_the_config(stack: str, enabled: bool) -> None:
    assert stack_config(stack).streaming.open_monitoring is enabled
    prometheus = _cluster(_plan(stack)).inputs["openMonitoring"]["prometheus"]
    assert prometheus == {
        "jmxExporter": {"enabledInBroker": enabled},
        "nodeExporter": {"enabledInBroker": enabled},
    }


# --- Storage autoscaling ----------------------------------------------------------------


def _check_autoscaling(plan: Plan, max_gib: int) -> None:
    cluster = _cluster(plan)
    (target,) = plan.of_type(SCALING_TARGET)
    assert target.inputs["serviceNamespace"] == "kafka"
    assert target.inputs["scalableDimension"] == STORAGE_DIMENSION
    assert target.inputs["resourceId"] == cluster.outputs["arn"]
    assert target.inputs["minCapacity"] == 1
    assert target.inputs["maxCapacity"] == max_gib
    (policy,) = plan.of_type(SCALING_POLICY)
    assert policy.inputs["policyType"] == "TargetTrackingScaling"
    assert policy.inputs["resourceId"] == cluster.outputs["arn"]
    assert policy.inputs["scalableDimension"] == "kafka:broker-storage:VolumeSize"
    assert policy.inputs["serviceNamespace"] == "kafka"
    assert target.urn in policy.depends_on
    tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"] == {
        "predefinedMetricType": STORAGE_METRIC,
    }
    assert STORAGE_METRIC == "KafkaBrokerStorageUtilization"
    assert tracking["targetValue"] == STORAGE_TARGET_UTILIZATION_PERCENT == 60
    assert tracking["disableScaleIn"] is True  # MSK storage never shrinks


def test_prod_storage_grows_up_to_the_configured_ceiling() -> None:
    settings = stack_config("prod").streaming
    assert settings.storage_autoscaling
    _check_autoscaling(_plan("prod"), settings.max_volume_size_gib)


def test_dev_storage_is_fixed_unless_a_ceiling_is_configured() -> None:
    assert not stack_config("dev").streaming.storage_autoscaling
    plan = _plan("dev")
    assert plan.of_type(SCALING_TARGET) == [] and plan.of_type(SCALING_POLICY) == []
    _check_autoscaling(_build(_args("dev", max_volume_size_gib=400)), 400)


def test_prod_without_a_ceiling_gets_no_autoscaling() -> None:
    plan = _build(_args("prod", max_volume_size_gib=stack_config("prod").streaming.volume_size_gib))
    assert plan.of_type(SCALING_TARGET) == [] and plan.of_type(SCALING_POLICY) == []


@pytest.mark.parametrize(
    ("stack", "changes", "ignored"),
    [
        ("prod", {}, [VOLUME_SIZE_PATH]),
        ("dev", {}, []),
        ("dev", {"max_volume_size_gib": 400}, [VOLUME_SIZE_PATH]),
    ],
)
def test_pulumi_leaves_the_volume_size_to_the_autoscaler(
    stack: str, changes: dict[str, Any], ignored: list[str]
) -> None:
    args = _args(stack, **changes)
    cluster = _cluster(_build(args))
    assert cluster.ignore_changes == ignored
    # The path names the property as the engine sees it (camelCase, nested objects).
    node: Any = cluster.inputs
    for key in VOLUME_SIZE_PATH.split("."):
        node = node[key]
    assert node == args.settings.volume_size_gib


# --- Broker configuration ---------------------------------------------------------------


@pytest.mark.parametrize(("stack", "replicas", "min_isr"), [("dev", 2, 1), ("prod", 3, 2)])
def test_broker_defaults_keep_acknowledged_writes(stack: str, replicas: int, min_isr: int) -> None:
    properties = _properties(_plan(stack).named(CONFIGURATION, "-config"))
    assert properties["default.replication.factor"] == str(replicas)
    assert properties["min.insync.replicas"] == str(min_isr)
    assert properties["offsets.topic.replication.factor"] == str(replicas)
    assert properties["transaction.state.log.replication.factor"] == str(replicas)
    assert properties["transaction.state.log.min.isr"] == str(min_isr)
    assert properties["auto.create.topics.enable"] == "false"
    assert properties["unclean.leader.election.enable"] == "false"
    assert (
        int(properties["num.partitions"]) % _cluster(_plan(stack)).inputs["numberOfBrokerNodes"]
        == 0
    )


def test_configuration_fits_every_kafka_version_so_upgrades_never_replace_it(
    stack: str,
) -> None:
    plan = _plan(stack)
    configuration = plan.named(CONFIGURATION, "-config")
    assert "kafkaVersions" not in configuration.inputs
    assert _cluster(plan).inputs["configurationInfo"] == {
        "arn": configuration.outputs["arn"],
        "revision": configuration.outputs["latestRevision"],
    }


def test_a_version_upgrade_changes_only_the_cluster() -> None:
    before, after = _plan("prod"), _build(_args("prod", kafka_version="3.9.x"))
    assert _cluster(after).inputs["kafkaVersion"] == "3.9.x"
    old = before.named(CONFIGURATION, "-config").inputs
    assert after.named(CONFIGURATION, "-config").inputs == old


# --- Topics -----------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "replicas", "min_isr"), [("dev", 2, 1), ("prod", 3, 2)])
def test_topics_are_code_with_their_partitions_replicas_and_retention(
    stack: str, replicas: int, min_isr: int
) -> None:
    plan = _plan(stack)
    cluster = _cluster(plan)
    settings = stack_config(stack).streaming
    topics = {t.inputs["name"]: t for t in plan.of_type(TOPIC)}
    assert set(topics) == set(settings.topics)
    for name, wanted in settings.topics.items():
        topic = topics[name]
        assert topic.inputs["clusterArn"] == cluster.outputs["arn"]
        assert topic.inputs["partitionCount"] == wanted.partitions
        assert topic.inputs["replicationFactor"] == replicas
        assert json.loads(topic.inputs["configs"]) == {
            "retention.ms": str(wanted.retention_hours * MS_PER_HOUR),
            "min.insync.replicas": str(min_isr),
            "cleanup.policy": "delete",
        }
        assert topic.depends_on == [cluster.urn]


def test_feature_events_are_kept_a_week() -> None:
    topic = next(t for t in _plan("prod").of_type(TOPIC) if t.inputs["name"] == "feature-events")
    assert json.loads(topic.inputs["configs"])["retention.ms"] == str(7 * 24 * MS_PER_HOUR)


# --- Protection, naming, outputs --------------------------------------------------------


def test_prod_protects_and_retains_the_cluster_and_its_topics() -> None:
    for plan, protected in ((_plan("prod"), True), (_plan("dev"), False)):
        for resource in [_cluster(plan), *plan.of_type(TOPIC)]:
            assert resource.protect is protected, resource.name
            assert resource.retain_on_delete is protected, resource.name


def test_a_fixed_name_cluster_is_replaced_delete_first(stack: str) -> None:
    """client_subnets is ForceNew and the name is fixed: a replacement cannot create the new
    cluster beside the old one (ADR 0012); `blueprint check` blocks it unless allowed."""
    cluster = _cluster(_plan(stack))
    assert cluster.inputs["clusterName"] and cluster.delete_before_replace


def test_children_are_named_after_the_component_and_parented_to_it(stack: str) -> None:
    plan = _plan(stack)
    (component,) = plan.of_type("featureplatform:data:Streaming")
    children = plan.children(component)
    assert {r.urn for r in children} == {r.urn for r in plan.resources if r.custom}
    assert all(r.name.startswith("streaming-") for r in children)


def test_outputs_name_the_iam_listener_and_every_topic(stack: str) -> None:
    plan = _plan(stack)
    cluster = _cluster(plan)
    outputs = plan.outputs
    assert outputs["cluster_arn"] == cluster.outputs["arn"]
    assert outputs["bootstrap_brokers"] == cluster.outputs["bootstrapBrokersSaslIam"]
    assert all(h.endswith(f":{SASL_IAM_PORT}") for h in outputs["bootstrap_brokers"].split(","))
    assert outputs["security_group_id"] == _own_sg(plan).id
    assert outputs["configuration_arn"] == plan.named(CONFIGURATION, "-config").outputs["arn"]
    arns = {t.inputs["name"]: t.outputs["arn"] for t in plan.of_type(TOPIC)}
    assert outputs["topic_arns"] == arns
    assert set(outputs["topic_names"]) == set(stack_config(stack).streaming.topics)
