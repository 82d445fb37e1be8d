"""S3 checks."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from blueprint.audit.model import (
    AuditContext,
    Finding,
    Status,
    check,
    customer_managed,
    error_code,
    tag_dict,
)

S3_LOGGING_PRINCIPAL = "logging.s3.amazonaws.com"
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _buckets(ctx: AuditContext) -> Iterable[str]:
    s3 = ctx.client("s3")
    for bucket in ctx.pages("s3", "list_buckets", "Buckets"):
        name = bucket["Name"]
        try:
            tags = tag_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchTagSet":
                raise
            tags = {}
        if ctx.in_scope(tags):
            yield name


def _policy(ctx: AuditContext, bucket: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]))
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucketPolicy":
            return None
        raise


def _statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not policy:
        return []
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_log_target(policy: dict[str, Any] | None) -> bool:
    """The bucket receives S3 server access logs (which require SSE-S3)."""
    return any(
        s.get("Effect") == "Allow"
        and S3_LOGGING_PRINCIPAL in _as_list((s.get("Principal") or {}).get("Service", []))
        for s in _statements(policy)
        if isinstance(s.get("Principal"), dict)
    )


@check(
    "S3.ENCRYPTION",
    "Buckets encrypt with a customer-managed KMS key (access-log targets: SSE-S3)",
    service="s3",
    permissions=(
        "s3:ListAllMyBuckets",
        "s3:GetBucketTagging",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketPolicy",
        "kms:DescribeKey",
    ),
    types=("aws:s3/bucket:Bucket",),
)
def encryption(ctx: AuditContext) -> Iterable[Finding]:
    s3 = ctx.client("s3")
    for bucket in _buckets(ctx):
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
                "Rules"
            ]
        except ClientError as exc:
            if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            yield Finding("S3.ENCRYPTION", bucket, Status.FAIL, "no default encryption")
            continue
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
        algorithm = default.get("SSEAlgorithm")
        if algorithm in ("aws:kms", "aws:kms:dsse") and customer_managed(
            ctx, default.get("KMSMasterKeyID")
        ):
            yield Finding("S3.ENCRYPTION", bucket, Status.PASS, f"{algorithm} with a CMK")
        elif algorithm == "AES256" and _is_log_target(_policy(ctx, bucket)):
            yield Finding(
                "S3.ENCRYPTION",
                bucket,
                Status.PASS,
                "SSE-S3: server access-log target (S3 logging cannot use SSE-KMS)",
            )
        else:
            yield Finding(
                "S3.ENCRYPTION", bucket, Status.FAIL, f"{algorithm} without a customer-managed key"
            )


@check(
    "S3.PUBLIC_ACCESS_BLOCK",
    "Buckets block public access with all four flags",
    service="s3",
    permissions=("s3:ListAllMyBuckets", "s3:GetBucketTagging", "s3:GetBucketPublicAccessBlock"),
    types=("aws:s3/bucket:Bucket",),
)
def public_access_block(ctx: AuditContext) -> Iterable[Finding]:
    s3 = ctx.client("s3")
    for bucket in _buckets(ctx):
        try:
            flags = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
                raise
            flags = {}
        missing = [flag for flag in PAB_FLAGS if not flags.get(flag)]
        if missing:
            yield Finding(
                "S3.PUBLIC_ACCESS_BLOCK", bucket, Status.FAIL, f"off: {', '.join(missing)}"
            )
        else:
            yield Finding("S3.PUBLIC_ACCESS_BLOCK", bucket, Status.PASS)


@check(
    "S3.VERSIONING",
    "Buckets keep object versions",
    service="s3",
    permissions=("s3:ListAllMyBuckets", "s3:GetBucketTagging", "s3:GetBucketVersioning"),
    types=("aws:s3/bucket:Bucket",),
)
def versioning(ctx: AuditContext) -> Iterable[Finding]:
    s3 = ctx.client("s3")
    for bucket in _buckets(ctx):
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
        result = Status.PASS if status == "Enabled" else Status.FAIL
        yield Finding("S3.VERSIONING", bucket, result, f"versioning {status}")


@check(
    "S3.TLS_ONLY",
    "Bucket policies deny requests without TLS",
    service="s3",
    permissions=("s3:ListAllMyBuckets", "s3:GetBucketTagging", "s3:GetBucketPolicy"),
    types=("aws:s3/bucket:Bucket",),
)
def tls_only(ctx: AuditContext) -> Iterable[Finding]:
    for bucket in _buckets(ctx):
        denies = any(
            s.get("Effect") == "Deny"
            and s.get("Principal") in ("*", {"AWS": "*"}, {"AWS": ["*"]})
            # every request: a Deny of s3:PutObject alone still serves reads over plain HTTP
            and any(a in ("*", "s3:*") for a in _as_list(s.get("Action", [])))
            # the condition value may be a scalar or a list ("false" or ["false"])
            and any(
                str(v).lower() == "false"
                for v in _as_list(
                    (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
                )
            )
            for s in _statements(_policy(ctx, bucket))
        )
        if denies:
            yield Finding("S3.TLS_ONLY", bucket, Status.PASS)
        else:
            yield Finding(
                "S3.TLS_ONLY", bucket, Status.FAIL, "no Deny on aws:SecureTransport=false"
            )
