"""EKS, MSK and ElastiCache checks."""

from __future__ import annotations

from collections.abc import Iterable

from blueprint.audit.model import (
    AuditContext,
    Finding,
    check,
    customer_managed,
    tag_dict,
    verdict,
)
from policies.rules.cache_users import (  # the pack's rules: one definition, two judges
    authenticated_problems,
    team_user_problems,
)

REQUIRED_EKS_LOGS = frozenset({"api", "audit", "authenticator"})
ENVIRONMENT_TAG = "environment"
SINGLE_AZ_ENVIRONMENT = "dev"
"""The one environment whose data stores may run in a single AZ."""
AUTHENTICATION_TYPES = {"password": "password", "iam": "iam", "no-password": "no-password-required"}
"""DescribeUsers' ``Authentication.Type`` → CreateUser's ``AuthenticationMode.Type``."""


@check(
    "EKS.PRIVATE_ENCRYPTED_LOGGED",
    "EKS clusters: private API (or an explicit allowlist), secrets encrypted, control-plane logs",
    service="eks",
    permissions=("eks:ListClusters", "eks:DescribeCluster"),
    types=("aws:eks/cluster:Cluster",),
)
def eks_clusters(ctx: AuditContext) -> Iterable[Finding]:
    eks = ctx.client("eks")
    for name in ctx.pages("eks", "list_clusters", "clusters"):
        cluster = eks.describe_cluster(name=name)["cluster"]
        if not ctx.in_scope(cluster.get("tags", {})):
            continue
        problems = []
        vpc = cluster.get("resourcesVpcConfig", {})
        # AWS's defaults, if a field is absent: a public endpoint open to 0.0.0.0/0.
        if vpc.get("endpointPublicAccess", True) and "0.0.0.0/0" in vpc.get(
            "publicAccessCidrs", ["0.0.0.0/0"]
        ):
            problems.append("public API endpoint open to 0.0.0.0/0")
        if not any(
            "secrets" in c.get("resources", []) for c in cluster.get("encryptionConfig", [])
        ):
            problems.append("secrets not envelope-encrypted")
        enabled = {
            t
            for entry in cluster.get("logging", {}).get("clusterLogging", [])
            if entry.get("enabled")
            for t in entry.get("types", [])
        }
        if missing := sorted(REQUIRED_EKS_LOGS - enabled):
            problems.append(f"control-plane logs off: {', '.join(missing)}")
        yield verdict("EKS.PRIVATE_ENCRYPTED_LOGGED", cluster["arn"], problems)


@check(
    "MSK.TLS_IAM_CMK",
    "MSK clusters: TLS only, IAM authentication only, encrypted with a customer-managed key",
    service="kafka",
    permissions=("kafka:ListClusters", "kafka:DescribeCluster", "kms:DescribeKey"),
    types=("aws:msk/cluster:Cluster",),
)
def msk_clusters(ctx: AuditContext) -> Iterable[Finding]:
    kafka = ctx.client("kafka")
    for summary in ctx.pages("kafka", "list_clusters", "ClusterInfoList"):
        info = kafka.describe_cluster(ClusterArn=summary["ClusterArn"])["ClusterInfo"]
        if not ctx.in_scope(info.get("Tags", {})):
            continue
        problems = []
        encryption = info.get("EncryptionInfo", {})
        transit = encryption.get("EncryptionInTransit", {})
        if transit.get("ClientBroker", "TLS") != "TLS":
            problems.append(f"client-broker {transit.get('ClientBroker')}")
        if not transit.get("InCluster", True):
            problems.append("plaintext between brokers")
        auth = info.get("ClientAuthentication", {})
        if not auth.get("Sasl", {}).get("Iam", {}).get("Enabled"):
            problems.append("IAM authentication off")
        if auth.get("Unauthenticated", {}).get("Enabled"):
            problems.append("unauthenticated access on")
        # IAM only: SCRAM users or client certificates would be a second way in.
        if auth.get("Sasl", {}).get("Scram", {}).get("Enabled"):
            problems.append("SCRAM authentication on")
        if auth.get("Tls", {}).get("Enabled") or auth.get("Tls", {}).get(
            "CertificateAuthorityArnList"
        ):
            problems.append("TLS client-certificate authentication on")
        key = encryption.get("EncryptionAtRest", {}).get("DataVolumeKMSKeyId")
        if not customer_managed(ctx, key):
            problems.append("at rest with the AWS-managed key")
        yield verdict("MSK.TLS_IAM_CMK", info["ClusterArn"], problems)


@check(
    "ELASTICACHE.TLS_CMK_AUTH_MULTIAZ",
    "ElastiCache: TLS, at-rest CMK, authentication, multi-AZ with automatic failover "
    "(except in dev)",
    service="elasticache",
    permissions=("elasticache:DescribeReplicationGroups", "elasticache:ListTagsForResource"),
    types=("aws:elasticache/replicationGroup:ReplicationGroup",),
)
def replication_groups(ctx: AuditContext) -> Iterable[Finding]:
    elasticache = ctx.client("elasticache")
    for group in ctx.pages("elasticache", "describe_replication_groups", "ReplicationGroups"):
        tags = tag_dict(
            elasticache.list_tags_for_resource(ResourceName=group["ARN"]).get("TagList")
        )
        if not ctx.in_scope(tags):
            continue
        problems = []
        if not group.get("TransitEncryptionEnabled"):
            problems.append("TLS off")
        if not (group.get("AtRestEncryptionEnabled") and group.get("KmsKeyId")):
            problems.append("not encrypted at rest with a CMK")
        if not (group.get("AuthTokenEnabled") or group.get("UserGroupIds")):
            problems.append("no AUTH token or RBAC user group")
        # Dev runs a single node to save cost (its config allows it, and only dev's); every
        # other environment must survive an AZ loss.
        single_az = group.get("MultiAZ") != "enabled" or group.get("AutomaticFailover") != "enabled"
        if single_az and tags.get(ENVIRONMENT_TAG) != SINGLE_AZ_ENVIRONMENT:
            problems.append("not multi-AZ with automatic failover")
        yield verdict("ELASTICACHE.TLS_CMK_AUTH_MULTIAZ", group["ARN"], problems)


@check(
    "ELASTICACHE.USERS_CONFINED",
    "ElastiCache users: none passwordless, every command only with the dangerous ones denied; "
    "a feature team's user authenticates by IAM and reaches only its own keys",
    service="elasticache",
    permissions=("elasticache:DescribeUsers", "elasticache:ListTagsForResource"),
    types=("aws:elasticache/user:User",),
)
def cache_users(ctx: AuditContext) -> Iterable[Finding]:
    """The deployed users, judged by the pack's own rules (the plan's are judged at check)."""
    elasticache = ctx.client("elasticache")
    for user in ctx.pages("elasticache", "describe_users", "Users"):
        tags = tag_dict(elasticache.list_tags_for_resource(ResourceName=user["ARN"]).get("TagList"))
        if not ctx.in_scope(tags):
            continue
        kind = (user.get("Authentication") or {}).get("Type", "")
        props = {
            "tags": tags,
            "accessString": user.get("AccessString", ""),
            "authenticationMode": {"type": AUTHENTICATION_TYPES.get(kind, kind)},
        }
        problems = [*authenticated_problems(props, {}), *team_user_problems(props, {})]
        yield verdict("ELASTICACHE.USERS_CONFINED", user["ARN"], problems)
