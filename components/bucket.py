"""An S3 bucket with every protection on: the building block of the storage component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam_documents import PolicyDocument, PolicyKind, Statement
from components.options import child, stateful

ABORT_INCOMPLETE_UPLOADS_DAYS = 7
MIN_TLS_VERSION = "1.2"


@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    kms_key_arn: pulumi.Input[str] | None
    """SSE-KMS key. ``None`` means SSE-S3, which only the access-log bucket may use (S3
    server access logging cannot deliver to an SSE-KMS bucket)."""
    force_destroy: bool
    """Allow destroying a non-empty bucket (never in prod)."""
    noncurrent_version_expiration_days: int
    """Days a replaced object version is kept."""
    protect: bool
    """Protect the bucket from deletion (prod)."""
    intelligent_tiering_days: int | None = None
    """Move current objects to Intelligent-Tiering after this many days; ``None`` = never."""
    expiration_days: int | None = None
    """Delete current objects after this many days; ``None`` = never (feature data)."""
    access_log_bucket: SecureBucket | None = None
    """Bucket receiving this bucket's server access logs; ``None`` only for that bucket."""
    log_delivery_account_id: str | None = None
    """Let S3 server access logging write here, for source buckets of this account only."""


S3_LOGGING_PRINCIPAL = "logging.s3.amazonaws.com"


def bucket_policy(
    bucket_arn: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str] | None,
    log_delivery_account_id: str | None = None,
) -> PolicyDocument:
    """Deny anything over plain HTTP or old TLS, and uploads not encrypted with our key."""
    objects = pulumi.Output.concat(bucket_arn, "/*")
    everyone = {"*": ("*",)}
    statements = [
        Statement(
            sid="DenyInsecureTransport",
            effect="Deny",
            principals=everyone,
            actions=("s3:*",),
            resources=(bucket_arn, objects),
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
        Statement(
            sid="DenyOutdatedTls",
            effect="Deny",
            principals=everyone,
            actions=("s3:*",),
            resources=(bucket_arn, objects),
            conditions={"NumericLessThan": {"s3:TlsVersion": MIN_TLS_VERSION}},
        ),
    ]
    if kms_key_arn is not None:
        # Uploads without encryption headers get the bucket default (our key); an upload
        # that names another algorithm or another key is refused. Each Deny applies only when
        # its header is present ("Null": false): a negated operator, with or without
        # IfExists, is true for an absent key, so without that guard every upload that sends
        # no header (boto3's default) would be refused.
        sse = "s3:x-amz-server-side-encryption"
        sse_key = "s3:x-amz-server-side-encryption-aws-kms-key-id"
        statements += [
            Statement(
                sid="DenyNonKmsUploads",
                effect="Deny",
                principals=everyone,
                actions=("s3:PutObject",),
                resources=(objects,),
                conditions={"StringNotEquals": {sse: "aws:kms"}, "Null": {sse: "false"}},
            ),
            Statement(
                sid="DenyWrongKmsKey",
                effect="Deny",
                principals=everyone,
                actions=("s3:PutObject",),
                resources=(objects,),
                conditions={"StringNotEquals": {sse_key: kms_key_arn}, "Null": {sse_key: "false"}},
            ),
            # `aws:kms` without a key id makes S3 use the AWS managed aws/s3 key, not the
            # bucket default: refused too (only no header, or our key by ARN, is accepted).
            Statement(
                sid="DenyKmsWithoutKey",
                effect="Deny",
                principals=everyone,
                actions=("s3:PutObject",),
                resources=(objects,),
                conditions={"StringEquals": {sse: "aws:kms"}, "Null": {sse_key: "true"}},
            ),
        ]
    if log_delivery_account_id is not None:
        # Policy-based delivery (the only kind that works with BucketOwnerEnforced); the
        # source-account condition stops other accounts' buckets from logging here. The
        # grant goes first: moto's check of the target policy stops at the first statement
        # whose principal is a bare "*".
        statements.insert(
            0,
            Statement(
                sid="AllowServerAccessLogDelivery",
                principals={"Service": (S3_LOGGING_PRINCIPAL,)},
                actions=("s3:PutObject",),
                resources=(objects,),
                conditions={"StringEquals": {"aws:SourceAccount": log_delivery_account_id}},
            ),
        )
    return PolicyDocument(PolicyKind.RESOURCE, tuple(statements))


class SecureBucket(pulumi.ComponentResource):
    """Encrypted, versioned, private, TLS-only bucket with lifecycle and access logging."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:storage:SecureBucket", name, None, opts)

        # The bucket and everything that protects it share its protection: a bucket kept
        # after a removal must not lose its encryption, access block or TLS-only policy.
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=args.force_destroy,
            opts=stateful(self, args.protect),
        )
        if args.kms_key_arn is None:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                sse_algorithm="AES256"
            )
        else:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default,
                    # One data key per bucket instead of a KMS call per object.
                    bucket_key_enabled=args.kms_key_arn is not None,
                )
            ],
            opts=stateful(self, args.protect),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=stateful(self, args.protect),
        )
        access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=stateful(self, args.protect),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=stateful(self, args.protect),
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket_policy(
                bucket.arn, args.kms_key_arn, args.log_delivery_account_id
            ).to_json(),
            opts=stateful(self, args.protect, depends_on=[access_block]),
        )

        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-multipart-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=ABORT_INCOMPLETE_UPLOADS_DAYS
                ),
            ),
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_version_expiration_days
                ),
            ),
        ]
        if args.intelligent_tiering_days is not None:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="intelligent-tiering",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=args.intelligent_tiering_days,
                            storage_class="INTELLIGENT_TIERING",
                        )
                    ],
                )
            )
        if args.expiration_days is not None:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-current-objects",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.expiration_days
                    ),
                )
            )
        # Lifecycle rules on noncurrent versions need versioning in place first.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=rules,
            opts=child(self, depends_on=[versioning]),
        )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=bucket.id,
                target_bucket=args.access_log_bucket.bucket_name,
                target_prefix=pulumi.Output.concat(bucket.id, "/"),
                # S3 refuses a logging target whose policy does not yet let the logging
                # service write, so wait for that policy, not just the bucket.
                opts=child(self, depends_on=[args.access_log_bucket.policy]),
            )

        self.bucket_name = bucket.id
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
