"""KMS, Secrets Manager and CloudWatch Logs checks."""

from __future__ import annotations

from collections.abc import Iterable

from blueprint.audit.model import (
    AuditContext,
    Finding,
    Status,
    check,
    customer_managed,
    tag_dict,
    verdict,
)


@check(
    "KMS.ROTATION",
    "Customer-managed symmetric keys rotate automatically",
    service="kms",
    permissions=(
        "kms:ListKeys",
        "kms:DescribeKey",
        "kms:ListResourceTags",
        "kms:GetKeyRotationStatus",
    ),
    types=("aws:kms/key:Key",),
)
def rotation(ctx: AuditContext) -> Iterable[Finding]:
    kms = ctx.client("kms")
    for key in ctx.pages("kms", "list_keys", "Keys"):
        metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if (
            metadata.get("KeyManager") != "CUSTOMER"
            or metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT"
            or metadata.get("KeyState") in ("PendingDeletion", "Disabled")
        ):
            continue
        tags = tag_dict(
            kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags"), "TagKey", "TagValue"
        )
        if not ctx.in_scope(tags):
            continue
        enabled = kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
        yield Finding(
            "KMS.ROTATION",
            metadata["Arn"],
            Status.PASS if enabled else Status.FAIL,
            "" if enabled else "automatic rotation is off",
        )


@check(
    "SECRETS.CMK",
    "Secrets are encrypted with a customer-managed key",
    service="secretsmanager",
    permissions=("secretsmanager:ListSecrets", "kms:DescribeKey"),
    types=("aws:secretsmanager/secret:Secret",),
)
def secrets_cmk(ctx: AuditContext) -> Iterable[Finding]:
    for secret in ctx.pages("secretsmanager", "list_secrets", "SecretList"):
        if not ctx.in_scope(tag_dict(secret.get("Tags"))):
            continue
        if customer_managed(ctx, secret.get("KmsKeyId")):
            yield Finding("SECRETS.CMK", secret["ARN"], Status.PASS)
        else:
            yield Finding(
                "SECRETS.CMK", secret["ARN"], Status.FAIL, "AWS-managed key aws/secretsmanager"
            )


@check(
    "SECRETS.ROTATED",
    "Secrets rotate, have rotated at least once, and no rotation is left incomplete",
    service="secretsmanager",
    permissions=("secretsmanager:ListSecrets",),
    types=("aws:secretsmanager/secret:Secret",),
)
def secrets_rotated(ctx: AuditContext) -> Iterable[Finding]:
    # RotateSecret returns before the rotation runs, so `pulumi up` never learns whether the
    # first rotation (which retires the value written at deploy) finished; this does.
    for secret in ctx.pages("secretsmanager", "list_secrets", "SecretList"):
        if not ctx.in_scope(tag_dict(secret.get("Tags"))):
            continue
        problems = []
        if not secret.get("RotationEnabled"):
            problems.append("rotation is off")
        elif not secret.get("LastRotatedDate"):
            problems.append("never rotated: the value written at deploy is still current")
        stuck = sorted(
            version
            for version, stages in (secret.get("SecretVersionsToStages") or {}).items()
            if "AWSPENDING" in stages and "AWSCURRENT" not in stages
        )
        if stuck:
            problems.append(
                f"rotation incomplete: AWSPENDING on {stuck[0]} (later rotations are refused)"
            )
        yield verdict("SECRETS.ROTATED", secret["ARN"], problems)


@check(
    "LOGS.ENCRYPTION_RETENTION",
    "Log groups are KMS-encrypted and expire",
    service="logs",
    permissions=("logs:DescribeLogGroups", "logs:ListTagsForResource"),
    types=("aws:cloudwatch/logGroup:LogGroup",),
)
def log_groups(ctx: AuditContext) -> Iterable[Finding]:
    logs = ctx.client("logs")
    for group in ctx.pages("logs", "describe_log_groups", "logGroups"):
        arn = group["arn"].removesuffix(":*")
        tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
        if not ctx.in_scope(tags):
            continue
        problems = []
        if not group.get("kmsKeyId"):
            problems.append("not KMS-encrypted")
        if not group.get("retentionInDays"):
            problems.append("kept forever (no retention)")
        yield Finding(
            "LOGS.ENCRYPTION_RETENTION",
            group["logGroupName"],
            Status.FAIL if problems else Status.PASS,
            "; ".join(problems) or f"{group['retentionInDays']} days",
        )
