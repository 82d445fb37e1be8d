"""Encryption and authentication in transit: TLS on every client connection, no anonymous clients.

The platform's data stores sit in private subnets behind security groups; these policies make
sure that a network path alone is never enough to read or write data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._base import (
    Config,
    Props,
    Severity,
    as_list,
    cis,
    fsbp,
    get,
    is_false,
    is_set,
    is_true,
    platform,
    resource_policy,
    statements,
)

MIN_TLS_VERSION = 1.2


# --- msk-tls-in-transit -------------------------------------------------------------------


def _msk_tls(props: Props, config: Config) -> Iterator[str]:
    client_broker = get(props, "encryptionInfo.encryptionInTransit.clientBroker")
    if client_broker is None:
        # AWS defaults to TLS today; the platform wants the choice in code, where a review sees
        # it, rather than inherited from a default that a provider or API change could move.
        yield "`encryptionInfo.encryptionInTransit.clientBroker` is not set explicitly to TLS"
    elif client_broker != "TLS":
        yield (
            f"`encryptionInfo.encryptionInTransit.clientBroker` is {client_broker!r}: clients may "
            "connect in plaintext"
        )
    if is_false(get(props, "encryptionInfo.encryptionInTransit.inCluster")):
        yield (
            "`encryptionInfo.encryptionInTransit.inCluster` is false: brokers replicate in "
            "plaintext"
        )


resource_policy(
    "msk-tls-in-transit",
    description="MSK clusters accept TLS connections only, between clients and brokers and "
    "among brokers.",
    severity=Severity.HIGH,
    refs=(fsbp("MSK.1"), platform("MSK.TLS_IAM_CMK")),
    remediation="Set `encryption_info=aws.msk.ClusterEncryptionInfoArgs(encryption_in_transit="
    'aws.msk.ClusterEncryptionInfoEncryptionInTransitArgs(client_broker="TLS", in_cluster=True), '
    "...)` on the `aws.msk.Cluster` (`in_cluster` cannot change on a running cluster).",
    types=("aws:msk/cluster:Cluster",),
    check=_msk_tls,
)


# --- msk-iam-auth-only --------------------------------------------------------------------


def _msk_auth(props: Props, config: Config) -> Iterator[str]:
    if not is_true(get(props, "clientAuthentication.sasl.iam")):
        yield "`clientAuthentication.sasl.iam` is not true: clients do not authenticate with IAM"
    if is_true(get(props, "clientAuthentication.sasl.scram")):
        yield (
            "`clientAuthentication.sasl.scram` is true: SCRAM users bypass IAM and need their own "
            "secrets and Kafka ACLs"
        )
    if is_true(get(props, "clientAuthentication.unauthenticated")):
        yield (
            "`clientAuthentication.unauthenticated` is true: any client that reaches a broker "
            "may connect"
        )
    if as_list(get(props, "clientAuthentication.tls.certificateAuthorityArns")):
        yield (
            "`clientAuthentication.tls.certificateAuthorityArns` is set: mutual-TLS clients are "
            "authorised by Kafka ACLs, not IAM"
        )


resource_policy(
    "msk-iam-auth-only",
    description="MSK clusters authenticate clients with IAM only: no SCRAM, mutual TLS or "
    "unauthenticated access.",
    severity=Severity.HIGH,
    refs=(platform("MSK.TLS_IAM_CMK"),),
    remediation="Set `client_authentication=aws.msk.ClusterClientAuthenticationArgs("
    "sasl=aws.msk.ClusterClientAuthenticationSaslArgs(iam=True, scram=False), "
    "unauthenticated=False)` on the `aws.msk.Cluster`, without a `tls` block; grant topic access "
    "with `kafka-cluster:*` actions in the clients' IAM policies.",
    types=("aws:msk/cluster:Cluster",),
    check=_msk_auth,
)


# --- elasticache-tls-in-transit -----------------------------------------------------------


def _elasticache_tls(props: Props, config: Config) -> Iterator[str]:
    if not is_true(props.get("transitEncryptionEnabled")):
        yield "`transitEncryptionEnabled` is not true: clients connect in plaintext"
    mode = props.get("transitEncryptionMode")
    if mode == "preferred":
        # "preferred" is a migration state: the group accepts TLS and plaintext side by side.
        yield '`transitEncryptionMode` is "preferred": plaintext connections are still accepted'


resource_policy(
    "elasticache-tls-in-transit",
    description="ElastiCache replication groups require TLS on every client connection.",
    severity=Severity.HIGH,
    refs=(fsbp("ElastiCache.5"), platform("ELASTICACHE.TLS_CMK_AUTH_MULTIAZ")),
    remediation='Set `transit_encryption_enabled=True` and `transit_encryption_mode="required"` '
    'on the `aws.elasticache.ReplicationGroup` ("preferred" only during a migration, then back '
    "to required).",
    types=("aws:elasticache/replicationGroup:ReplicationGroup",),
    check=_elasticache_tls,
)


# --- elasticache-auth-required ------------------------------------------------------------


def _elasticache_auth(props: Props, config: Config) -> Iterator[str]:
    # The token usually arrives as a secret; any non-empty value counts as set. A write-only
    # token (``authTokenWo``) is sent only with its version, so both must be there.
    write_only = is_set(props.get("authTokenWo")) and is_set(props.get("authTokenWoVersion"))
    if not (is_set(props.get("authToken")) or write_only or as_list(props.get("userGroupIds"))):
        yield (
            "neither `authToken`, `authTokenWo` (with `authTokenWoVersion`) nor `userGroupIds` "
            "is set: any client that reaches the port may run commands"
        )


resource_policy(
    "elasticache-auth-required",
    description="ElastiCache replication groups require clients to authenticate (AUTH token or "
    "RBAC user groups).",
    severity=Severity.HIGH,
    refs=(fsbp("ElastiCache.6"), platform("ELASTICACHE.TLS_CMK_AUTH_MULTIAZ")),
    remediation="Set `auth_token_wo` with `auth_token_wo_version` (a generated secret, rotated "
    "by Secrets Manager) or "
    "`user_group_ids=[<aws.elasticache.UserGroup>.id]` on the "
    "`aws.elasticache.ReplicationGroup`; both require `transit_encryption_enabled=True`.",
    types=("aws:elasticache/replicationGroup:ReplicationGroup",),
    check=_elasticache_auth,
)


# --- s3-bucket-policy-tls-only ------------------------------------------------------------


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def _condition_values(statement: Mapping[str, Any], operator: str, key: str) -> list[Any]:
    """Values of ``Condition[operator][key]`` (IAM matches operators and keys ignoring case)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return []
    for op, block in condition.items():
        if op.lower() != operator.lower() or not isinstance(block, Mapping):
            continue
        for name, value in block.items():
            if name.lower() == key.lower():
                return as_list(value)
    return []


def _denies_all_s3_to_everyone(statement: Mapping[str, Any]) -> bool:
    actions = {str(a).lower() for a in as_list(statement.get("Action"))}
    return (
        statement.get("Effect") == "Deny"
        and _everyone(statement.get("Principal"))
        and bool(actions & {"s3:*", "*"})
    )


def _covers_bucket_and_objects(statement: Mapping[str, Any]) -> bool:
    resources = [str(r) for r in as_list(statement.get("Resource"))]
    objects = any(r == "*" or r.endswith("/*") for r in resources)
    bucket = any(r == "*" or (r.startswith("arn:") and "/" not in r) for r in resources)
    return objects and bucket


def _tls_version_floor(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bucket_policy_tls(props: Props, config: Config) -> Iterator[str]:
    found = statements(props.get("policy"))
    if not found:
        yield "`policy` is not set or has no statements: requests over plain HTTP are not denied"
        return
    denies = [s for s in found if _denies_all_s3_to_everyone(s)]
    insecure = [
        s
        for s in denies
        if any(is_false(v) for v in _condition_values(s, "Bool", "aws:SecureTransport"))
    ]
    if not insecure:
        yield (
            '`policy` has no Deny of `s3:*` to Principal "*" with condition '
            '`Bool` `aws:SecureTransport` = "false"'
        )
    elif not any(_covers_bucket_and_objects(s) for s in insecure):
        yield (
            "`policy` denies insecure transport without covering both the bucket ARN and its "
            "objects (`<arn>/*`)"
        )
    if config.get("requireTls12", True):
        floors = [
            _tls_version_floor(v)
            for s in denies
            for v in _condition_values(s, "NumericLessThan", "s3:TlsVersion")
        ]
        if not any(f is not None and f >= MIN_TLS_VERSION for f in floors):
            yield (
                '`policy` has no Deny of `s3:*` to Principal "*" with condition '
                '`NumericLessThan` `s3:TlsVersion` = "1.2": TLS 1.0 and 1.1 are accepted'
            )


resource_policy(
    "s3-bucket-policy-tls-only",
    description="S3 bucket policies deny every request that does not use TLS (1.2 or later).",
    severity=Severity.HIGH,
    refs=(fsbp("S3.5"), cis("2.1.1"), platform("S3.TLS_ONLY")),
    remediation='Add to the `aws.s3.BucketPolicy` `policy` a statement `{"Effect": "Deny", '
    '"Principal": "*", "Action": "s3:*", "Resource": [<bucket arn>, <bucket arn>/*], '
    '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}` and one with '
    '`"Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}` (as `SecureBucket` does).',
    types=("aws:s3/bucketPolicy:BucketPolicy",),
    check=_bucket_policy_tls,
    config_schema={
        "requireTls12": {
            "type": "boolean",
            "default": True,
            "description": "Also require a Deny of requests with `s3:TlsVersion` below 1.2.",
        }
    },
)
