"""Encryption at rest: customer-managed KMS keys everywhere data or logs are kept.

A resource "uses a customer-managed key" when it names a key (ARN, key id or alias) that is not
one of the AWS-managed aliases (``alias/aws/<service>``): those keys have policies nobody in the
account can change, cannot be disabled and do not show who decrypted what, so they give no
second gate beside IAM.
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
    is_set,
    is_true,
    platform,
    resource_policy,
    statements,
)

KMS_DELETION_WINDOW_DEFAULT_DAYS = 30
"""What AWS applies when ``deletionWindowInDays`` is not set (the maximum)."""


def _aws_managed(key: Any) -> bool:
    return isinstance(key, str) and "alias/aws/" in key


def _cmk_problem(key: Any, prop: str) -> str | None:
    """Why ``key`` (the value of ``prop``) is not a customer-managed key, or None."""
    if not is_set(key):
        return f"`{prop}` is not set: no customer-managed key encrypts this data"
    if _aws_managed(key):
        return f"`{prop}` is the AWS-managed key {key}, not a customer-managed key"
    return None


# --- kms-key-rotation ---------------------------------------------------------------------


def _key_rotation(props: Props, config: Config) -> Iterator[str]:
    if props.get("enableKeyRotation") is not True:
        yield "automatic key rotation is off"


resource_policy(
    "kms-key-rotation",
    description="Customer-managed KMS keys rotate their key material automatically.",
    severity=Severity.MEDIUM,
    refs=(fsbp("KMS.4"), cis("3.6")),
    remediation="Set `enable_key_rotation=True` on the `aws.kms.Key` (yearly by default).",
    types=("aws:kms/key:Key",),
    check=_key_rotation,
)


# --- kms-key-deletion-window --------------------------------------------------------------


def _deletion_window(props: Props, config: Config) -> Iterator[str]:
    minimum = config.get("minimumDays", 7)
    days = props.get("deletionWindowInDays")
    if days is None:
        days = KMS_DELETION_WINDOW_DEFAULT_DAYS
    if isinstance(days, (int, float)) and days < minimum:
        yield (
            f"`deletionWindowInDays` is {days:g}: a deleted key can be recovered for fewer than "
            f"{minimum} days"
        )


resource_policy(
    "kms-key-deletion-window",
    description="KMS keys keep a pending-deletion window long enough to undo a mistaken deletion.",
    severity=Severity.MEDIUM,
    refs=(platform("KMS.DELETION_WINDOW"), fsbp("KMS.3")),
    remediation="Set `deletion_window_in_days` on the `aws.kms.Key` to at least the configured "
    "`minimumDays` (30 in prod; leaving it unset gives AWS's 30). Data encrypted under a deleted "
    "key is lost for good; the window is the only way back.",
    types=("aws:kms/key:Key",),
    check=_deletion_window,
    config_schema={
        "minimumDays": {
            "type": "integer",
            "minimum": 7,
            "maximum": 30,
            "default": 7,
            "description": "Fewest days a scheduled key deletion can still be cancelled.",
        }
    },
)


# --- kms-key-policy-least-privilege -------------------------------------------------------


def _wildcard_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def _key_policy(props: Props, config: Config) -> Iterator[str]:
    raw = props.get("policy")
    if not is_set(raw):
        yield (
            "`policy` is not set: AWS applies its default key policy, which allows `kms:*` to "
            "the account root"
        )
        return
    found = statements(raw)
    if not found:
        yield "`policy` is not a readable policy document with statements"
        return
    for index, statement in enumerate(found):
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid")
        label = f'statement "{sid}"' if sid else f"statement #{index}"
        actions = {str(a).lower() for a in as_list(statement.get("Action"))}
        for broad in sorted(actions & {"*", "kms:*"}):
            yield f"`policy` {label} allows `{broad}`: list the KMS actions it needs"
        if "NotAction" in statement:
            yield f"`policy` {label} is an Allow with `NotAction`, which allows every other action"
        if _wildcard_principal(statement.get("Principal")) and not statement.get("Condition"):
            yield f"`policy` {label} allows any principal (`*`) without a `Condition`"


resource_policy(
    "kms-key-policy-least-privilege",
    description="KMS key policies grant listed actions to named principals, never `kms:*` or "
    "everyone.",
    severity=Severity.HIGH,
    refs=(fsbp("KMS.5"), platform("KMS.KEY_POLICY")),
    remediation="Pass an explicit `policy` to the `aws.kms.Key` (or `aws.kms.KeyPolicy`) whose "
    "Allow statements list the `kms:` actions each principal needs (see "
    "`components/iam_documents.py`); give a `Principal` of `*` only with a `Condition` that "
    "narrows it (e.g. `kms:CallerAccount`, `kms:ViaService`) and use no `NotAction` in Allow.",
    types=("aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy"),
    check=_key_policy,
)


# --- msk-encryption-at-rest-cmk -----------------------------------------------------------


def _msk_at_rest(props: Props, config: Config) -> Iterator[str]:
    problem = _cmk_problem(
        get(props, "encryptionInfo.encryptionAtRestKmsKeyArn"),
        "encryptionInfo.encryptionAtRestKmsKeyArn",
    )
    if problem:
        yield problem


resource_policy(
    "msk-encryption-at-rest-cmk",
    description="MSK broker storage is encrypted with a customer-managed KMS key.",
    severity=Severity.HIGH,
    refs=(platform("MSK.TLS_IAM_CMK"),),
    remediation="Set `encryption_info=aws.msk.ClusterEncryptionInfoArgs("
    "encryption_at_rest_kms_key_arn=<data key>.arn, ...)` on the `aws.msk.Cluster`. The key "
    "cannot be changed on an existing cluster: this replaces it.",
    types=("aws:msk/cluster:Cluster",),
    check=_msk_at_rest,
)


# --- elasticache-encryption-at-rest-cmk ---------------------------------------------------


def _elasticache_at_rest(props: Props, config: Config) -> Iterator[str]:
    if not is_true(props.get("atRestEncryptionEnabled")):
        yield "`atRestEncryptionEnabled` is not true: data and snapshots are stored unencrypted"
    problem = _cmk_problem(props.get("kmsKeyId"), "kmsKeyId")
    if problem:
        yield problem


resource_policy(
    "elasticache-encryption-at-rest-cmk",
    description="ElastiCache replication groups encrypt data at rest with a customer-managed "
    "KMS key.",
    severity=Severity.HIGH,
    refs=(fsbp("ElastiCache.4"), platform("ELASTICACHE.TLS_CMK_AUTH_MULTIAZ")),
    remediation="Set `at_rest_encryption_enabled=True` and `kms_key_id=<data key>.arn` on the "
    "`aws.elasticache.ReplicationGroup` (both force a new group).",
    types=("aws:elasticache/replicationGroup:ReplicationGroup",),
    check=_elasticache_at_rest,
)


# --- eks-secrets-encryption ---------------------------------------------------------------


def _eks_secrets(props: Props, config: Config) -> Iterator[str]:
    configs = [c for c in as_list(props.get("encryptionConfig")) if isinstance(c, Mapping)]
    if not configs:
        yield "`encryptionConfig` is not set: Kubernetes Secrets have no envelope encryption"
        return
    for_secrets = [c for c in configs if "secrets" in as_list(c.get("resources"))]
    if not for_secrets:
        yield '`encryptionConfig.resources` does not include "secrets"'
        return
    for entry in for_secrets:
        problem = _cmk_problem(get(entry, "provider.keyArn"), "encryptionConfig.provider.keyArn")
        if problem:
            yield problem


resource_policy(
    "eks-secrets-encryption",
    description="EKS clusters envelope-encrypt Kubernetes Secrets with a customer-managed KMS key.",
    severity=Severity.HIGH,
    refs=(fsbp("EKS.3"), platform("EKS.PRIVATE_ENCRYPTED_LOGGED")),
    remediation='Set `encryption_config=aws.eks.ClusterEncryptionConfigArgs(resources=["secrets"], '
    "provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=<cluster key>.arn))` on the "
    "`aws.eks.Cluster`; the cluster role needs `kms:Encrypt`, `kms:Decrypt`, `kms:DescribeKey` "
    "and `kms:ListGrants` on the key.",
    types=("aws:eks/cluster:Cluster",),
    check=_eks_secrets,
)


# --- log-group-kms ------------------------------------------------------------------------


def _log_group(props: Props, config: Config) -> Iterator[str]:
    problem = _cmk_problem(props.get("kmsKeyId"), "kmsKeyId")
    if problem:
        yield problem


resource_policy(
    "log-group-kms",
    description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
    severity=Severity.MEDIUM,
    refs=(platform("LOGS.ENCRYPTION_RETENTION"),),
    remediation="Set `kms_key_id=<logs key>.arn` on the `aws.cloudwatch.LogGroup`; the key "
    "policy must let `logs.<region>.amazonaws.com` use the key for this account's log groups "
    "(the `CloudWatchLogs` statement of the logs key).",
    types=("aws:cloudwatch/logGroup:LogGroup",),
    check=_log_group,
)


# --- sns-topic-kms ------------------------------------------------------------------------


def _sns_topic(props: Props, config: Config) -> Iterator[str]:
    key = props.get("kmsMasterKeyId")
    if not is_set(key):
        yield "`kmsMasterKeyId` is not set: messages are stored without KMS encryption"
    elif _aws_managed(key):
        yield f"`kmsMasterKeyId` is the AWS-managed key {key}, not a customer-managed key"


resource_policy(
    "sns-topic-kms",
    description="SNS topics encrypt messages at rest with a customer-managed KMS key.",
    severity=Severity.MEDIUM,
    # SNS.1 left the FSBP standard in April 2024 (still in NIST 800-53): a platform rule here.
    refs=(platform("SNS.CMK"),),
    remediation="Set `kms_master_key_id=<key>.arn` on the `aws.sns.Topic`, not `alias/aws/sns`; "
    "publishers and the services that publish (e.g. CloudWatch alarms) need `kms:GenerateDataKey` "
    "and `kms:Decrypt` on the key.",
    types=("aws:sns/topic:Topic",),
    check=_sns_topic,
)


# --- secret-cmk ---------------------------------------------------------------------------


def _secret(props: Props, config: Config) -> Iterator[str]:
    problem = _cmk_problem(props.get("kmsKeyId"), "kmsKeyId")
    if problem:
        yield problem


resource_policy(
    "secret-cmk",
    description="Secrets Manager secrets are encrypted with a customer-managed KMS key.",
    severity=Severity.HIGH,
    refs=(platform("SECRETS.CMK"),),
    remediation="Set `kms_key_id=<secrets key>.arn` on the `aws.secretsmanager.Secret` (without "
    "it, or with `alias/aws/secretsmanager`, the account's AWS-managed key is used and any "
    "principal with `secretsmanager:GetSecretValue` can read the value).",
    types=("aws:secretsmanager/secret:Secret",),
    check=_secret,
)


# --- ebs-volumes-encrypted-cmk ------------------------------------------------------------


def _ebs_problems(ebs: Mapping[str, Any], where: str) -> Iterator[str]:
    if not is_true(ebs.get("encrypted")):
        yield f"`{where}encrypted` is not true: the volume is stored unencrypted"
    problem = _cmk_problem(ebs.get("kmsKeyId"), f"{where}kmsKeyId")
    if problem:
        yield problem


def _ebs(props: Props, config: Config) -> Iterator[str]:
    # The check sees properties, not the type: `availabilityZone` is a required input of
    # aws.ebs.Volume and no input of a launch template (whose zone sits in `placement`). The keys
    # are read by iterating, which never trips over a value unknown during preview.
    if "availabilityZone" in set(props):
        yield from _ebs_problems(props, "")
        return
    mappings = [m for m in as_list(props.get("blockDeviceMappings")) if isinstance(m, Mapping)]
    if not mappings:
        yield (
            "`blockDeviceMappings` is not set: the root volume follows the AMI's snapshot and the "
            "account default, not the platform key"
        )
        return
    for index, mapping in enumerate(mappings):
        ebs = mapping.get("ebs")
        if not isinstance(ebs, Mapping):
            continue  # instance-store or suppressed (noDevice) mappings hold no EBS volume
        yield from _ebs_problems(ebs, f"blockDeviceMappings[{index}].ebs.")


resource_policy(
    "ebs-volumes-encrypted-cmk",
    description="EBS volumes, standalone or from launch templates, are encrypted with a "
    "customer-managed KMS key.",
    severity=Severity.HIGH,
    refs=(fsbp("EC2.3"), cis("2.2.1")),
    remediation="On an `aws.ec2.LaunchTemplate`, give every `block_device_mappings` entry "
    '`ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(encrypted="true", '
    "kms_key_id=<data key>.arn, ...)`; on an `aws.ebs.Volume` set `encrypted=True` and "
    "`kms_key_id=<data key>.arn`. The key policy must let the Auto Scaling service-linked role "
    "use the key, or node launches fail.",
    types=("aws:ec2/launchTemplate:LaunchTemplate", "aws:ebs/volume:Volume"),
    check=_ebs,
)


# --- s3-bucket-default-encryption ---------------------------------------------------------

S3_KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
S3_ALGORITHMS = S3_KMS_ALGORITHMS | {"AES256"}


def _s3_encryption(props: Props, config: Config) -> Iterator[str]:
    rules = [r for r in as_list(props.get("rules")) if isinstance(r, Mapping)]
    if not rules:
        yield "`rules` is empty: the configuration sets no default encryption"
        return
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        algorithm = get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
        if not is_set(algorithm):
            yield f"`{where}.applyServerSideEncryptionByDefault.sseAlgorithm` is not set"
            continue
        if algorithm not in S3_ALGORITHMS:
            yield (
                f"`{where}.applyServerSideEncryptionByDefault.sseAlgorithm` is {algorithm!r}, "
                f"not one of {', '.join(sorted(S3_ALGORITHMS))}"
            )
            continue
        if algorithm in S3_KMS_ALGORITHMS:
            problem = _cmk_problem(
                get(rule, "applyServerSideEncryptionByDefault.kmsMasterKeyId"),
                f"{where}.applyServerSideEncryptionByDefault.kmsMasterKeyId",
            )
            if problem:
                yield problem
        # S3 Bucket Keys cut KMS requests (cost, and the per-key request quota) by ~99%; DSSE-KMS
        # does not support them, so only plain SSE-KMS must turn them on.
        if algorithm == "aws:kms" and not is_true(rule.get("bucketKeyEnabled")):
            yield f"`{where}.bucketKeyEnabled` is not true for an `aws:kms` rule"


resource_policy(
    "s3-bucket-default-encryption",
    description="S3 buckets set default encryption: SSE-KMS with a customer-managed key and a "
    "bucket key, or SSE-S3.",
    severity=Severity.HIGH,
    # SSE-S3 (AES256) is accepted here because the access-log bucket must use it (ADR 0002) and
    # a resource policy cannot tell which bucket is the log target; "data buckets use the CMK"
    # belongs to a stack policy that can see the logging relationships.
    refs=(platform("S3.ENCRYPTION"), fsbp("S3.4")),
    remediation="Give the bucket an `aws.s3.BucketServerSideEncryptionConfiguration` whose "
    '`rules` each set `apply_server_side_encryption_by_default=...Args(sse_algorithm="aws:kms", '
    'kms_master_key_id=<data key>.arn)` and `bucket_key_enabled=True`; `sse_algorithm="AES256"` '
    "only for a server-access-log target (ADR 0002).",
    types=(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ),
    check=_s3_encryption,
)
