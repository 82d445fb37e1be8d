"""The local deploy: the program's resources really exist in moto, with moto's IDs wired back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pulumi
import pulumi_aws as aws
import pytest
from moto import mock_aws

from blueprint.audit.model import AuditContext, Status
from blueprint.audit.runner import run_audit
from blueprint.capture import RecordingMonitor, ResourceError, capture_program
from blueprint.local.engine import LocalDeploy, MotoMocks, deploy
from blueprint.local.target import MOTO_CONFIG, AwsTarget
from components.provider import REQUIRED_TAG_KEYS
from components.secrets import SAFE_SPECIAL_CHARACTERS
from tests.conftest import PROJECT_DIR, stack_config

pytestmark = pytest.mark.moto

REGION = "eu-central-1"


@pytest.fixture(scope="module")
def deployed() -> Iterator[LocalDeploy]:
    with mock_aws(config=MOTO_CONFIG):
        yield deploy(PROJECT_DIR, "dev", AwsTarget(region=REGION))


def _client(deployed: LocalDeploy, service: str) -> object:
    return deployed.target.client(service)


# What moto does not model (or, for a rotation schedule, cannot run without Docker), and the
# Kubernetes layer, which needs a cluster API: these come from the offline mocks instead.
SIMULATED_TYPES = {
    "aws:eks/addon:Addon",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:msk/configuration:Configuration",
    "aws:msk/topic:Topic",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:lambda/function:Function",
    "aws:lambda/permission:Permission",
    "aws:secretsmanager/secretRotation:SecretRotation",
}


def test_every_aws_resource_was_created_in_moto_or_reported_simulated(
    deployed: LocalDeploy,
) -> None:
    aws_resources = {
        (r.type, r.name) for r in deployed.plan.resources if r.custom and r.type.startswith("aws:")
    }
    simulated = set(deployed.outcome.simulated)
    assert set(deployed.outcome.created) == {
        r for r in aws_resources if r[0] not in SIMULATED_TYPES
    }
    assert {t for t, _ in simulated if t.startswith("aws:")} == SIMULATED_TYPES
    assert {t for t, _ in simulated if not t.startswith("aws:")} == {
        t for t, _ in simulated if t.startswith("kubernetes:")
    }
    assert deployed.outcome.local == [
        ("random:index/randomPassword:RandomPassword", "feature-platform-online-store-auth-value")
    ]


def test_outputs_are_moto_identifiers(deployed: LocalDeploy) -> None:
    ec2 = deployed.target.client("ec2")
    outputs = deployed.plan.outputs
    (vpc,) = ec2.describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"]
    assert vpc["CidrBlock"] == stack_config("dev").network.cidr
    subnets = ec2.describe_subnets(SubnetIds=outputs["data_subnet_ids"])["Subnets"]
    assert {s["VpcId"] for s in subnets} == {outputs["vpc_id"]}
    kms = deployed.target.client("kms")
    assert (
        kms.describe_key(KeyId=outputs["data_key_arn"])["KeyMetadata"]["Arn"]
        == outputs["data_key_arn"]
    )
    assert outputs["data_key_arn"].startswith("arn:aws:kms:eu-central-1:111111111111:key/")


def test_default_tags_reach_every_tagged_resource(deployed: LocalDeploy) -> None:
    ec2 = deployed.target.client("ec2")
    (vpc,) = ec2.describe_vpcs(VpcIds=[deployed.plan.outputs["vpc_id"]])["Vpcs"]
    tags = {t["Key"]: t["Value"] for t in vpc["Tags"]}
    assert all(tags.get(key) for key in REQUIRED_TAG_KEYS)
    bucket = deployed.plan.outputs["registry_bucket"]
    s3_tags = deployed.target.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert {t["Key"] for t in s3_tags} >= set(REQUIRED_TAG_KEYS)


def test_network_isolation_holds_in_moto(deployed: LocalDeploy) -> None:
    ec2 = deployed.target.client("ec2")
    vpc_id = deployed.plan.outputs["vpc_id"]
    for subnet_id in deployed.plan.outputs["data_subnet_ids"]:
        (table,) = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
        )["RouteTables"]
        assert not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in table["Routes"]), (
            subnet_id
        )
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "SecurityGroups"
    ]
    default = next(g for g in groups if g["GroupName"] == "default")
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []
    endpoints_sg = next(g for g in groups if g["Description"].startswith("Interface VPC"))
    (rule,) = endpoints_sg["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (443, 443)
    assert [r["CidrIp"] for r in rule["IpRanges"]] == [stack_config("dev").network.cidr]
    assert endpoints_sg["IpPermissionsEgress"] == []
    (flow_log,) = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])[
        "FlowLogs"
    ]
    assert flow_log["TrafficType"] == "ALL"


def test_only_the_node_group_reaches_the_data_ports_in_moto(deployed: LocalDeploy) -> None:
    """Every rule admitting 6379 or 9098, as EC2 reports it, names a group, never a CIDR."""
    ec2 = deployed.target.client("ec2")
    node_sg = deployed.plan.outputs["node_security_group_id"]
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [deployed.plan.outputs["vpc_id"]]}]
    )["SecurityGroups"]
    sources: dict[int, set[str]] = {6379: set(), 9098: set()}
    for group in groups:
        for rule in group["IpPermissions"]:
            ports = range(rule.get("FromPort", 0), rule.get("ToPort", 65535) + 1)
            for port in sources:
                if port in ports and rule.get("IpProtocol") in {"tcp", "-1"}:
                    assert not rule.get("IpRanges") and not rule.get("Ipv6Ranges"), group
                    names = {p["GroupId"] for p in rule.get("UserIdGroupPairs", [])}
                    # A group admitting its own members (brokers replicating) is not a client.
                    sources[port] |= names - {group["GroupId"]}
    rotation = next(g["GroupId"] for g in groups if "rotation" in g["GroupName"])
    assert sources == {6379: {node_sg, rotation}, 9098: {node_sg}}


def test_buckets_are_configured_in_moto(deployed: LocalDeploy) -> None:
    s3 = deployed.target.client("s3")
    bucket = deployed.plan.outputs["offline_store_bucket"]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert (
        rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        == deployed.plan.outputs["data_key_arn"]
    )
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    logging = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
    assert logging["TargetBucket"] == deployed.plan.outputs["access_logs_bucket"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert {r["ID"] for r in lifecycle} >= {"expire-noncurrent-versions", "intelligent-tiering"}


def test_the_secret_holds_a_generated_token_valid_for_elasticache(deployed: LocalDeploy) -> None:
    secrets = deployed.target.client("secretsmanager")
    arn = deployed.plan.outputs["online_store_auth_secret_arn"]
    described = secrets.describe_secret(SecretId=arn)
    assert described["KmsKeyId"].startswith("arn:aws:kms:")
    token = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])["password"]
    assert len(token) == 64
    allowed = set(SAFE_SPECIAL_CHARACTERS) | {c for c in token if c.isalnum()}
    assert set(token) <= allowed


def test_workload_roles_exist_with_their_inline_policies(deployed: LocalDeploy) -> None:
    iam = deployed.target.client("iam")
    for workload, arn in deployed.plan.outputs["workload_role_arns"].items():
        name = arn.rsplit("/", 1)[-1]
        assert iam.get_role(RoleName=name)["Role"]["Arn"] == arn, workload
        assert len(iam.list_role_policies(RoleName=name)["PolicyNames"]) == 1


def test_an_aws_side_error_names_the_resource_urn() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        first = aws.ec2.Subnet(
            "first", vpc_id=vpc.id, cidr_block="10.0.0.0/24", availability_zone="eu-central-1a"
        )
        aws.ec2.Subnet(
            "overlapping",
            vpc_id=vpc.id,
            cidr_block="10.0.0.0/25",
            availability_zone="eu-central-1a",
            opts=pulumi.ResourceOptions(depends_on=[first]),
        )

    with mock_aws(config=MOTO_CONFIG):
        mocks = MotoMocks(AwsTarget(region=REGION), "test")
        with pytest.raises(ResourceError) as caught:
            capture_program(program, monitor=RecordingMonitor(mocks))
    assert caught.value.urn.endswith("aws:ec2/subnet:Subnet::overlapping")
    assert "InvalidSubnet.Conflict" in str(caught.value)


def test_types_moto_cannot_create_are_reported_as_simulated() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        aws.ec2.NetworkAcl("acl", vpc_id=vpc.id)

    with mock_aws(config=MOTO_CONFIG):
        mocks = MotoMocks(AwsTarget(region=REGION), "test")
        capture_program(program, monitor=RecordingMonitor(mocks))
    assert mocks.outcome.simulated == [("aws:ec2/networkAcl:NetworkAcl", "acl")]
    assert mocks.outcome.created == [("aws:ec2/vpc:Vpc", "vpc")]


def test_translators_the_platform_does_not_use_yet_create_real_resources() -> None:
    """SNS topics, alarms, managed policies and their attachments, egress rules, inline SG rules."""

    def program() -> None:
        key = aws.kms.Key("key", description="alarms")
        topic = aws.sns.Topic("alerts", kms_master_key_id=key.arn)
        aws.cloudwatch.MetricAlarm(
            "freshness",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=3,
            metric_name="FeatureAgeSeconds",
            namespace="FeaturePlatform",
            period=60,
            statistic="Maximum",
            threshold=300,
            alarm_actions=[topic.arn],
            dimensions={"FeatureView": "user_profile"},
        )
        role = aws.iam.Role(
            "role",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"Service": "ec2.amazonaws.com"}}],
            }),
        )  # fmt: skip
        policy = aws.iam.Policy(
            "read",
            policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                               "Resource": "arn:aws:s3:::example"}],
            }),
        )  # fmt: skip
        aws.iam.RolePolicyAttachment("attach", role=role.name, policy_arn=policy.arn)
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        group = aws.ec2.SecurityGroup(
            "sg",
            vpc_id=vpc.id,
            description="inline",
            ingress=[{"protocol": "tcp", "from_port": 6379, "to_port": 6379,
                      "cidr_blocks": ["10.0.0.0/16"]}],
        )  # fmt: skip
        aws.vpc.SecurityGroupEgressRule(
            "egress", security_group_id=group.id, ip_protocol="tcp", from_port=443, to_port=443,
            cidr_ipv4="10.0.0.0/16",
        )  # fmt: skip

    with mock_aws(config=MOTO_CONFIG):
        target = AwsTarget(region=REGION)
        mocks = MotoMocks(target, "test")
        plan = capture_program(program, monitor=RecordingMonitor(mocks))
        assert mocks.outcome.simulated == []
        sns = target.client("sns")
        (topic,) = sns.list_topics()["Topics"]
        attributes = sns.get_topic_attributes(TopicArn=topic["TopicArn"])["Attributes"]
        assert attributes["KmsMasterKeyId"] == plan.named("aws:kms/key:Key", "key").outputs["arn"]
        (alarm,) = target.client("cloudwatch").describe_alarms()["MetricAlarms"]
        assert alarm["AlarmActions"] == [topic["TopicArn"]] and alarm["Threshold"] == 300
        iam = target.client("iam")
        role_name = plan.named("aws:iam/role:Role", "role").id
        (attached,) = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        assert attached["PolicyArn"] == plan.named("aws:iam/policy:Policy", "read").id
        group_id = plan.named("aws:ec2/securityGroup:SecurityGroup", "sg").id
        (group,) = target.client("ec2").describe_security_groups(GroupIds=[group_id])[
            "SecurityGroups"
        ]
        assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in group["IpPermissions"]] == [
            (6379, "10.0.0.0/16")
        ]
        assert [p["FromPort"] for p in group["IpPermissionsEgress"]] == [443]


def test_data_plane_translators_create_what_the_audit_accepts() -> None:
    """EKS, MSK and ElastiCache built the way the platform will build them, created in moto
    through their translators, then judged by the same audit checks as real accounts."""

    def program() -> None:
        tags = {"project": "feature-platform"}
        key = aws.kms.Key("data", description="data", tags=tags)
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=tags)
        subnets = [
            aws.ec2.Subnet(
                f"data-{zone}",
                vpc_id=vpc.id,
                cidr_block=f"10.0.{i}.0/24",
                availability_zone=f"eu-central-1{zone}",
                tags=tags,
            )
            for i, zone in enumerate("abc")
        ]
        group = aws.ec2.SecurityGroup("cache", vpc_id=vpc.id, description="cache", tags=tags)
        cache_subnets = aws.elasticache.SubnetGroup(
            "cache-subnets", subnet_ids=[s.id for s in subnets], tags=tags
        )
        aws.elasticache.ReplicationGroup(
            "online-store",
            description="online store",
            engine="valkey",
            engine_version="8.0",
            node_type="cache.r7g.large",
            num_cache_clusters=2,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            auth_token="a-token-that-is-long-enough-0123456789",
            subnet_group_name=cache_subnets.name,
            security_group_ids=[group.id],
            tags=tags,
        )
        aws.msk.Cluster(
            "events",
            kafka_version="3.6.0",
            number_of_broker_nodes=3,
            broker_node_group_info={
                "instance_type": "kafka.m7g.large",
                "client_subnets": [s.id for s in subnets],
                "security_groups": [group.id],
                "storage_info": {"ebs_storage_info": {"volume_size": 100}},
            },
            encryption_info={
                "encryption_at_rest_kms_key_arn": key.arn,
                "encryption_in_transit": {"client_broker": "TLS", "in_cluster": True},
            },
            client_authentication={"sasl": {"iam": True}, "unauthenticated": False},
            tags=tags,
        )
        cluster = aws.eks.Cluster(
            "cluster",
            role_arn="arn:aws:iam::111111111111:role/cluster",
            vpc_config={"subnet_ids": [s.id for s in subnets], "endpoint_private_access": True,
                        "endpoint_public_access": False},
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
            enabled_cluster_log_types=["api", "audit", "authenticator", "controllerManager",
                                       "scheduler"],
            tags=tags,
        )  # fmt: skip
        aws.eks.NodeGroup(
            "general",
            cluster_name=cluster.name,
            node_role_arn="arn:aws:iam::111111111111:role/node",
            subnet_ids=[s.id for s in subnets],
            scaling_config={"min_size": 1, "max_size": 3, "desired_size": 2},
            tags=tags,
        )

    with mock_aws(config=MOTO_CONFIG):
        target = AwsTarget(region=REGION)
        mocks = MotoMocks(target, "test")
        plan = capture_program(program, monitor=RecordingMonitor(mocks))
        assert mocks.outcome.simulated == []
        store = plan.named("aws:elasticache/replicationGroup:ReplicationGroup", "online-store")
        assert store.outputs["arn"].startswith("arn:aws:elasticache:")
        events = plan.named("aws:msk/cluster:Cluster", "events")
        assert events.outputs["bootstrapBrokersSaslIam"].count(":9098") == 3
        context = AuditContext(target=target, scope={"project": "feature-platform"})
        checks = {
            "EKS.PRIVATE_ENCRYPTED_LOGGED",
            "MSK.TLS_IAM_CMK",
            "ELASTICACHE.TLS_CMK_AUTH_MULTIAZ",
        }
        report = run_audit(context, only=checks)
    assert {f.check for f in report.findings} == checks
    assert all(f.status is Status.PASS for f in report.findings), report.findings
