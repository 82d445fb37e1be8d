"""Customer-managed KMS keys, one per purpose, with explicit key policies."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_aws as aws

from components.iam_documents import PolicyDocument, PolicyKind, Statement
from components.options import child, stateful

# Key administration: manage the key, never use it (separation of duties).
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)

KEY_USAGE_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


class KeyPurpose(StrEnum):
    DATA = "data"  # S3 offline store and registry, MSK, ElastiCache, EBS volumes
    LOGS = "logs"  # CloudWatch log groups
    SECRETS = "secrets"  # Secrets Manager
    CLUSTER = "cluster"  # EKS secrets envelope encryption
    ALERTS = "alerts"  # SNS alert topics


ALERT_PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "aps.amazonaws.com")
"""Services that publish to the alert topics: CloudWatch alarms, EventBridge rules and the
managed Prometheus alert manager. A publisher to an encrypted topic needs the key itself."""
ALERT_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
"""What SNS calls on a publisher's behalf to encrypt a message (SNS developer guide,
"Enable compatibility between event sources from AWS services and encrypted topics")."""


@dataclass(frozen=True, kw_only=True)
class EncryptionArgs:
    account_id: str
    """The environment's account: the key policies delegate to its IAM."""
    region: str
    """Region of the keys (log-group ARNs in the logs key condition)."""
    alias_prefix: str
    """Alias names are ``alias/<prefix>-<purpose>``."""
    key_admin_role_arn: str
    """Role that administers the keys; it cannot use them."""
    deployer_role_arn: str
    """The role ``pulumi up`` runs as: the services it creates resources in (EKS, MSK,
    ElastiCache, Lambda, Secrets Manager, managed Prometheus) check its use of the key."""
    deletion_window_days: int
    """Pending-deletion window (7-30 days)."""
    protect: bool
    """Protect the keys from deletion (prod)."""


def key_policy(args: EncryptionArgs, purpose: KeyPurpose) -> PolicyDocument:
    """Account delegation, the key-admin role, and the service principals this key serves.

    The account statement lets IAM policies in this account grant use of the key (so
    workload roles get ``kms:Decrypt`` on this key's ARN only, from their own policy). It
    lists actions explicitly instead of ``kms:*``.
    """
    root = f"arn:aws:iam::{args.account_id}:root"
    statements = [
        Statement(
            sid="AccountIamDelegation",
            principals={"AWS": (root,)},
            actions=tuple(sorted({*KEY_ADMIN_ACTIONS, *KEY_USAGE_ACTIONS, "kms:CreateGrant"})),
            resources=("*",),
        ),
        Statement(
            sid="KeyAdministration",
            principals={"AWS": (args.key_admin_role_arn,)},
            actions=KEY_ADMIN_ACTIONS,
            resources=("*",),
        ),
        # The deployer's own policy is written before the keys exist (bootstrap), so it cannot
        # name them; the key names the deployer instead. Grants only for AWS resources: the
        # services hold them, never a person.
        Statement(
            sid="DeployerUse",
            principals={"AWS": (args.deployer_role_arn,)},
            actions=KEY_USAGE_ACTIONS,
            resources=("*",),
        ),
        Statement(
            sid="DeployerGrantsForAwsResources",
            principals={"AWS": (args.deployer_role_arn,)},
            actions=("kms:CreateGrant",),
            resources=("*",),
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    ]
    if purpose is KeyPurpose.LOGS:
        # CloudWatch Logs calls KMS as its service principal, not through IAM delegation;
        # the encryption-context condition limits it to log groups of this account.
        statements.append(
            Statement(
                sid="CloudWatchLogs",
                principals={"Service": (f"logs.{args.region}.amazonaws.com",)},
                actions=KEY_USAGE_ACTIONS,
                resources=("*",),
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:aws:logs:{args.region}:{args.account_id}:log-group:*"
                        )
                    }
                },
            )
        )
    if purpose is KeyPurpose.DATA:
        # Node root volumes are encrypted with this key, and EC2 Auto Scaling launches the
        # nodes with its service-linked role, whose own policy grants no KMS use: without
        # these statements every node launch fails (Client.InternalError). The role must
        # exist before the key policy names it (see the bootstrap runbook).
        autoscaling = (
            f"arn:aws:iam::{args.account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
            "AWSServiceRoleForAutoScaling"
        )
        statements += [
            Statement(
                sid="AutoScalingVolumes",
                principals={"AWS": (autoscaling,)},
                actions=KEY_USAGE_ACTIONS,
                resources=("*",),
            ),
            Statement(
                sid="AutoScalingVolumeGrants",
                principals={"AWS": (autoscaling,)},
                actions=("kms:CreateGrant",),
                resources=("*",),
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
        ]
    if purpose is KeyPurpose.ALERTS:
        statements += _alert_publishers(args)
    return PolicyDocument(PolicyKind.KEY, tuple(statements))


def _alert_publishers(args: EncryptionArgs) -> list[Statement]:
    """Without these every notification to the encrypted topics is dropped (an alarm shows
    "Failed to execute action"). CloudWatch's calls carry ``aws:SourceAccount`` and the
    alarm's ARN, so they are limited to this account's platform alarms. EventBridge's do not
    (AWS documents the source keys as unsupported in a key policy for EventBridge delivery),
    nor do the managed Prometheus alert manager's in AWS's example: a condition on a key the
    call lacks would drop every alert without an error, so those two are unconditioned and
    the topic policies, which do see the source, scope them."""
    cloudwatch, *others = ALERT_PUBLISHERS
    return [
        Statement(
            sid="CloudWatchAlarms",
            principals={"Service": (cloudwatch,)},
            actions=ALERT_KEY_ACTIONS,
            resources=("*",),
            conditions={
                "StringEquals": {"aws:SourceAccount": args.account_id},
                "ArnLike": {
                    "aws:SourceArn": (
                        f"arn:aws:cloudwatch:{args.region}:{args.account_id}:alarm:"
                        f"{args.alias_prefix}-*"
                    )
                },
            },
        ),
        Statement(
            sid="EventsAndAlertManager",
            principals={"Service": tuple(others)},
            actions=ALERT_KEY_ACTIONS,
            resources=("*",),
        ),
    ]


class Encryption(pulumi.ComponentResource):
    """One symmetric CMK per purpose, rotated yearly, with an alias."""

    data_key_arn: pulumi.Output[str]
    logs_key_arn: pulumi.Output[str]
    secrets_key_arn: pulumi.Output[str]
    cluster_key_arn: pulumi.Output[str]
    alerts_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:security:Encryption", name, None, opts)
        self.keys: dict[KeyPurpose, aws.kms.Key] = {}
        for purpose in KeyPurpose:
            key = aws.kms.Key(
                f"{name}-{purpose.value}",
                description=f"{args.alias_prefix} {purpose.value} key",
                key_usage="ENCRYPT_DECRYPT",
                customer_master_key_spec="SYMMETRIC_DEFAULT",
                enable_key_rotation=True,
                rotation_period_in_days=365,
                deletion_window_in_days=args.deletion_window_days,
                policy=key_policy(args, purpose).to_json(),
                tags={"purpose": purpose.value},
                opts=stateful(self, args.protect),
            )
            aws.kms.Alias(
                f"{name}-{purpose.value}-alias",
                name=f"alias/{args.alias_prefix}-{purpose.value}",
                target_key_id=key.key_id,
                opts=child(self),
            )
            self.keys[purpose] = key

        self.data_key_arn = self.keys[KeyPurpose.DATA].arn
        self.logs_key_arn = self.keys[KeyPurpose.LOGS].arn
        self.secrets_key_arn = self.keys[KeyPurpose.SECRETS].arn
        self.cluster_key_arn = self.keys[KeyPurpose.CLUSTER].arn
        self.alerts_key_arn = self.keys[KeyPurpose.ALERTS].arn
        self.register_outputs(
            {
                "alerts_key_arn": self.alerts_key_arn,
                "data_key_arn": self.data_key_arn,
                "logs_key_arn": self.logs_key_arn,
                "secrets_key_arn": self.secrets_key_arn,
                "cluster_key_arn": self.cluster_key_arn,
            }
        )
