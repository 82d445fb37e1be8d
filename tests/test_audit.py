"""The read-only conformance audit, run against moto.

For every registered check: a compliant resource passes, each distinct misconfiguration
fails with its own message, and resources outside the scope (the ``project`` tag) are never
judged. A denied or failing AWS call makes a check "not checked", never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, cast

import boto3
import botocore.loaders
import botocore.session
import pytest
import yaml
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends
from moto.kms.models import kms_backends
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

from blueprint.audit.model import CHECKS, AuditContext, Finding, Status
from blueprint.audit.runner import DEFAULT_SCOPE, AuditReport, run_audit
from blueprint.local.target import AwsTarget
from components.provider import default_tags
from tests.conftest import STACKS, stack_config

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
ACCOUNT_ID = "123456789012"  # moto's default account
SCOPE = {"project": "feature-platform"}
TAGS = dict(SCOPE)
OTHER_PROJECT = {"project": "someone-else"}

Judged = dict[str, tuple[Status, str]]
"""resource -> (status, detail): everything one check said."""


_per_test: dict[str, Any] = {}
"""The test's own boto3 clients and its CMK (reset per test)."""

_loader = botocore.loaders.create_loader()


@pytest.fixture
def ctx(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditContext]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Speed only, no behaviour: every boto3 session (the audit's included) shares one loader,
    # so the service models are parsed once per run instead of once per session; and moto
    # skips building its catalogue of public AMIs, which no check reads.
    monkeypatch.setattr(botocore.session, "create_loader", lambda *_, **__: _loader)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    _per_test.clear()
    with mock_aws():
        yield AuditContext(target=AwsTarget(region=REGION), scope=dict(SCOPE))
    _per_test.clear()


@pytest.fixture
def aws_managed_policies() -> Iterator[None]:
    """AdministratorAccess & co. exist, as in a real account. moto reads this setting when it
    builds its IAM backends, on the first request of a test; it is opt-in because parsing
    the ~1,300 policies costs seconds each time moto builds or resets those backends."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        yield


def aws(service: str) -> Any:
    """A plain boto3 client, independent of the audit's own clients."""
    if service not in _per_test:
        _per_test[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
    return _per_test[service]


def judged(report: AuditReport, check_id: str) -> Judged:
    """The findings of one check, by resource (each resource judged exactly once)."""
    assert {f.check for f in report.findings} <= {check_id}
    result = {f.resource: (f.status, f.detail) for f in report.findings}
    assert len(result) == len(report.findings), "a resource was judged twice"
    return result


def audit(ctx: AuditContext, check_id: str) -> Judged:
    return judged(run_audit(ctx, only={check_id}), check_id)


def key_values(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_spec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": key_values(tags)}] if tags else []


# --- S3 ----------------------------------------------------------------------------------

AES256 = {"SSEAlgorithm": "AES256"}
ALL_PAB = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)


def bucket(
    name: str,
    tags: dict[str, str] = TAGS,
    *,
    sse: dict[str, str] | None = None,
    statements: list[dict[str, Any]] | None = None,
    public_access_block: dict[str, bool] | None = None,
    versioning: str | None = None,
) -> str:
    s3 = aws("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": key_values(tags)})
    if sse is not None:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": sse}]
            },
        )
    if statements is not None:
        policy = {"Version": "2012-10-17", "Statement": statements}
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    if public_access_block is not None:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=public_access_block)
    if versioning is not None:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    return name


def objects(name: str) -> list[str]:
    return [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]


def deny_plain_http(
    name: str, action: str | list[str] = "s3:*", secure: Any = "false", principal: Any = "*"
) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": principal,
        "Action": action,
        "Resource": objects(name),
        "Condition": {"Bool": {"aws:SecureTransport": secure}},
    }


def service_grant(name: str, service: str, effect: str = "Allow") -> dict[str, Any]:
    return {
        "Sid": "Delivery",
        "Effect": effect,
        "Principal": {"Service": service},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }


def s3_encryption() -> Judged:
    return {
        bucket("kms-cmk", sse={"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": cmk()}): (
            Status.PASS,
            "aws:kms with a CMK",
        ),
        bucket("kms-default-key", sse={"SSEAlgorithm": "aws:kms"}): (
            Status.FAIL,
            "aws:kms without a customer-managed key",
        ),
        bucket(
            "kms-aws-managed-key",
            sse={"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": aws_managed_key()},
        ): (Status.FAIL, "aws:kms without a customer-managed key"),
        bucket("sse-s3", sse=AES256): (Status.FAIL, "AES256 without a customer-managed key"),
        bucket("unencrypted"): (Status.FAIL, "no default encryption"),
    }


def s3_public_access_block() -> Judged:
    three = {**ALL_PAB, "RestrictPublicBuckets": False}
    return {
        bucket("blocked", public_access_block=ALL_PAB): (Status.PASS, ""),
        bucket("three-flags", public_access_block=three): (
            Status.FAIL,
            "off: RestrictPublicBuckets",
        ),
        bucket("no-block"): (
            Status.FAIL,
            "off: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets",
        ),
    }


def s3_versioning() -> Judged:
    return {
        bucket("versioned", versioning="Enabled"): (Status.PASS, "versioning Enabled"),
        bucket("suspended", versioning="Suspended"): (Status.FAIL, "versioning Suspended"),
        bucket("unversioned"): (Status.FAIL, "versioning never enabled"),
    }


def s3_tls_only() -> Judged:
    no_tls = "no Deny on aws:SecureTransport=false"
    return {
        bucket("tls-only", statements=[deny_plain_http("tls-only")]): (Status.PASS, ""),
        bucket(
            "tls-only-aws-principal",
            statements=[deny_plain_http("tls-only-aws-principal", principal={"AWS": "*"})],
        ): (Status.PASS, ""),
        bucket(
            "tls-only-aws-principal-list",
            statements=[deny_plain_http("tls-only-aws-principal-list", principal={"AWS": ["*"]})],
        ): (Status.PASS, ""),
        bucket(
            "tls-only-list-value",
            statements=[deny_plain_http("tls-only-list-value", secure=["false"])],
        ): (Status.PASS, ""),
        bucket("no-policy"): (Status.FAIL, no_tls),
        bucket(
            "denies-tls-instead",
            statements=[deny_plain_http("denies-tls-instead", secure="true")],
        ): (Status.FAIL, no_tls),
        bucket(
            "denies-uploads-only",
            statements=[deny_plain_http("denies-uploads-only", action="s3:PutObject")],
        ): (Status.FAIL, no_tls),
        bucket(
            "denies-one-principal",
            statements=[
                deny_plain_http(
                    "denies-one-principal",
                    principal={"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                )
            ],
        ): (Status.FAIL, no_tls),
    }


# --- KMS, Secrets Manager, CloudWatch Logs -------------------------------------------------


def key(tags: dict[str, str] = TAGS, *, rotation: bool = True, **create: Any) -> str:
    kms = aws("kms")
    kms_tags = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
    arn: str = kms.create_key(Tags=kms_tags, **create)["KeyMetadata"]["Arn"]
    if rotation:
        kms.enable_key_rotation(KeyId=arn)
    return arn


def cmk() -> str:
    """The test's customer-managed key, created once (moto makes an RSA key pair for every
    key, which is slow)."""
    if "cmk" not in _per_test:
        _per_test["cmk"] = key()
    arn: str = _per_test["cmk"]
    return arn


def aws_managed_key(tags: dict[str, str] = TAGS) -> str:
    """A key like aws/secretsmanager. moto models every key as customer-managed (even its
    default ``alias/aws/*`` keys), so the key manager is set on moto's own model."""
    arn = key(tags, rotation=False, Description="Default key")
    kms_backends[ACCOUNT_ID][REGION].keys[arn.rsplit("/", 1)[1]].key_manager = "AWS"
    return arn


def kms_rotation() -> Judged:
    kms = aws("kms")
    # Not judged: keys AWS manages, asymmetric keys, disabled and deleted keys.
    aws_managed_key()
    key(rotation=False, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    disabled = key(rotation=False)
    kms.disable_key(KeyId=disabled.rsplit("/", 1)[1])  # moto: a key id, not an ARN
    deleted = key(rotation=False)
    kms.schedule_key_deletion(KeyId=deleted.rsplit("/", 1)[1], PendingWindowInDays=7)
    return {
        key(): (Status.PASS, ""),
        key(rotation=False): (Status.FAIL, "automatic rotation is off"),
    }


def secret(name: str, tags: dict[str, str] = TAGS, kms_key_id: str | None = None) -> str:
    extra = {"KmsKeyId": kms_key_id} if kms_key_id else {}
    arn: str = aws("secretsmanager").create_secret(
        Name=name, SecretString="s3cr3t", Tags=key_values(tags), **extra
    )["ARN"]
    return arn


def secrets_cmk() -> Judged:
    aws_managed = "AWS-managed key aws/secretsmanager"
    return {
        secret("with-cmk", kms_key_id=cmk()): (Status.PASS, ""),
        secret("default-key"): (Status.FAIL, aws_managed),
        secret("aws-managed-key", kms_key_id=aws_managed_key()): (Status.FAIL, aws_managed),
    }


def rotated_secret(
    name: str,
    tags: dict[str, str] = TAGS,
    *,
    enabled: bool = True,
    rotated: bool = True,
    pending: bool = False,
) -> str:
    """A secret in the state rotation leaves it in (set on moto's model: moto's own
    RotateSecret needs a Lambda it can run)."""
    arn = secret(name, tags)
    model = secretsmanager_backends[ACCOUNT_ID][REGION].secrets[arn]
    assert isinstance(model, FakeSecret)
    model.rotation_requested = model.rotation_enabled = enabled
    model.auto_rotate_after_days = 30
    model.last_rotation_date = 1_764_000_000 if rotated else None
    if pending:
        model.versions["0f7e4c1a-0000-4000-8000-000000000001"] = {
            "createdate": 1_764_000_000,
            "version_id": "0f7e4c1a-0000-4000-8000-000000000001",
            "version_stages": ["AWSPENDING"],
        }
    return arn


def secrets_rotated() -> Judged:
    return {
        rotated_secret("rotated"): (Status.PASS, ""),
        rotated_secret("never-rotated", rotated=False): (
            Status.FAIL,
            "never rotated: the value written at deploy is still current",
        ),
        rotated_secret("not-rotating", enabled=False): (Status.FAIL, "rotation is off"),
        rotated_secret("stuck", pending=True): (
            Status.FAIL,
            "rotation incomplete: AWSPENDING on 0f7e4c1a-0000-4000-8000-000000000001 "
            "(later rotations are refused)",
        ),
    }


def log_group(
    name: str, tags: dict[str, str] = TAGS, *, encrypted: bool = True, retention: int | None = 30
) -> str:
    logs = aws("logs")
    extra = {"kmsKeyId": cmk()} if encrypted else {}
    logs.create_log_group(logGroupName=name, tags=tags, **extra)
    if retention:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention)
    return name


def logs_encryption_retention() -> Judged:
    return {
        log_group("/fp/app"): (Status.PASS, "30 days"),
        log_group("/fp/plain", encrypted=False): (Status.FAIL, "not KMS-encrypted"),
        log_group("/fp/forever", retention=None): (Status.FAIL, "kept forever (no retention)"),
        log_group("/fp/both", encrypted=False, retention=None): (
            Status.FAIL,
            "not KMS-encrypted; kept forever (no retention)",
        ),
    }


# --- VPC -----------------------------------------------------------------------------------


def vpc(tags: dict[str, str] = TAGS, cidr: str = "10.0.0.0/16") -> str:
    vpc_id: str = aws("ec2").create_vpc(CidrBlock=cidr, TagSpecifications=tag_spec("vpc", tags))[
        "Vpc"
    ]["VpcId"]
    return vpc_id


def world(protocol: str = "tcp", port: int | None = 22, v6: bool = False) -> dict[str, Any]:
    ports = {"FromPort": port, "ToPort": port} if port is not None else {}
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": "::/0"}]} if v6 else {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    )
    return {"IpProtocol": protocol, **ports, **ranges}


def security_group(
    name: str,
    vpc_id: str,
    tags: dict[str, str] = TAGS,
    ingress: tuple[dict[str, Any], ...] = (),
) -> str:
    ec2 = aws("ec2")
    group_id: str = ec2.create_security_group(
        GroupName=name,
        Description=name,
        VpcId=vpc_id,
        TagSpecifications=tag_spec("security-group", tags),
    )["GroupId"]
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(ingress))
    return group_id


def ec2_no_world_ingress() -> Judged:
    vpc_id = vpc()
    internal = {
        "IpProtocol": "tcp",
        "FromPort": 443,
        "ToPort": 443,
        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
    }
    return {
        security_group("internal", vpc_id, ingress=(internal,)): (Status.PASS, ""),
        security_group("ssh", vpc_id, ingress=(world(),)): (
            Status.FAIL,
            "open to the world: tcp:22-22",
        ),
        security_group("https-v6", vpc_id, ingress=(world(port=443, v6=True),)): (
            Status.FAIL,
            "open to the world: tcp:443-443",
        ),
        security_group("everything", vpc_id, ingress=(world("-1", port=None),)): (
            Status.FAIL,
            "open to the world: -1:all-all",
        ),
    }


def default_group(vpc_id: str) -> str:
    (group,) = aws("ec2").describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    group_id: str = group["GroupId"]
    return group_id


def default_group_as_aws_creates_it(tags: dict[str, str] = TAGS, cidr: str = "10.0.0.0/16") -> str:
    """AWS's default group: all egress (moto adds that) and ingress from itself."""
    group_id = default_group(vpc(tags, cidr))
    aws("ec2").authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id}]}],
    )
    return group_id


def ec2_default_sg_closed() -> Judged:
    closed = default_group(vpc(cidr="10.1.0.0/16"))
    aws("ec2").revoke_security_group_egress(GroupId=closed, IpPermissions=[world("-1", port=None)])
    return {
        closed: (Status.PASS, ""),
        default_group_as_aws_creates_it(cidr="10.2.0.0/16"): (Status.FAIL, "2 rules"),
    }


def vpc_with_flow_log(traffic: str | None, tags: dict[str, str] = TAGS) -> str:
    vpc_id = vpc(tags)
    if traffic:
        destination = bucket(f"flow-logs-{vpc_id}", tags={})
        aws("ec2").create_flow_logs(
            ResourceIds=[vpc_id],
            ResourceType="VPC",
            TrafficType=traffic,
            LogDestinationType="s3",
            LogDestination=f"arn:aws:s3:::{destination}",
        )
    return vpc_id


def ec2_flow_logs() -> Judged:
    return {
        vpc_with_flow_log("ALL"): (Status.PASS, ""),
        vpc_with_flow_log("REJECT"): (Status.FAIL, "flow logs: REJECT"),
        vpc_with_flow_log(None): (Status.FAIL, "flow logs: none"),
    }


def subnet(tier: str, public_ip: bool, tags: dict[str, str] = TAGS) -> str:
    ec2 = aws("ec2")
    vpc_id = vpc(tags={})
    subnet_id: str = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock="10.0.1.0/24",
        TagSpecifications=tag_spec("subnet", {**tags, "tier": tier}),
    )["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": public_ip})
    return subnet_id


def ec2_no_public_ip_on_launch() -> Judged:
    return {
        subnet("private", public_ip=False): (Status.PASS, "private"),
        subnet("public", public_ip=False): (Status.PASS, "public"),
        subnet("public", public_ip=True): (Status.FAIL, "public subnet assigns public IPs"),
    }


# --- EKS, MSK, ElastiCache ------------------------------------------------------------------

REQUIRED_LOGS = ["api", "audit", "authenticator"]


def eks_cluster(
    name: str,
    tags: dict[str, str] = TAGS,
    *,
    public_cidrs: list[str] | None = None,
    aws_defaults: bool = False,
    encrypted: bool = True,
    logs: list[str] = REQUIRED_LOGS,
    logs_enabled: bool = True,
) -> str:
    """A private API unless ``public_cidrs`` opens the public endpoint to them."""
    endpoint: dict[str, Any] = {"endpointPrivateAccess": True, "endpointPublicAccess": False}
    if public_cidrs is not None:
        endpoint = {"endpointPublicAccess": True, "publicAccessCidrs": public_cidrs}
    if aws_defaults:  # no endpoint settings: AWS makes the endpoint public to 0.0.0.0/0
        endpoint = {}
    encryption = [{"resources": ["secrets"], "provider": {"keyArn": cmk()}}] if encrypted else []
    arn: str = aws("eks").create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-b"], **endpoint},
        encryptionConfig=encryption,
        logging={"clusterLogging": [{"types": logs, "enabled": logs_enabled}]},
        tags=tags,
    )["cluster"]["arn"]
    return arn


def eks_private_encrypted_logged() -> Judged:
    return {
        eks_cluster("private"): (Status.PASS, ""),
        eks_cluster("allowlisted", public_cidrs=["203.0.113.0/24"]): (Status.PASS, ""),
        eks_cluster("open", public_cidrs=["0.0.0.0/0"]): (
            Status.FAIL,
            "public API endpoint open to 0.0.0.0/0",
        ),
        eks_cluster("endpoint-defaults", aws_defaults=True): (
            Status.FAIL,
            "public API endpoint open to 0.0.0.0/0",
        ),
        eks_cluster("plain-secrets", encrypted=False): (
            Status.FAIL,
            "secrets not envelope-encrypted",
        ),
        eks_cluster("api-log-only", logs=["api"]): (
            Status.FAIL,
            "control-plane logs off: audit, authenticator",
        ),
        eks_cluster("logs-disabled", logs_enabled=False): (
            Status.FAIL,
            "control-plane logs off: api, audit, authenticator",
        ),
    }


def msk_cluster(
    name: str,
    key_arn: str | None,
    tags: dict[str, str] = TAGS,
    *,
    client_broker: str = "TLS",
    in_cluster: bool = True,
    iam: bool = True,
    scram: bool | None = None,
    unauthenticated: bool = False,
) -> str:
    at_rest = {"EncryptionAtRest": {"DataVolumeKMSKeyId": key_arn}} if key_arn else {}
    arn: str = aws("kafka").create_cluster(
        ClusterName=name,
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={
            "InstanceType": "kafka.m5.large",
            "ClientSubnets": ["subnet-a", "subnet-b", "subnet-c"],
        },
        EncryptionInfo={
            **at_rest,
            "EncryptionInTransit": {"ClientBroker": client_broker, "InCluster": in_cluster},
        },
        ClientAuthentication={
            "Sasl": {
                "Iam": {"Enabled": iam},
                "Scram": {"Enabled": not iam if scram is None else scram},
            },
            "Unauthenticated": {"Enabled": unauthenticated},
        },
        Tags=tags,
    )["ClusterArn"]
    return arn


def msk_tls_iam_cmk() -> Judged:
    key_arn = cmk()
    aws_managed = "at rest with the AWS-managed key"
    return {
        msk_cluster("compliant", key_arn): (Status.PASS, ""),
        msk_cluster("plaintext-clients", key_arn, client_broker="TLS_PLAINTEXT"): (
            Status.FAIL,
            "client-broker TLS_PLAINTEXT",
        ),
        msk_cluster("plaintext-brokers", key_arn, in_cluster=False): (
            Status.FAIL,
            "plaintext between brokers",
        ),
        msk_cluster("scram", key_arn, iam=False): (
            Status.FAIL,
            "IAM authentication off; SCRAM authentication on",
        ),
        msk_cluster("iam-and-scram", key_arn, scram=True): (Status.FAIL, "SCRAM authentication on"),
        msk_cluster("anonymous", key_arn, unauthenticated=True): (
            Status.FAIL,
            "unauthenticated access on",
        ),
        msk_cluster("default-key", None): (Status.FAIL, aws_managed),
        msk_cluster("aws-managed-key", aws_managed_key()): (Status.FAIL, aws_managed),
    }


def replication_group(
    name: str,
    tags: dict[str, str] = TAGS,
    *,
    tls: bool = True,
    customer_key: bool = True,
    auth: str | None = "token",
    multi_az: bool = True,
    failover: bool = True,
) -> str:
    """``auth``: "token" (Redis AUTH), "rbac" (a user group) or None."""
    settings: dict[str, Any] = {"AtRestEncryptionEnabled": True}
    if customer_key:
        settings["KmsKeyId"] = cmk()
    if auth == "token":
        settings["AuthToken"] = "a-long-enough-auth-token"
    elif auth == "rbac":
        settings["UserGroupIds"] = ["feature-platform-users"]
    arn: str = aws("elasticache").create_replication_group(
        ReplicationGroupId=name,
        ReplicationGroupDescription=name,
        Engine="redis",
        CacheNodeType="cache.t4g.small",
        NumCacheClusters=2,
        TransitEncryptionEnabled=tls,
        MultiAZEnabled=multi_az,
        AutomaticFailoverEnabled=failover,
        Tags=key_values(tags),
        **settings,
    )["ReplicationGroup"]["ARN"]
    return arn


def elasticache_tls_cmk_auth_multiaz() -> Judged:
    single_az = "not multi-AZ with automatic failover"
    return {
        replication_group("token"): (Status.PASS, ""),
        replication_group("rbac", auth="rbac"): (Status.PASS, ""),
        replication_group("plaintext", tls=False): (Status.FAIL, "TLS off"),
        replication_group("default-key", customer_key=False): (
            Status.FAIL,
            "not encrypted at rest with a CMK",
        ),
        replication_group("open", auth=None): (Status.FAIL, "no AUTH token or RBAC user group"),
        replication_group("single-az", multi_az=False): (Status.FAIL, single_az),
        replication_group("no-failover", failover=False): (Status.FAIL, single_az),
        replication_group("neither", multi_az=False, failover=False): (Status.FAIL, single_az),
        # Only dev may run one AZ; the environment tag says which environment a group is in.
        replication_group(
            "dev-single-az", {**TAGS, "environment": "dev"}, multi_az=False, failover=False
        ): (Status.PASS, ""),
        replication_group(
            "prod-single-az", {**TAGS, "environment": "prod"}, multi_az=False, failover=False
        ): (Status.FAIL, single_az),
    }


# --- IAM -------------------------------------------------------------------------------------

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def allow(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def managed_policy(name: str, *actions: str) -> str:
    arn: str = aws("iam").create_policy(PolicyName=name, PolicyDocument=allow(*actions))["Policy"][
        "Arn"
    ]
    return arn


def role(
    name: str,
    tags: dict[str, str] = TAGS,
    *,
    inline: dict[str, list[str]] | None = None,
    attached: list[str] | None = None,
    path: str = "/",
    not_action: list[str] | None = None,
) -> str:
    iam = aws("iam")
    arn: str = iam.create_role(
        RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST, Tags=key_values(tags)
    )["Role"]["Arn"]
    for policy_name, actions in (inline or {}).items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=allow(*actions))
    if not_action:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="deny-list",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "NotAction": not_action, "Resource": "*"}],
                }
            ),
        )
    for policy_arn in attached or []:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def iam_no_admin_wildcards() -> Judged:
    reader = managed_policy("read-features", "s3:GetObject", "s3:ListBucket")
    star = managed_policy("everything", "*")
    # Not judged: roles AWS services own.
    role("AWSServiceRoleForEKS", path="/aws-service-role/eks.amazonaws.com/", inline={"eks": ["*"]})
    return {
        role(
            "least-privilege",
            inline={"read": ["s3:GetObject", "kms:Decrypt"]},
            attached=[reader, "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
        ): (Status.PASS, ""),
        role("inline-service-wildcard", inline={"data": ["s3:GetObject", "s3:*"]}): (
            Status.FAIL,
            "data: s3:*",
        ),
        role("admin", attached=["arn:aws:iam::aws:policy/AdministratorAccess"]): (
            Status.FAIL,
            "attached AdministratorAccess",
        ),
        role("full-access", attached=["arn:aws:iam::aws:policy/AmazonS3FullAccess"]): (
            Status.FAIL,
            "attached AmazonS3FullAccess",
        ),
        role("customer-managed-star", attached=[star]): (Status.FAIL, "everything: *"),
        role("not-action", inline={}, not_action=["iam:*"]): (Status.FAIL, "deny-list: NotAction"),
    }


# --- feature teams: their roles stay inside their own names -----------------------------------

TENANT_TAGS = {
    "tenant": "ads",
    "tenant-owner": "ads-team",
    "tenant-cost-center": "cc-1",
    "tenant-data-classification": "internal",
}
OFFLINE = "arn:aws:s3:::offline-store"


def tenant_role(
    name: str,
    tags: dict[str, str] = TAGS,
    *,
    team: dict[str, str] = TENANT_TAGS,
    objects: str = f"{OFFLINE}/ads/bids/*",
    connect_as: tuple[str, ...] = (),
) -> str:
    iam = aws("iam")
    arn: str = iam.create_role(
        RoleName=name,
        Path="/feature-platform/tenants/",
        AssumeRolePolicyDocument=TRUST,
        Tags=key_values({**tags, **team}),
    )["Role"]["Arn"]
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ReadOwnObjects", "Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": objects}],
    }  # fmt: skip
    if connect_as:
        cast(list[dict[str, Any]], document["Statement"]).append(
            {"Sid": "ConnectAsOwnUser", "Effect": "Allow", "Action": "elasticache:Connect",
             "Resource": [CACHE_GROUP_ARN, *(f"{CACHE_USER_ARN}{u}" for u in connect_as)]}
        )  # fmt: skip
    iam.put_role_policy(RoleName=name, PolicyName="grants", PolicyDocument=json.dumps(document))
    return arn


CACHE_GROUP_ARN = f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:replicationgroup:fp-dev-online"
CACHE_USER_ARN = f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:user:"


def cache_user(user_id: str, tenant: str) -> None:
    aws("elasticache").create_user(
        UserId=user_id,
        UserName=user_id,
        Engine="valkey",
        AccessString=f"on resetchannels ~{tenant}:x:* -@all +@read -@dangerous",
        AuthenticationMode={"Type": "iam"},
        Tags=key_values({**TAGS, "tenant": tenant}),
    )


def user(user_id: str, tags: dict[str, str], access: str, *, iam: bool = True) -> str:
    """A deployed ElastiCache user; its ARN."""
    mode = {"Type": "iam"} if iam else {"Type": "password", "Passwords": ["p" * 16]}
    created = aws("elasticache").create_user(
        UserId=user_id,
        UserName=user_id if iam else "default",
        Engine="valkey",
        AccessString=access,
        AuthenticationMode=mode,
        Tags=key_values(tags),
    )
    return str(created["ARN"])


TEAM_ACCESS = (
    "on resetchannels ~ads:x:* -@all +@read +@connection -@dangerous -@scripting -scan "
    "-randomkey -keys -client|tracking"
)


def elasticache_users_confined() -> Judged:
    team = {**TAGS, "tenant": "ads"}
    return {
        user("fp-dev-ads-0000000001", team, TEAM_ACCESS): (Status.PASS, ""),
        user("fp-dev-default", TAGS, "on ~* &* +@all -@dangerous", iam=False): (Status.PASS, ""),
        user("fp-dev-ads-0000000002", team, TEAM_ACCESS.replace("~ads:x:*", "~*")): (
            Status.FAIL,
            "`accessString` key pattern '~*' is outside `ads:`",
        ),
        user("fp-dev-ads-0000000003", team, TEAM_ACCESS, iam=False): (
            Status.FAIL,
            "team 'ads''s user does not authenticate by IAM (`authenticationMode.type` is "
            "'password')",
        ),
        user("fp-dev-admin", TAGS, "on ~* &* +@all", iam=False): (
            Status.FAIL,
            "`accessString` grants `+@all` without a later `-@dangerous`",
        ),
    }


def tenants_confined() -> Judged:
    # Not judged: the platform's own roles (not under the teams' path).
    role("feature-platform-materializer-role-1a2b3c4", inline={"read": ["s3:GetObject"]})
    return {
        tenant_role("ads.bidder"): (Status.PASS, ""),
        tenant_role("ads.wide", objects=f"{OFFLINE}/*"): (
            Status.FAIL,
            f"grants: statement ReadOwnObjects of team 'ads' names '{OFFLINE}/*', outside its own",
        ),
        tenant_role("ads.mislabelled", team={**TENANT_TAGS, "tenant": "search"}): (
            Status.FAIL,
            "named 'ads.mislabelled' but tagged tenant='search'",
        ),
        tenant_role("ads.unowned", team={**TENANT_TAGS, "tenant-owner": ""}): (
            Status.FAIL,
            "tag tenant-owner missing",
        ),
        **_cache_connections(),
    }


def _cache_connections() -> Judged:
    # ElastiCache users are read back with their tags: a team connects only as its own.
    cache_user("fp-dev-ads-0123456789", "ads")
    cache_user("fp-dev-search-0123456789", "search")
    return {
        tenant_role("ads.cached", connect_as=("fp-dev-ads-0123456789",)): (Status.PASS, ""),
        tenant_role("ads.borrower", connect_as=("fp-dev-search-0123456789",)): (
            Status.FAIL,
            f"grants: statement ConnectAsOwnUser of team 'ads' names "
            f"'{CACHE_USER_ARN}fp-dev-search-0123456789', outside its own",
        ),
        tenant_role("ads.anyone", connect_as=("*",)): (
            Status.FAIL,
            f"grants: statement ConnectAsOwnUser of team 'ads' names '{CACHE_USER_ARN}*', "
            "outside its own",
        ),
    }


# --- alerting: alarms, topics, health alarms, SLO burn-rate alerts ---------------------------

TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:fp-alerts"
MetricSpec = tuple[str, str, dict[str, str]]
"""(namespace, metric name, dimensions)."""


def metric_alarm(
    name: str,
    tags: dict[str, str] = TAGS,
    *,
    actions: tuple[str, ...] = (),
    metrics: tuple[MetricSpec, ...] = (("FeaturePlatform", "RecordsRejected", {}),),
    enabled: bool = True,
) -> str:
    queries = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
            "ReturnData": i == 1,
        }
        for i, (namespace, metric, dims) in enumerate(metrics, start=1)
    ]
    aws("cloudwatch").put_metric_alarm(
        AlarmName=name,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
        Threshold=0.0,
        Metrics=queries,
        AlarmActions=list(actions),
        OKActions=list(actions),
        ActionsEnabled=enabled,
        Tags=key_values(tags),
    )
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"


def composite_alarm(
    name: str, rule: str, tags: dict[str, str] = TAGS, *, actions: tuple[str, ...] = ()
) -> str:
    """moto has no PutCompositeAlarm yet; its backend stores a composite as an alarm with a
    rule (what DescribeAlarms returns under CompositeAlarms), so the test seeds it there."""
    alarm = cloudwatch_backends[ACCOUNT_ID][REGION].put_metric_alarm(
        name=name,
        namespace="",
        metric_name="",
        comparison_operator="",
        evaluation_periods=0,
        period=0,
        threshold=0.0,
        statistic="",
        description="",
        dimensions=[],
        alarm_actions=list(actions),
        ok_actions=list(actions),
        rule=rule,
        tags=key_values(tags),
    )
    arn: str = alarm.alarm_arn
    return arn


def alerts_actions() -> Judged:
    composite_alarm(
        "foreign-composite",
        'ALARM("fed-by-a-foreign-composite")',
        OTHER_PROJECT,
        actions=(TOPIC_ARN,),
    )
    return {
        metric_alarm("health", actions=(TOPIC_ARN,)): (Status.PASS, ""),
        metric_alarm("slo-freshness-1h5m-long"): (Status.PASS, "window alarm of slo-page"),
        metric_alarm("slo-freshness-1h5m-short"): (Status.PASS, "window alarm of slo-page"),
        composite_alarm(
            "slo-page",
            f'(ALARM("slo-freshness-1h5m-long") AND ALARM('
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:slo-freshness-1h5m-short))",
            actions=(TOPIC_ARN,),
        ): (Status.PASS, ""),
        metric_alarm("orphan-window"): (
            Status.FAIL,
            "no alarm actions and no composite alarm names it",
        ),
        # Only the platform's composites count: another project's does not notify the platform.
        metric_alarm("fed-by-a-foreign-composite"): (
            Status.FAIL,
            "no alarm actions and no composite alarm names it",
        ),
        metric_alarm("actions-disabled", actions=(TOPIC_ARN,), enabled=False): (
            Status.FAIL,
            "no alarm actions and no composite alarm names it",
        ),
        composite_alarm("silent-composite", 'ALARM("health")'): (
            Status.FAIL,
            "composite alarm without alarm actions",
        ),
    }


def tls_only_policy(arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def topic(
    name: str, tags: dict[str, str] = TAGS, *, key_id: str | None = None, tls_only: bool = True
) -> str:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"
    attributes = {"KmsMasterKeyId": key_id} if key_id else {}
    if tls_only:
        attributes["Policy"] = json.dumps(tls_only_policy(arn))
    created: str = aws("sns").create_topic(Name=name, Attributes=attributes, Tags=key_values(tags))[
        "TopicArn"
    ]
    return created


def alerts_topics_encrypted() -> Judged:
    no_tls = "policy does not deny sns:Publish without TLS"
    aws_managed = aws_managed_key()
    return {
        topic("page", key_id=cmk()): (Status.PASS, ""),
        topic("unencrypted"): (Status.FAIL, "not encrypted at rest"),
        topic("sns-default-key", key_id="alias/aws/sns"): (
            Status.FAIL,
            "encrypted with the AWS-managed key alias/aws/sns",
        ),
        topic("aws-managed-key", key_id=aws_managed): (
            Status.FAIL,
            f"encrypted with the AWS-managed key {aws_managed}",
        ),
        # moto (and AWS) give a topic a default policy: it allows the owner, denies nothing.
        topic("plain-http", key_id=cmk(), tls_only=False): (Status.FAIL, no_tls),
    }


KAFKA_HEALTH = ("OfflinePartitionsCount", "ActiveControllerCount")
BROKER_HEALTH = ("UnderReplicatedPartitions", "KafkaDataLogsDiskUsed")
CACHE_HEALTH = (
    "EngineCPUUtilization",
    "DatabaseMemoryUsagePercentage",
    "Evictions",
    "CurrConnections",
)


def kafka_alarms(cluster: str, brokers: range) -> None:
    for metric in KAFKA_HEALTH:
        metric_alarm(
            f"{cluster}-{metric}", metrics=(("AWS/Kafka", metric, {"Cluster Name": cluster}),)
        )
    for metric in BROKER_HEALTH:
        per_broker = tuple(
            ("AWS/Kafka", metric, {"Cluster Name": cluster, "Broker ID": str(b)}) for b in brokers
        )
        metric_alarm(f"{cluster}-{metric}", metrics=per_broker)


def cache_alarms(nodes: tuple[str, ...], metrics: tuple[str, ...] = CACHE_HEALTH) -> None:
    for metric in metrics:
        per_node = tuple(("AWS/ElastiCache", metric, {"CacheClusterId": n}) for n in nodes)
        metric_alarm(f"{nodes[0]}-{metric}", metrics=per_node)


def sharded_group(name: str) -> str:
    """Two shards, one replica each (moto names the members ``<name>-001``, ``-002``)."""
    arn: str = aws("elasticache").create_replication_group(
        ReplicationGroupId=name,
        ReplicationGroupDescription=name,
        Engine="redis",
        CacheNodeType="cache.t4g.small",
        NumNodeGroups=2,
        ReplicasPerNodeGroup=1,
        TransitEncryptionEnabled=True,
        Tags=key_values(TAGS),
    )["ReplicationGroup"]["ARN"]
    return arn


def alerts_health() -> Judged:
    key_arn = cmk()
    kafka_alarms("watched", range(1, 4))
    kafka_alarms("two-of-three", range(1, 3))
    # moto gives a group of NumCacheClusters=2 one member and no replica; AWS would give two.
    cache_alarms(("cache-watched-001",))
    cache_alarms(("sharded-001", "sharded-002"))
    cache_alarms(("sharded-watched-001", "sharded-watched-002"), (*CACHE_HEALTH, "ReplicationLag"))
    return {
        msk_cluster("watched", key_arn): (Status.PASS, ""),
        msk_cluster("two-of-three", key_arn): (
            Status.FAIL,
            "no alarm on AWS/Kafka UnderReplicatedPartitions of broker 3; "
            "no alarm on AWS/Kafka KafkaDataLogsDiskUsed of broker 3",
        ),
        msk_cluster("unwatched", key_arn): (
            Status.FAIL,
            "; ".join(f"no alarm on AWS/Kafka {m}" for m in (*KAFKA_HEALTH, *BROKER_HEALTH)),
        ),
        replication_group("cache-watched"): (Status.PASS, ""),
        replication_group("cache-unwatched"): (
            Status.FAIL,
            "; ".join(f"no alarm on AWS/ElastiCache {m}" for m in CACHE_HEALTH),
        ),
        sharded_group("sharded-watched"): (Status.PASS, ""),
        sharded_group("sharded"): (Status.FAIL, "no alarm on AWS/ElastiCache ReplicationLag"),
    }


def workspace(alias: str, tags: dict[str, str] = TAGS, **namespaces: str) -> str:
    amp = aws("amp")
    created = amp.create_workspace(alias=alias, tags=tags)
    for name, data in namespaces.items():
        amp.create_rule_groups_namespace(
            workspaceId=created["workspaceId"], name=name, data=data.encode()
        )
    arn: str = created["arn"]
    return arn


def rule_file(objectives: tuple[str, ...], alerts: tuple[str, ...]) -> str:
    meta = [
        {"record": "slo:objective:ratio", "expr": "vector(0.999)", "labels": {"slo": s}}
        for s in objectives
    ]
    rules = [
        {"alert": "BudgetBurn", "expr": "vector(1)", "labels": {"slo": s, "severity": "page"}}
        for s in alerts
    ]
    return yaml.safe_dump(
        {"groups": [{"name": "meta", "rules": meta}, {"name": "alerts", "rules": rules}]}
    )


def alerts_slo_burn() -> Judged:
    composite_alarm(
        "slo-freshness-page",
        'ALARM("slo-freshness-1h5m-long")',
        {**TAGS, "slo": "freshness"},
        actions=(TOPIC_ARN,),
    )
    composite_alarm(
        "slo-quality-ticket", 'ALARM("slo-quality-1d2h-long")', {**TAGS, "slo": "quality"}
    )
    window = {**TAGS, "severity": "window"}
    metric_alarm("health", actions=(TOPIC_ARN,))  # no slo tag: not judged here
    no_composite = "no composite alarm tagged slo={} has alarm actions"
    both = ("serving-availability", "serving-latency")
    return {
        metric_alarm("slo-freshness-1h5m-long", {**window, "slo": "freshness"}): (
            Status.PASS,
            "SLO freshness: slo-freshness-page",
        ),
        metric_alarm("slo-quality-1d2h-long", {**window, "slo": "quality"}): (
            Status.FAIL,
            no_composite.format("quality"),
        ),
        metric_alarm("slo-consistency-1d2h-long", {**window, "slo": "consistency"}): (
            Status.FAIL,
            no_composite.format("consistency"),
        ),
        # Objectives in one namespace, alerts in another: the workspace evaluates both.
        workspace("alerting", slos=rule_file(both, ()), alerts=rule_file((), both)): (
            Status.PASS,
            "",
        ),
        workspace("latency-unalerted", rules=rule_file(both, ("serving-availability",))): (
            Status.FAIL,
            "SLO serving-latency has an objective and no alert rule labelled slo=serving-latency",
        ),
        workspace("no-rules"): (Status.FAIL, "no rule group namespace"),
        workspace("no-objectives", rules=rule_file((), both)): (
            Status.FAIL,
            "no namespace records an SLO objective (slo:objective:ratio)",
        ),
    }


RULES: dict[str, Callable[[], Judged]] = {
    "S3.ENCRYPTION": s3_encryption,
    "S3.PUBLIC_ACCESS_BLOCK": s3_public_access_block,
    "S3.VERSIONING": s3_versioning,
    "S3.TLS_ONLY": s3_tls_only,
    "KMS.ROTATION": kms_rotation,
    "SECRETS.CMK": secrets_cmk,
    "SECRETS.ROTATED": secrets_rotated,
    "LOGS.ENCRYPTION_RETENTION": logs_encryption_retention,
    "EC2.NO_WORLD_INGRESS": ec2_no_world_ingress,
    "EC2.DEFAULT_SG_CLOSED": ec2_default_sg_closed,
    "EC2.FLOW_LOGS": ec2_flow_logs,
    "EC2.NO_PUBLIC_IP_ON_LAUNCH": ec2_no_public_ip_on_launch,
    "EKS.PRIVATE_ENCRYPTED_LOGGED": eks_private_encrypted_logged,
    "MSK.TLS_IAM_CMK": msk_tls_iam_cmk,
    "ELASTICACHE.TLS_CMK_AUTH_MULTIAZ": elasticache_tls_cmk_auth_multiaz,
    "IAM.NO_ADMIN_WILDCARDS": iam_no_admin_wildcards,
    "TENANTS.CONFINED": tenants_confined,
    "ELASTICACHE.USERS_CONFINED": elasticache_users_confined,
    "ALERTS.ACTIONS": alerts_actions,
    "ALERTS.TOPICS_ENCRYPTED": alerts_topics_encrypted,
    "ALERTS.HEALTH": alerts_health,
    "ALERTS.SLO_BURN": alerts_slo_burn,
}
"""Per check: build compliant and non-compliant resources, return the exact verdicts."""

NON_COMPLIANT: dict[str, Callable[[dict[str, str], str], str]] = {
    "S3.ENCRYPTION": lambda tags, name: bucket(name, tags),
    "S3.PUBLIC_ACCESS_BLOCK": lambda tags, name: bucket(name, tags),
    "S3.VERSIONING": lambda tags, name: bucket(name, tags),
    "S3.TLS_ONLY": lambda tags, name: bucket(name, tags),
    "KMS.ROTATION": lambda tags, name: key(tags, rotation=False, Description=name),
    "SECRETS.CMK": lambda tags, name: secret(name, tags),
    "SECRETS.ROTATED": lambda tags, name: rotated_secret(name, tags, rotated=False),
    "LOGS.ENCRYPTION_RETENTION": lambda tags, name: log_group(name, tags, encrypted=False),
    "EC2.NO_WORLD_INGRESS": lambda tags, name: security_group(
        name, vpc(tags={}), tags, ingress=(world(),)
    ),
    "EC2.DEFAULT_SG_CLOSED": lambda tags, name: default_group_as_aws_creates_it(tags),
    "EC2.FLOW_LOGS": lambda tags, name: vpc_with_flow_log(None, tags),
    "EC2.NO_PUBLIC_IP_ON_LAUNCH": lambda tags, name: subnet("public", True, tags),
    "EKS.PRIVATE_ENCRYPTED_LOGGED": lambda tags, name: eks_cluster(name, tags, encrypted=False),
    "MSK.TLS_IAM_CMK": lambda tags, name: msk_cluster(name, None, tags),
    "ELASTICACHE.TLS_CMK_AUTH_MULTIAZ": lambda tags, name: replication_group(name, tags, tls=False),
    "IAM.NO_ADMIN_WILDCARDS": lambda tags, name: role(name, tags, inline={"all": ["*"]}),
    "TENANTS.CONFINED": lambda tags, name: tenant_role(f"ads.{name}", tags, objects=f"{OFFLINE}/*"),
    "ELASTICACHE.USERS_CONFINED": lambda tags, name: user(
        f"fp-dev-{name}", tags, "on ~* &* +@all", iam=False
    ),
    "ALERTS.ACTIONS": lambda tags, name: metric_alarm(name, tags),
    "ALERTS.TOPICS_ENCRYPTED": lambda tags, name: topic(name, tags),
    "ALERTS.HEALTH": lambda tags, name: msk_cluster(name, None, tags),
    "ALERTS.SLO_BURN": lambda tags, name: metric_alarm(name, {**tags, "slo": "freshness"}),
}
"""Per check: one resource the check fails, with the given tags and name."""


def test_every_registered_check_is_tested() -> None:
    assert set(RULES) == set(CHECKS)
    assert set(NON_COMPLIANT) == set(CHECKS)


@pytest.mark.parametrize("check_id", sorted(RULES))
def test_compliant_resources_pass_and_each_problem_fails(
    ctx: AuditContext, request: pytest.FixtureRequest, check_id: str
) -> None:
    if check_id == "IAM.NO_ADMIN_WILDCARDS":
        request.getfixturevalue("aws_managed_policies")
    expected = RULES[check_id]()
    assert {status for status, _ in expected.values()} == {Status.PASS, Status.FAIL}
    assert audit(ctx, check_id) == expected


@pytest.mark.parametrize("check_id", sorted(NON_COMPLIANT))
def test_only_resources_with_the_project_tag_are_judged(ctx: AuditContext, check_id: str) -> None:
    make = NON_COMPLIANT[check_id]
    ours = make(TAGS, "ours")
    untagged = make({}, "untagged")
    foreign = make(OTHER_PROJECT, "foreign")

    assert {r: s for r, (s, _) in audit(ctx, check_id).items()} == {ours: Status.FAIL}

    everything = audit(AuditContext(target=ctx.target, scope={}), check_id)
    assert {r: everything[r][0] for r in (ours, untagged, foreign)} == dict.fromkeys(
        (ours, untagged, foreign), Status.FAIL
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_default_scope_selects_what_the_provider_tags(stack: str) -> None:
    assert SCOPE == DEFAULT_SCOPE
    assert DEFAULT_SCOPE.items() <= default_tags(stack_config(stack)).items()


# --- the S3 access-log exception ---------------------------------------------------------


def test_sse_s3_passes_only_on_buckets_that_receive_s3_access_logs(ctx: AuditContext) -> None:
    logging = "logging.s3.amazonaws.com"
    log_target = bucket(
        "access-logs", sse=AES256, statements=[service_grant("access-logs", logging)]
    )
    denied = bucket(
        "denies-logging",
        sse=AES256,
        statements=[service_grant("denies-logging", logging, effect="Deny")],
    )
    other_service = bucket(
        "trail-logs",
        sse=AES256,
        statements=[service_grant("trail-logs", "cloudtrail.amazonaws.com")],
    )
    no_policy = bucket("plain-sse-s3", sse=AES256)

    fail = (Status.FAIL, "AES256 without a customer-managed key")
    assert audit(ctx, "S3.ENCRYPTION") == {
        log_target: (
            Status.PASS,
            "SSE-S3: server access-log target (S3 logging cannot use SSE-KMS)",
        ),
        denied: fail,
        other_service: fail,
        no_policy: fail,
    }


# --- errors: a check that cannot read is "not checked", the audit goes on ---------------------


class FailingClient:
    """A real client whose listed operations (called directly or paginated) raise ``error``."""

    def __init__(self, client: Any, operations: set[str], error: Exception) -> None:
        self._client = client
        self._operations = operations
        self._error = error

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise self._error

    def get_paginator(self, operation: str) -> Any:
        if operation in self._operations:
            return self
        return self._client.get_paginator(operation)

    def paginate(self, *_: Any, **__: Any) -> Any:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return self._fail if name in self._operations else getattr(self._client, name)


def fail_calls(
    monkeypatch: pytest.MonkeyPatch,
    ctx: AuditContext,
    service: str,
    operation: str,
    error: Exception,
) -> None:
    real = ctx.target.client

    def client(name: str, region: str | None = None) -> Any:
        wrapped = real(name, region)
        return FailingClient(wrapped, {operation}, error) if name == service else wrapped

    monkeypatch.setattr(ctx.target, "client", client)


def runs_before(first: str, second: str) -> bool:
    return list(CHECKS).index(first) < list(CHECKS).index(second)


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, operation)


class Denial(NamedTuple):
    check_id: str
    service: str
    operation: str
    code: str
    """The code the service uses for "not allowed"."""
    permission: str
    """The IAM action that ``operation`` needs."""


DENIALS = [
    Denial("S3.ENCRYPTION", "s3", "list_buckets", "AccessDenied", "s3:ListAllMyBuckets"),
    Denial(
        "S3.ENCRYPTION",
        "s3",
        "get_bucket_encryption",
        "AccessDenied",
        "s3:GetEncryptionConfiguration",
    ),
    Denial("KMS.ROTATION", "kms", "list_keys", "AccessDeniedException", "kms:ListKeys"),
    Denial(
        "EC2.FLOW_LOGS",
        "ec2",
        "describe_flow_logs",
        "UnauthorizedOperation",
        "ec2:DescribeFlowLogs",
    ),
    Denial("IAM.NO_ADMIN_WILDCARDS", "iam", "get_role_policy", "AccessDenied", "iam:GetRolePolicy"),
    Denial(
        "ALERTS.TOPICS_ENCRYPTED",
        "sns",
        "get_topic_attributes",
        "AuthorizationError",
        "sns:GetTopicAttributes",
    ),
    Denial(
        "ALERTS.ACTIONS",
        "cloudwatch",
        "describe_alarms",
        "AccessDenied",
        "cloudwatch:DescribeAlarms",
    ),
]


@pytest.mark.parametrize("denial", DENIALS, ids=lambda d: f"{d.check_id}-{d.operation}")
def test_a_denied_call_makes_the_check_not_checked_naming_its_permissions(
    ctx: AuditContext, monkeypatch: pytest.MonkeyPatch, denial: Denial
) -> None:
    check_id = denial.check_id
    NON_COMPLIANT[check_id](TAGS, "denied")  # something to read, so the denied call is made
    error = client_error(denial.code, denial.operation)
    fail_calls(monkeypatch, ctx, denial.service, denial.operation, error)

    (finding,) = run_audit(ctx, only={check_id}).findings

    needs = ", ".join(CHECKS[check_id].permissions)
    assert finding == Finding(check_id, "*", Status.NOT_CHECKED, f"{denial.code}: needs {needs}")
    assert denial.permission in CHECKS[check_id].permissions


def test_a_denied_check_does_not_stop_the_others(
    ctx: AuditContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = bucket("readable", versioning="Enabled")
    fail_calls(
        monkeypatch,
        ctx,
        "s3",
        "get_bucket_encryption",
        client_error("AccessDenied", "GetBucketEncryption"),
    )

    report = run_audit(ctx, only={"S3.ENCRYPTION", "S3.VERSIONING"})

    assert {(f.check, f.resource, f.status) for f in report.findings} == {
        ("S3.ENCRYPTION", "*", Status.NOT_CHECKED),
        ("S3.VERSIONING", name, Status.PASS),
    }


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (
            client_error("ThrottlingException", "ListKeys"),
            "ThrottlingException: An error occurred (ThrottlingException) when calling the "
            "ListKeys operation: no",
        ),
        (NoCredentialsError(), "Unable to locate credentials"),
    ],
    ids=["client-error", "no-credentials"],
)
def test_other_errors_make_the_check_not_checked_and_the_audit_goes_on(
    ctx: AuditContext, monkeypatch: pytest.MonkeyPatch, error: Exception, detail: str
) -> None:
    key(rotation=False)  # KMS.ROTATION would fail it, if it could read it
    name = bucket("readable", versioning="Enabled")
    fail_calls(monkeypatch, ctx, "kms", "list_keys", error)

    assert runs_before("KMS.ROTATION", "S3.VERSIONING")
    report = run_audit(ctx, only={"KMS.ROTATION", "S3.VERSIONING"})

    assert report.findings == [
        Finding("KMS.ROTATION", "*", Status.NOT_CHECKED, detail),
        Finding("S3.VERSIONING", name, Status.PASS, "versioning Enabled"),
    ]
    assert "needs" not in detail


def test_an_unreachable_endpoint_is_reported_once_per_check_without_more_calls(
    ctx: AuditContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket("readable", versioning="Enabled")  # S3.VERSIONING would pass it, if it ran
    url = "https://eks.eu-central-1.amazonaws.com/"
    fail_calls(monkeypatch, ctx, "eks", "list_clusters", EndpointConnectionError(endpoint_url=url))

    assert runs_before("EKS.PRIVATE_ENCRYPTED_LOGGED", "S3.VERSIONING")
    report = run_audit(ctx, only={"EKS.PRIVATE_ENCRYPTED_LOGGED", "S3.VERSIONING"})

    detail = f'Could not connect to the endpoint URL: "{url}"'
    assert report.findings == [
        Finding("EKS.PRIVATE_ENCRYPTED_LOGGED", "*", Status.NOT_CHECKED, detail),
        Finding("S3.VERSIONING", "*", Status.NOT_CHECKED, detail),
    ]


# --- the report --------------------------------------------------------------------------------


def _finding(status: Status, resource: str = "r") -> Finding:
    return Finding("S3.VERSIONING", resource, status, "detail")


@pytest.mark.parametrize(
    ("statuses", "allowed", "code"),
    [
        ([Status.PASS, Status.PASS], False, 0),
        ([Status.PASS, Status.NOT_CHECKED], False, 1),
        ([Status.PASS, Status.NOT_CHECKED], True, 0),
        ([Status.PASS, Status.FAIL], True, 1),
        ([Status.FAIL], False, 1),
        # nothing judged: never a pass, however much "not checked" is allowed
        ([], True, 1),
        ([Status.NOT_CHECKED, Status.NOT_CHECKED], True, 1),
    ],
)
def test_the_exit_code_passes_only_what_was_judged_and_passed(
    statuses: list[Status], allowed: bool, code: int
) -> None:
    report = AuditReport([_finding(s, f"r{i}") for i, s in enumerate(statuses)])
    assert report.exit_code(allow_not_checked=allowed) == code


def test_the_json_report_counts_every_status() -> None:
    statuses = [Status.PASS, Status.FAIL, Status.PASS, Status.NOT_CHECKED, Status.PASS]
    report = AuditReport(
        [_finding(s, f"r{i}") for i, s in enumerate(statuses)],
        account=ACCOUNT_ID,
        region=REGION,
        scope=dict(SCOPE),
        checks=["S3.VERSIONING"],
    )

    document = report.as_json()

    assert (document["account"], document["region"], document["scope"]) == (
        ACCOUNT_ID,
        REGION,
        SCOPE,
    )
    assert document["checks"] == {
        "S3.VERSIONING": {"judged": 4, "pass": 3, "fail": 1, "not checked": 1}
    }

    assert document["summary"] == {
        "pass": 3,
        "fail": 1,
        "not checked": 1,
        "judged": 4,
        "exit_code": 1,
    }
    assert document["findings"] == [
        {"check": "S3.VERSIONING", "resource": f"r{i}", "result": s.value, "detail": "detail"}
        for i, s in enumerate(statuses)
    ]
    json.dumps(document)  # what `blueprint audit --json` prints


def test_a_full_audit_of_a_conformant_and_a_broken_bucket(ctx: AuditContext) -> None:
    """Every check runs against moto; those with nothing in scope say so, and one bad bucket
    fails the audit."""
    data_key = cmk()
    good = bucket(
        "conformant",
        sse={"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": data_key},
        statements=[deny_plain_http("conformant")],
        public_access_block=ALL_PAB,
        versioning="Enabled",
    )
    judging = {"S3.ENCRYPTION", "S3.PUBLIC_ACCESS_BLOCK", "S3.VERSIONING", "S3.TLS_ONLY"}

    clean = run_audit(ctx)

    assert {(f.check, f.resource, f.status) for f in clean.findings} == {
        *((check_id, good, Status.PASS) for check_id in judging),
        ("KMS.ROTATION", data_key, Status.PASS),
        *(
            (check_id, "*", Status.NOT_CHECKED)
            for check_id in set(CHECKS) - judging - {"KMS.ROTATION"}
        ),
    }
    assert clean.checks == list(CHECKS)
    assert clean.exit_code() == 1  # nothing in scope is not a pass...
    assert clean.exit_code(allow_not_checked=True) == 0  # ...unless allowed
    assert clean.as_json()["summary"] == {
        "pass": 5,
        "fail": 0,
        "not checked": len(CHECKS) - 5,
        "judged": 5,
        "exit_code": 1,
    }

    bad = bucket("broken")
    broken = run_audit(ctx)

    assert {f.check for f in broken.findings if f.resource == bad} == judging
    assert broken.exit_code(allow_not_checked=True) == 1
    assert broken.count(Status.FAIL) == 4


@pytest.mark.parametrize("check_id", sorted(NON_COMPLIANT))
def test_a_check_with_nothing_in_scope_is_not_checked_naming_the_scope(
    ctx: AuditContext, check_id: str
) -> None:
    NON_COMPLIANT[check_id](OTHER_PROJECT, "foreign")  # there, but not the platform's
    ctx.target.account_id = ACCOUNT_ID

    report = run_audit(ctx, only={check_id})

    service = CHECKS[check_id].service
    assert report.findings == [
        Finding(
            check_id,
            "*",
            Status.NOT_CHECKED,
            f"nothing in scope: {service} returned no resource with project=feature-platform "
            f"in account {ACCOUNT_ID}, {REGION}",
        )
    ]
    assert report.per_check(check_id)[Status.NOT_CHECKED] == 1
    assert report.exit_code(allow_not_checked=True) == 1  # nothing at all was judged


# --- alerting: composite alarms an endpoint cannot list are never a pass ------------------------


class NoComposites:
    """A CloudWatch client whose DescribeAlarms fails for composite alarms only, as moto did
    before its composite-alarm model (in-process: NotImplementedError; a server: an error)."""

    def __init__(self, client: Any, error: Exception) -> None:
        self._client = client
        self._error = error

    def get_paginator(self, operation: str) -> Any:
        paginator = self._client.get_paginator(operation)
        error = self._error

        class Paginator:
            def paginate(self, **kwargs: Any) -> Any:
                if "CompositeAlarm" in kwargs.get("AlarmTypes", []):
                    raise error
                return paginator.paginate(**kwargs)

        return Paginator()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize(
    "error",
    [
        NotImplementedError("The describe_alarms action has not been implemented"),
        client_error("NotImplemented", "DescribeAlarms"),
    ],
    ids=["in-process", "server"],
)
def test_unreadable_composite_alarms_leave_the_alarm_checks_not_checked(
    ctx: AuditContext, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    notifying = metric_alarm("health", actions=(TOPIC_ARN,))
    window = metric_alarm("slo-freshness-1h5m-long", {**TAGS, "slo": "freshness"})
    real = ctx.target.client

    def client(name: str, region: str | None = None) -> Any:
        wrapped = real(name, region)
        return NoComposites(wrapped, error) if name == "cloudwatch" else wrapped

    monkeypatch.setattr(ctx.target, "client", client)

    report = run_audit(ctx, only={"ALERTS.ACTIONS", "ALERTS.SLO_BURN"})

    statuses = {(f.check, f.resource): f.status for f in report.findings}
    assert statuses == {
        ("ALERTS.ACTIONS", "*"): Status.NOT_CHECKED,
        ("ALERTS.ACTIONS", notifying): Status.PASS,  # has its own actions: no composite needed
        ("ALERTS.ACTIONS", window): Status.NOT_CHECKED,
        ("ALERTS.SLO_BURN", "*"): Status.NOT_CHECKED,
    }
    unreadable = [f.detail for f in report.findings if f.resource == "*"]
    assert all(d.startswith("composite alarms could not be read") for d in unreadable)
    assert report.exit_code() == 1
    assert report.exit_code(allow_not_checked=True) == 0  # only when the operator accepts it


def test_composite_rules_name_their_alarms_by_name_or_arn() -> None:
    from policies.rules.alerting import referenced_alarms  # noqa: PLC0415

    rule = "ALARM(\"a\") AND OK(arn:aws:cloudwatch:r:1:alarm:b) OR INSUFFICIENT_DATA('c')"
    assert referenced_alarms(rule) == {"a", "b", "c"}
