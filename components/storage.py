"""S3 for the feature platform: the offline store, the feature registry and access logs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi

from components.bucket import SecureBucket, SecureBucketArgs
from components.options import child


@dataclass(frozen=True, kw_only=True)
class StorageArgs:
    account_id: str
    """The environment's account (only its buckets may log into the log bucket)."""
    data_key_arn: pulumi.Input[str]
    """KMS key of the offline store and the registry."""
    force_destroy: bool
    """Allow destroying non-empty buckets (never in prod)."""
    noncurrent_version_expiration_days: int
    """Days a replaced object version is kept."""
    offline_tiering_days: int
    """Days before offline-store objects move to Intelligent-Tiering."""
    access_log_expiration_days: int
    """Days server access logs are kept."""
    protect: bool
    """Protect the buckets from deletion (prod)."""


class Storage(pulumi.ComponentResource):
    """Offline store (historical features, training sets), registry (feature definitions),
    and the bucket that receives both buckets' server access logs."""

    offline_store_bucket: pulumi.Output[str]
    offline_store_arn: pulumi.Output[str]
    registry_bucket: pulumi.Output[str]
    registry_arn: pulumi.Output[str]
    access_logs_bucket: pulumi.Output[str]

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:storage:Storage", name, None, opts)

        # S3 server access logging only delivers to buckets encrypted with SSE-S3, so this
        # one bucket cannot use the KMS key (ADR 0002). It holds request metadata, not data.
        logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                kms_key_arn=None,
                force_destroy=args.force_destroy,
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                expiration_days=args.access_log_expiration_days,
                protect=args.protect,
                log_delivery_account_id=args.account_id,
            ),
            opts=child(self),
        )
        registry_args = SecureBucketArgs(
            kms_key_arn=args.data_key_arn,
            force_destroy=args.force_destroy,
            noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
            protect=args.protect,
            access_log_bucket=logs,
        )
        offline = SecureBucket(
            f"{name}-offline-store",
            replace(registry_args, intelligent_tiering_days=args.offline_tiering_days),
            opts=child(self),
        )
        registry = SecureBucket(f"{name}-registry", registry_args, opts=child(self))

        self.offline_store_bucket = offline.bucket_name
        self.offline_store_arn = offline.bucket_arn
        self.registry_bucket = registry.bucket_name
        self.registry_arn = registry.bucket_arn
        self.access_logs_bucket = logs.bucket_name
        self.register_outputs(
            {
                "offline_store_bucket": self.offline_store_bucket,
                "offline_store_arn": self.offline_store_arn,
                "registry_bucket": self.registry_bucket,
                "registry_arn": self.registry_arn,
                "access_logs_bucket": self.access_logs_bucket,
            }
        )
