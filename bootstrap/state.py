"""Where the platform's Pulumi state lives: the state bucket and the state-encryption key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs
from components.encryption import KEY_ADMIN_ACTIONS, KEY_USAGE_ACTIONS
from components.iam_documents import PolicyDocument, PolicyKind, Statement
from components.options import child, stateful

STATE_KEY_DELETION_WINDOW_DAYS = 30
"""Losing the state key makes every secret in every checkpoint unreadable: the longest
window AWS allows, in every environment."""


def state_key_alias(environment: str) -> str:
    """The alias the platform's stack files name in ``secretsprovider``."""
    return f"alias/feature-platform-{environment}-pulumi-state"


def state_bucket_logical_name(environment: str) -> str:
    """The state bucket is auto-named ``<this>-bucket-<7 hex>``."""
    return f"feature-platform-{environment}-pulumi-state"


def secrets_provider(environment: str, region: str) -> str:
    """The stack files' ``secretsprovider`` line, as ``pulumi stack init`` writes it."""
    return f"awskms://{state_key_alias(environment)}?region={region}"


@dataclass(frozen=True, kw_only=True)
class StateBackendArgs:
    account_id: str
    """The environment's account: the key policy delegates to its IAM."""
    environment: str
    """Names the key alias."""
    key_admin_role_arn: pulumi.Input[str]
    """Administers the key; cannot use it."""
    noncurrent_version_expiration_days: int
    """Days a replaced checkpoint is kept."""
    access_log_expiration_days: int
    """Days the bucket's access logs are kept."""


def state_key_policy(account_id: str, key_admin_role_arn: pulumi.Input[str]) -> PolicyDocument:
    """Account delegation (the deployer and previewer get use of the key from their own
    policies) and the key-admin role, as the platform's keys have (components/encryption.py)."""
    return PolicyDocument(
        PolicyKind.KEY,
        (
            Statement(
                sid="AccountIamDelegation",
                principals={"AWS": (f"arn:aws:iam::{account_id}:root",)},
                actions=tuple(sorted({*KEY_ADMIN_ACTIONS, *KEY_USAGE_ACTIONS, "kms:CreateGrant"})),
                resources=("*",),
            ),
            Statement(
                sid="KeyAdministration",
                principals={"AWS": (key_admin_role_arn,)},
                actions=KEY_ADMIN_ACTIONS,
                resources=("*",),
            ),
        ),
    )


class StateBackend(pulumi.ComponentResource):
    """The DIY backend's bucket (SSE-KMS with the state key, versioned, private, TLS-only,
    access-logged) and the key the ``awskms`` secrets provider encrypts state secrets with."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    key_alias: pulumi.Output[str]
    access_logs_bucket: pulumi.Output[str]

    def __init__(
        self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:bootstrap:StateBackend", name, None, opts)
        key, alias = self._key(name, args)
        logs, bucket = self._buckets(name, args, key)
        self.bucket_name = bucket.bucket_name
        self.bucket_arn = bucket.bucket_arn
        self.key_arn = key.arn
        self.key_alias = alias.name
        self.access_logs_bucket = logs.bucket_name
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
                "key_alias": self.key_alias,
                "access_logs_bucket": self.access_logs_bucket,
            }
        )

    def _key(self, name: str, args: StateBackendArgs) -> tuple[aws.kms.Key, aws.kms.Alias]:
        key = aws.kms.Key(
            f"{name}-key",
            description=f"feature-platform-{args.environment} Pulumi state secrets",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=STATE_KEY_DELETION_WINDOW_DAYS,
            policy=state_key_policy(args.account_id, args.key_admin_role_arn).to_json(),
            tags={"purpose": "pulumi-state"},
            opts=stateful(self, protect=True),
        )
        alias = aws.kms.Alias(
            f"{name}-key-alias",
            name=state_key_alias(args.environment),
            target_key_id=key.key_id,
            opts=child(self),
        )
        return key, alias

    def _buckets(
        self, name: str, args: StateBackendArgs, key: aws.kms.Key
    ) -> tuple[SecureBucket, SecureBucket]:
        # S3 server access logging delivers only to SSE-S3 buckets (ADR 0002): the log
        # bucket holds request metadata, the state bucket the checkpoints.
        # Physical names derive from these logical names: the deployer's and previewer's
        # policies grant the state on ``feature-platform-<env>-pulumi-state-*`` (auto-named
        # ``<logical>-bucket-<random>``), and only the state bucket may match it.
        logs = SecureBucket(
            f"feature-platform-{args.environment}-state-access-logs",
            SecureBucketArgs(
                kms_key_arn=None,
                force_destroy=False,
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                expiration_days=args.access_log_expiration_days,
                protect=True,
                log_delivery_account_id=args.account_id,
            ),
            opts=child(self),
        )
        bucket = SecureBucket(
            state_bucket_logical_name(args.environment),
            SecureBucketArgs(
                kms_key_arn=key.arn,
                force_destroy=False,
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                protect=True,
                access_log_bucket=logs,
            ),
            opts=child(self),
        )
        return logs, bucket
