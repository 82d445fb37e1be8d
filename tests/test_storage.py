"""S3: encryption, versioning, no public access, TLS-only, lifecycle and access logging."""

from __future__ import annotations

import pytest

from blueprint.capture import Plan, PlannedResource
from components.bucket import SecureBucket, SecureBucketArgs
from tests.conftest import policy as parse_policy
from tests.conftest import run_component, stack_config, statements

BUCKET = "aws:s3/bucket:Bucket"
ROLES = ("offline-store", "registry", "access-logs")


def _bucket(plan: Plan, role: str) -> PlannedResource:
    return plan.named(BUCKET, f"-{role}-bucket")


def _attached(plan: Plan, type_: str, bucket: PlannedResource) -> PlannedResource:
    (found,) = [r for r in plan.of_type(type_) if r.inputs["bucket"] == bucket.id]
    return found


@pytest.mark.parametrize("role", ["offline-store", "registry"])
def test_data_buckets_use_the_data_key_with_a_bucket_key(plan: Plan, role: str) -> None:
    data_key = plan.named("aws:kms/key:Key", "-kms-data")
    sse = _attached(
        plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        _bucket(plan, role),
    )
    (rule,) = sse.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": data_key.outputs["arn"],
    }
    assert rule["bucketKeyEnabled"] is True


def test_access_log_bucket_uses_sse_s3_because_s3_logging_requires_it(plan: Plan) -> None:
    sse = _attached(
        plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        _bucket(plan, "access-logs"),
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "AES256"
    }


@pytest.mark.parametrize("role", ROLES)
def test_buckets_are_versioned_private_and_owner_enforced(plan: Plan, role: str) -> None:
    bucket = _bucket(plan, role)
    versioning = _attached(plan, "aws:s3/bucketVersioning:BucketVersioning", bucket)
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    block = _attached(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block.inputs[flag] is True for flag in flags)
    ownership = _attached(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket)
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"


@pytest.mark.parametrize("role", ROLES)
def test_bucket_policy_denies_plain_http_and_old_tls(plan: Plan, role: str) -> None:
    bucket = _bucket(plan, role)
    by_sid = statements(parse_policy(_attached(plan, "aws:s3/bucketPolicy:BucketPolicy", bucket)))
    http = by_sid["DenyInsecureTransport"]
    assert (http["Effect"], http["Principal"], http["Action"]) == ("Deny", "*", "s3:*")
    assert http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(http["Resource"]) == {bucket.outputs["arn"], f"{bucket.outputs['arn']}/*"}
    tls = by_sid["DenyOutdatedTls"]
    assert tls["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


@pytest.mark.parametrize("role", ["offline-store", "registry"])
def test_bucket_policy_denies_uploads_with_another_key(plan: Plan, role: str) -> None:
    data_key = plan.named("aws:kms/key:Key", "-kms-data").outputs["arn"]
    bucket = _bucket(plan, role)
    by_sid = statements(parse_policy(_attached(plan, "aws:s3/bucketPolicy:BucketPolicy", bucket)))
    wrong_key = by_sid["DenyWrongKmsKey"]
    assert wrong_key["Effect"] == "Deny" and wrong_key["Action"] == "s3:PutObject"
    # Each Deny applies only when its header is present: an upload without headers gets the
    # bucket default (decided by evaluation in tests/test_tenant_isolation.py).
    key_header = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    assert wrong_key["Condition"] == {
        "StringNotEquals": {key_header: data_key},
        "Null": {key_header: "false"},
    }
    assert by_sid["DenyNonKmsUploads"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    }
    assert by_sid["DenyKmsWithoutKey"]["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {key_header: "true"},
    }


def test_only_this_accounts_buckets_may_log_into_the_log_bucket(plan: Plan) -> None:
    account = stack_config(plan.stack).aws.account_id
    bucket = _bucket(plan, "access-logs")
    by_sid = statements(parse_policy(_attached(plan, "aws:s3/bucketPolicy:BucketPolicy", bucket)))
    delivery = by_sid["AllowServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}


@pytest.mark.parametrize("role", ["offline-store", "registry"])
def test_data_buckets_log_access_into_the_log_bucket(plan: Plan, role: str) -> None:
    logging = _attached(plan, "aws:s3/bucketLogging:BucketLogging", _bucket(plan, role))
    log_bucket = _bucket(plan, "access-logs")
    assert logging.inputs["targetBucket"] == log_bucket.id
    # S3 validates the target's policy when logging is enabled: it must exist first.
    log_policy = _attached(plan, "aws:s3/bucketPolicy:BucketPolicy", log_bucket)
    assert log_policy.urn in logging.depends_on


def test_lifecycle_expires_old_versions_and_aborts_uploads(plan: Plan) -> None:
    config = stack_config(plan.stack)
    for role in ROLES:
        lifecycle = _attached(
            plan,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            _bucket(plan, role),
        )
        rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
        assert all(r["status"] == "Enabled" for r in rules.values())
        assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
            "noncurrentDays": config.storage.noncurrent_version_expiration_days
        }
        assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
            "daysAfterInitiation": 7
        }
        tiering = "intelligent-tiering" in rules
        assert tiering == (role == "offline-store")
        if tiering:
            assert rules["intelligent-tiering"]["transitions"] == [
                {"days": config.storage.offline_tiering_days, "storageClass": "INTELLIGENT_TIERING"}
            ]


def test_force_destroy_only_outside_prod(dev: Plan, prod: Plan) -> None:
    assert all(b.inputs["forceDestroy"] is True for b in dev.of_type(BUCKET))
    assert all(b.inputs["forceDestroy"] is False for b in prod.of_type(BUCKET))


PROTECTIVE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
)


def test_buckets_are_protected_in_prod_only(dev: Plan, prod: Plan) -> None:
    assert all(b.protect and b.retain_on_delete for b in prod.of_type(BUCKET))
    assert not any(b.protect or b.retain_on_delete for b in dev.of_type(BUCKET))


@pytest.mark.parametrize("type_", PROTECTIVE)
def test_a_retained_bucket_keeps_its_protective_configuration(
    dev: Plan, prod: Plan, type_: str
) -> None:
    assert all(r.protect and r.retain_on_delete for r in prod.of_type(type_)), type_
    assert not any(r.protect or r.retain_on_delete for r in dev.of_type(type_)), type_


def test_bucket_policy_is_applied_after_the_public_access_block() -> None:
    def build() -> None:
        SecureBucket(
            "b",
            SecureBucketArgs(
                kms_key_arn="arn:aws:kms:eu-central-1:1:key/k",
                force_destroy=False,
                noncurrent_version_expiration_days=30,
                protect=False,
            ),
        )

    plan = run_component(build)
    block = plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0]
    bucket_policy = plan.of_type("aws:s3/bucketPolicy:BucketPolicy")[0]
    assert block.urn in bucket_policy.depends_on
    # A bucket without an access-log target gets no logging resource at all.
    assert plan.of_type("aws:s3/bucketLogging:BucketLogging") == []
