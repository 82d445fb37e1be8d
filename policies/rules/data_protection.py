"""Data protection: nothing public, nothing lost to one mistaken delete or one failed node.

Availability and recovery rules (multi-AZ, snapshots, deletion protection, ``force_destroy``)
cost money; the pack makes them mandatory and ``policies/config/dev.json`` relaxes them for dev.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._base import (
    Config,
    Props,
    Severity,
    cis,
    fsbp,
    get,
    is_true,
    platform,
    resource_policy,
)

SECRETS_MANAGER_DEFAULT_RECOVERY_DAYS = 30
"""What Secrets Manager applies when ``recoveryWindowInDays`` is not set."""

PUBLIC_ACCESS_FLAGS = {
    "blockPublicAcls": "new public ACLs are accepted",
    "blockPublicPolicy": "a bucket policy granting public access can be attached",
    "ignorePublicAcls": "public ACLs already on the bucket or its objects take effect",
    "restrictPublicBuckets": "a public bucket policy lets anyone in",
}
"""Each flag of a public access block and what stays possible while it is off."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


# --- s3-bucket-versioning -----------------------------------------------------------------


def _s3_versioning(props: Props, config: Config) -> Iterator[str]:
    status = get(props, "versioningConfiguration.status")
    if status is None:
        yield (
            "`versioningConfiguration.status` is not set: overwritten or deleted objects cannot "
            "be restored"
        )
    elif status != "Enabled":
        yield (
            f'`versioningConfiguration.status` is "{status}", not "Enabled": overwritten or '
            "deleted objects cannot be restored"
        )


resource_policy(
    "s3-bucket-versioning",
    description="S3 buckets keep object versions so overwrites and deletes can be undone.",
    severity=Severity.MEDIUM,
    refs=(platform("S3.VERSIONING"),),
    remediation="Give the bucket an `aws.s3.BucketVersioning` with "
    '`versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled")`'
    "; expire noncurrent versions with a lifecycle rule to bound the cost.",
    types=(
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    ),
    check=_s3_versioning,
)


# --- s3-public-access-block ---------------------------------------------------------------


def _s3_public_access_block(props: Props, config: Config) -> Iterator[str]:
    for flag, risk in PUBLIC_ACCESS_FLAGS.items():
        # An absent flag is false: the API leaves that kind of public access allowed.
        if not is_true(props.get(flag)):
            yield f"`{flag}` is not true: {risk}"


resource_policy(
    "s3-public-access-block",
    description="S3 buckets block public access with all four public access block settings.",
    severity=Severity.HIGH,
    refs=(fsbp("S3.8"), cis("2.1.4"), platform("S3.PUBLIC_ACCESS_BLOCK")),
    remediation="Set `block_public_acls=True`, `block_public_policy=True`, "
    "`ignore_public_acls=True` and `restrict_public_buckets=True` on the "
    "`aws.s3.BucketPublicAccessBlock` of every bucket.",
    types=("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",),
    check=_s3_public_access_block,
)


# --- s3-bucket-no-force-destroy -----------------------------------------------------------


def _s3_force_destroy(props: Props, config: Config) -> Iterator[str]:
    if is_true(props.get("forceDestroy")):
        yield (
            "`forceDestroy` is true: deleting the resource empties the bucket, every object "
            "version included"
        )


resource_policy(
    "s3-bucket-no-force-destroy",
    description="S3 buckets cannot be deleted together with their objects by a Pulumi destroy.",
    severity=Severity.MEDIUM,
    refs=(platform("STATEFUL.FORCE_DESTROY"),),
    remediation="Leave `force_destroy` unset (False) on the `aws.s3.Bucket` "
    "(`storage.forceDestroy: false`); empty a bucket deliberately before removing it.",
    types=("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"),
    check=_s3_force_destroy,
)


# --- elasticache-snapshots ----------------------------------------------------------------


def _elasticache_snapshots(props: Props, config: Config) -> Iterator[str]:
    minimum = config.get("minimumRetentionDays", 1)
    retention = _number(props.get("snapshotRetentionLimit"))
    if retention is None or retention < minimum:
        shown = "not set (0, no snapshots)" if retention is None else f"{retention:g}"
        yield f"`snapshotRetentionLimit` is {shown}, fewer than {minimum} days"
    final = props.get("finalSnapshotIdentifier")
    if not (isinstance(final, str) and final.strip()):
        yield "`finalSnapshotIdentifier` is not set: deleting the group keeps no snapshot"


resource_policy(
    "elasticache-snapshots",
    description="ElastiCache replication groups keep daily snapshots and take a final one on "
    "deletion.",
    severity=Severity.MEDIUM,
    refs=(fsbp("ElastiCache.1"),),
    remediation="Set `snapshot_retention_limit` to at least the configured "
    "`minimumRetentionDays` (7 in prod) with a `snapshot_window`, and "
    "`final_snapshot_identifier` on the `aws.elasticache.ReplicationGroup`.",
    types=("aws:elasticache/replicationGroup:ReplicationGroup",),
    check=_elasticache_snapshots,
    config_schema={
        "minimumRetentionDays": {
            "type": "integer",
            "minimum": 1,
            "maximum": 35,
            "default": 1,
            "description": "Fewest days automatic snapshots are kept (ElastiCache allows 35).",
        }
    },
)


# --- elasticache-multi-az -----------------------------------------------------------------


def _elasticache_multi_az(props: Props, config: Config) -> Iterator[str]:
    if not is_true(props.get("automaticFailoverEnabled")):
        yield (
            "`automaticFailoverEnabled` is not true: a failed primary is not replaced by a replica"
        )
    if not is_true(props.get("multiAzEnabled")):
        yield "`multiAzEnabled` is not true: replicas may share the primary's Availability Zone"


resource_policy(
    "elasticache-multi-az",
    description="ElastiCache replication groups fail over automatically to replicas in other "
    "Availability Zones.",
    severity=Severity.MEDIUM,
    refs=(fsbp("ElastiCache.3"), platform("ELASTICACHE.TLS_CMK_AUTH_MULTIAZ")),
    remediation="Set `automatic_failover_enabled=True` and `multi_az_enabled=True` on the "
    "`aws.elasticache.ReplicationGroup`, with at least one replica (`replicas_per_node_group` "
    "or `num_cache_clusters` ≥ 2) and a subnet group spanning several zones "
    "(`dataStores.multiAz`).",
    types=("aws:elasticache/replicationGroup:ReplicationGroup",),
    check=_elasticache_multi_az,
)


# --- eks-deletion-protection --------------------------------------------------------------


def _eks_deletion_protection(props: Props, config: Config) -> Iterator[str]:
    if not is_true(props.get("deletionProtection")):
        yield "`deletionProtection` is not true: the cluster can be deleted by one API call"


resource_policy(
    "eks-deletion-protection",
    description="EKS clusters have deletion protection on.",
    severity=Severity.MEDIUM,
    refs=(platform("STATEFUL.EKS_DELETION_PROTECTION"),),
    remediation="Set `deletion_protection=True` on the `aws.eks.Cluster` "
    "(`protection.protectStateful: true`); turn it off in a separate update before a planned "
    "deletion.",
    types=("aws:eks/cluster:Cluster",),
    check=_eks_deletion_protection,
)


# --- secret-recovery-window ---------------------------------------------------------------


def _secret_recovery(props: Props, config: Config) -> Iterator[str]:
    minimum = config.get("minimumDays", 7)
    raw = props.get("recoveryWindowInDays")
    days = SECRETS_MANAGER_DEFAULT_RECOVERY_DAYS if raw is None else _number(raw)
    if days is None:
        return
    if days == 0:
        yield "`recoveryWindowInDays` is 0: deleting the secret destroys it at once, unrecoverable"
    elif days < minimum:
        yield f"`recoveryWindowInDays` is {days:g}, fewer than {minimum} days"


resource_policy(
    "secret-recovery-window",
    description="Deleted Secrets Manager secrets stay recoverable for a minimum number of days.",
    severity=Severity.MEDIUM,
    refs=(platform("STATEFUL.SECRET_RECOVERY_WINDOW"),),
    remediation="Set `recovery_window_in_days` on the `aws.secretsmanager.Secret` to at least the "
    "configured `minimumDays` (`secrets.recoveryWindowDays`; unset gives AWS's 30), never 0.",
    types=("aws:secretsmanager/secret:Secret",),
    check=_secret_recovery,
    config_schema={
        "minimumDays": {
            "type": "integer",
            "minimum": 7,
            "maximum": 30,
            "default": 7,
            "description": "Fewest days a deleted secret can be restored (Secrets Manager: 7-30).",
        }
    },
)
