"""IAM policy documents as typed data, checked for least privilege when they are built.

Every policy, trust policy, bucket policy and key policy in the platform is built here, so
the least-privilege rules are enforced in one place instead of in hand-assembled JSON:

* no ``Allow`` of a wildcard action (``*``, ``service:*``, ``s3:Get*``): actions are listed;
* no ``Allow`` of a data action (reading or writing data, or using a key) on every resource
  (``*``, ``arn:aws:s3:::*``, ``arn:aws:secretsmanager:*:*:secret:*``), except in key
  policies, where ``"*"`` means "this key" (the only form AWS accepts), and in VPC endpoint
  policies when a condition limits them to the account's own resources;
* no ``Allow`` to everyone (``"*"`` or ``{"AWS": "*"}``) outside endpoint policies, which
  only filter what IAM already allows; ``Deny`` statements may name everyone;
* identity policies name no principal; resource policies (trust, bucket, key) must.

Values may be ``pulumi.Output``s (ARNs of resources not created yet); :meth:`to_json` turns a
document into one ``Output[str]`` without ``apply`` chains.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import pulumi

POLICY_VERSION = "2012-10-17"

# Actions that read or write data, or use key material. Never granted on "*".
DATA_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:CreateGrant",
        "logs:PutLogEvents",
        "logs:CreateLogStream",
        "kafka-cluster:ReadData",
        "kafka-cluster:WriteData",
        "kafka-cluster:WriteDataIdempotently",
        "elasticache:Connect",
    }
)


class PolicyKind(StrEnum):
    IDENTITY = "identity"  # attached to a role: no Principal
    TRUST = "trust"  # a role's assume-role policy
    RESOURCE = "resource"  # bucket / topic / secret policy
    KEY = "key"  # KMS key policy: Resource "*" means the key itself
    ENDPOINT = "endpoint"  # VPC endpoint policy: a filter on top of IAM


class LeastPrivilegeError(ValueError):
    """A statement would grant more than the platform allows."""


Principals = Mapping[str, Sequence[pulumi.Input[str]]]
"""``{"AWS": [...]}``, ``{"Service": [...]}``, or ``{"*": ["*"]}`` for everyone."""
Conditions = Mapping[str, Mapping[str, pulumi.Input[str] | Sequence[pulumi.Input[str]]]]


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[pulumi.Input[str], ...] = ()
    effect: Literal["Allow", "Deny"] = "Allow"
    principals: Principals | None = None
    conditions: Conditions = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """IAM JSON; a single value is written as a scalar, the form AWS itself returns."""
        out: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect}
        if self.principals is not None:
            if "*" in self.principals:
                out["Principal"] = "*"
            else:
                out["Principal"] = {k: _scalar(v) for k, v in self.principals.items()}
        out["Action"] = _scalar(self.actions)
        if self.resources:
            out["Resource"] = _scalar(self.resources)
        if self.conditions:
            out["Condition"] = {
                op: {k: (_scalar(v) if isinstance(v, (list, tuple)) else v) for k, v in kv.items()}
                for op, kv in self.conditions.items()
            }
        return out


def _scalar(values: Sequence[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


@dataclass(frozen=True)
class PolicyDocument:
    kind: PolicyKind
    statements: tuple[Statement, ...]

    def __post_init__(self) -> None:
        if not self.statements:
            raise LeastPrivilegeError("a policy document needs at least one statement")
        sids = [s.sid for s in self.statements]
        if len(set(sids)) != len(sids):
            raise LeastPrivilegeError(f"duplicate Sid in {sids}")
        for statement in self.statements:
            _check(self.kind, statement)

    def to_dict(self) -> dict[str, Any]:
        return {"Version": POLICY_VERSION, "Statement": [s.to_dict() for s in self.statements]}

    def to_json(self) -> pulumi.Output[str]:
        return pulumi.Output.json_dumps(self.to_dict())


def _check(kind: PolicyKind, st: Statement) -> None:
    where = f"statement {st.sid!r}"
    if not st.actions:
        raise LeastPrivilegeError(f"{where}: no actions")
    if not st.sid.isalnum():
        raise LeastPrivilegeError(f"{where}: Sid must be alphanumeric (an IAM rule)")
    if kind is PolicyKind.IDENTITY and st.principals is not None:
        raise LeastPrivilegeError(f"{where}: identity policies name no principal")
    if kind is not PolicyKind.IDENTITY and st.principals is None:
        raise LeastPrivilegeError(f"{where}: {kind.value} policies must name a principal")
    if kind is not PolicyKind.TRUST and not st.resources:
        raise LeastPrivilegeError(f"{where}: no resources")
    if st.effect == "Deny":
        return  # denying broadly is always safe
    for action in st.actions:
        if "*" in action:
            raise LeastPrivilegeError(f"{where}: wildcard action {action!r}; list the actions")
    if _names_everyone(st) and kind is not PolicyKind.ENDPOINT:
        raise LeastPrivilegeError(f"{where}: Allow to Principal '*'")
    broad = [r for r in st.resources if isinstance(r, str) and _every_resource(r)]
    data = sorted(set(st.actions) & DATA_ACTIONS)
    if broad and data and kind is not PolicyKind.KEY:
        own_account = any("aws:ResourceAccount" in kv for kv in st.conditions.values())
        if not (kind is PolicyKind.ENDPOINT and own_account):
            raise LeastPrivilegeError(f"{where}: data actions {data} on every resource {broad}")


def _names_everyone(st: Statement) -> bool:
    if st.principals is None:
        return False
    return "*" in st.principals or any("*" in values for values in st.principals.values())


def _every_resource(resource: str) -> bool:
    """``*``, or an ARN whose resource part is only a wildcard (``s3:::*``, ``secret:*``)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    if parts[2] == "s3":  # "bucket/*" is one bucket's objects; "*" or "*/..." is every bucket
        return parts[5].startswith("*")
    return re.fullmatch(r"([a-z-]+[:/])?\*", parts[5]) is not None


# --- builders ---------------------------------------------------------------------------


def identity_policy(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(PolicyKind.IDENTITY, statements)


def service_trust(
    service: str, account_id: str, *, source_arn: pulumi.Input[str] | None = None
) -> PolicyDocument:
    """Trust one AWS service, only on behalf of this account (confused-deputy guard)."""
    conditions: dict[str, dict[str, Any]] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return PolicyDocument(
        PolicyKind.TRUST,
        (
            Statement(
                sid="TrustService",
                actions=("sts:AssumeRole",),
                principals={"Service": (service,)},
                conditions=conditions,
            ),
        ),
    )


POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"


def pod_identity_trust(
    account_id: str,
    region: str,
    namespace: str,
    service_account: str,
    cluster_name: pulumi.Input[str] | None = None,
) -> PolicyDocument:
    """EKS Pod Identity trust scoped to one service account on this account's clusters.

    The conditions use the session tags Pod Identity documents (namespace, service account,
    cluster ARN); without them any association could assume the role. The cluster ARN is
    pinned to one cluster once its name is known, to this account and region until then.
    """
    clusters = f"arn:aws:eks:{region}:{account_id}:cluster/"
    cluster_arn: pulumi.Input[str] = (
        f"{clusters}*" if cluster_name is None else pulumi.Output.concat(clusters, cluster_name)
    )
    return PolicyDocument(
        PolicyKind.TRUST,
        (
            Statement(
                sid="AllowEksPodIdentity",
                actions=("sts:AssumeRole", "sts:TagSession"),
                principals={"Service": (POD_IDENTITY_PRINCIPAL,)},
                conditions={
                    "StringEquals": {
                        "aws:RequestTag/kubernetes-namespace": namespace,
                        "aws:RequestTag/kubernetes-service-account": service_account,
                    },
                    "ArnLike": {"aws:RequestTag/eks-cluster-arn": cluster_arn},
                },
            ),
        ),
    )


ENDPOINT_S3_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
)


def s3_gateway_endpoint_policy(account_id: str, region: str) -> PolicyDocument:
    """What may pass the S3 gateway endpoint: this account's buckets and ECR's image layers.

    A stolen credential from another account cannot use the endpoint to move data out to
    a bucket it owns. ECR serves image layers from an AWS-owned bucket, which must stay
    reachable or nodes cannot pull images.
    """
    return PolicyDocument(
        PolicyKind.ENDPOINT,
        (
            Statement(
                sid="OwnAccountBuckets",
                principals={"*": ("*",)},
                actions=ENDPOINT_S3_ACTIONS,
                resources=("*",),
                conditions={"StringEquals": {"aws:ResourceAccount": account_id}},
            ),
            Statement(
                sid="EcrImageLayers",
                principals={"*": ("*",)},
                actions=("s3:GetObject",),
                resources=(f"arn:aws:s3:::prod-{region}-starport-layer-bucket/*",),
            ),
        ),
    )


def s3_read(sid: str, bucket_arn: pulumi.Input[str]) -> tuple[Statement, ...]:
    return (
        Statement(sid=f"{sid}List", actions=("s3:ListBucket",), resources=(bucket_arn,)),
        Statement(
            sid=f"{sid}Get",
            actions=("s3:GetObject", "s3:GetObjectVersion"),
            resources=(pulumi.Output.concat(bucket_arn, "/*"),),
        ),
    )


def s3_write(sid: str, bucket_arn: pulumi.Input[str]) -> tuple[Statement, ...]:
    return (
        Statement(
            sid=f"{sid}Put",
            actions=("s3:PutObject", "s3:AbortMultipartUpload"),
            resources=(pulumi.Output.concat(bucket_arn, "/*"),),
        ),
    )


def kms_use(
    sid: str,
    *key_arns: pulumi.Input[str],
    encrypt: bool = False,
    via_service: str | None = None,
) -> Statement:
    """Use of the keys; with ``via_service`` only through that service's endpoint
    (``kms:ViaService``, e.g. ``s3.<region>.amazonaws.com``)."""
    actions: tuple[str, ...] = ("kms:Decrypt", "kms:DescribeKey")
    if encrypt:
        actions += ("kms:GenerateDataKey", "kms:Encrypt")
    conditions = {"StringEquals": {"kms:ViaService": via_service}} if via_service else {}
    return Statement(sid=sid, actions=actions, resources=key_arns, conditions=conditions)


def secret_read(sid: str, *secret_arns: pulumi.Input[str]) -> Statement:
    return Statement(
        sid=sid,
        actions=("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
        resources=secret_arns,
    )


def kafka_group_arn(cluster_arn: pulumi.Input[str], group: str) -> pulumi.Output[str]:
    """``arn:aws:kafka:<region>:<account>:group/<cluster-name>/<cluster-uuid>/<group>``."""
    return pulumi.Output.from_input(cluster_arn).apply(
        lambda arn: f"{arn.replace(':cluster/', ':group/', 1)}/{group}"
    )


def kafka_produce(
    sid: str, cluster_arn: pulumi.Input[str], *topic_arns: pulumi.Input[str]
) -> tuple[Statement, ...]:
    """MSK IAM auth: connect and write to the named topics (idempotent producers included)."""
    return (
        Statement(
            sid=f"{sid}Connect",
            # Kafka clients enable idempotence by default since 3.0; without the grant they fail.
            actions=("kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"),
            resources=(cluster_arn,),
        ),
        Statement(
            sid=f"{sid}Write",
            actions=("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"),
            resources=topic_arns,
        ),
    )


def kafka_consume(
    sid: str,
    cluster_arn: pulumi.Input[str],
    topic_arns: Sequence[pulumi.Input[str]],
    group_arns: Sequence[pulumi.Input[str]],
) -> tuple[Statement, ...]:
    """MSK IAM auth: connect, read the named topics and commit offsets in the named groups."""
    return (
        Statement(
            sid=f"{sid}Connect", actions=("kafka-cluster:Connect",), resources=(cluster_arn,)
        ),
        Statement(
            sid=f"{sid}Read",
            actions=("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"),
            resources=tuple(topic_arns),
        ),
        Statement(
            sid=f"{sid}Group",
            actions=("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"),
            resources=tuple(group_arns),
        ),
    )


def metrics_publish(sid: str, namespace: str) -> Statement:
    """Publish custom metrics to one CloudWatch namespace only. PutMetricData has no
    resource type (IAM requires ``*``); the ``cloudwatch:namespace`` condition is the scope."""
    return Statement(
        sid=sid,
        actions=("cloudwatch:PutMetricData",),
        resources=("*",),
        conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
    )


def prometheus_remote_write(sid: str, workspace_arn: pulumi.Input[str]) -> Statement:
    """Remote-write samples into one managed Prometheus workspace."""
    return Statement(sid=sid, actions=("aps:RemoteWrite",), resources=(workspace_arn,))
