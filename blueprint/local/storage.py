"""S3 buckets and their separate configuration resources."""

from __future__ import annotations

from typing import Any

from blueprint.local.registry import Created, Ctx, pascal, translates


def _bucket_region(ctx: Ctx) -> dict[str, Any]:
    # us-east-1 is the one region that rejects an explicit LocationConstraint.
    if ctx.region == "us-east-1":
        return {}
    return {"CreateBucketConfiguration": {"LocationConstraint": ctx.region}}


@translates("aws:s3/bucket:Bucket")
def bucket(ctx: Ctx) -> Created:
    name = ctx.physical_name("bucket")
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket=name, **_bucket_region(ctx))
    if ctx.tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": ctx.tag_list()})
    return Created(
        name,
        {
            "bucket": name,
            "arn": f"arn:aws:s3:::{name}",
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
            "region": ctx.region,
        },
    )


@translates(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
def encryption(ctx: Ctx) -> Created:
    rules = [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"],
                **(
                    {"KMSMasterKeyID": rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]}
                    if rule["applyServerSideEncryptionByDefault"].get("kmsMasterKeyId")
                    else {}
                ),
            },
            "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled", False)),
        }
        for rule in ctx.inputs["rules"]
    ]
    ctx.client("s3").put_bucket_encryption(
        Bucket=ctx.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return Created(ctx.inputs["bucket"])


@translates("aws:s3/bucketVersioning:BucketVersioning")
def versioning(ctx: Ctx) -> Created:
    ctx.client("s3").put_bucket_versioning(
        Bucket=ctx.inputs["bucket"],
        VersioningConfiguration={"Status": ctx.inputs["versioningConfiguration"]["status"]},
    )
    return Created(ctx.inputs["bucket"])


@translates("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def public_access_block(ctx: Ctx) -> Created:
    ctx.client("s3").put_public_access_block(
        Bucket=ctx.inputs["bucket"],
        PublicAccessBlockConfiguration={
            key[0].upper() + key[1:]: bool(ctx.inputs.get(key, False))
            for key in (
                "blockPublicAcls",
                "ignorePublicAcls",
                "blockPublicPolicy",
                "restrictPublicBuckets",
            )
        },
    )
    return Created(ctx.inputs["bucket"])


@translates("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
def ownership(ctx: Ctx) -> Created:
    ctx.client("s3").put_bucket_ownership_controls(
        Bucket=ctx.inputs["bucket"],
        OwnershipControls={"Rules": [{"ObjectOwnership": ctx.inputs["rule"]["objectOwnership"]}]},
    )
    return Created(ctx.inputs["bucket"])


@translates("aws:s3/bucketPolicy:BucketPolicy")
def policy(ctx: Ctx) -> Created:
    ctx.client("s3").put_bucket_policy(Bucket=ctx.inputs["bucket"], Policy=ctx.inputs["policy"])
    return Created(ctx.inputs["bucket"])


@translates("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
def lifecycle(ctx: Ctx) -> Created:
    rules = pascal(ctx.inputs["rules"])
    ctx.client("s3").put_bucket_lifecycle_configuration(
        Bucket=ctx.inputs["bucket"], LifecycleConfiguration={"Rules": rules}
    )
    return Created(ctx.inputs["bucket"])


@translates("aws:s3/bucketLogging:BucketLogging")
def logging(ctx: Ctx) -> Created:
    ctx.client("s3").put_bucket_logging(
        Bucket=ctx.inputs["bucket"],
        BucketLoggingStatus={
            "LoggingEnabled": {
                "TargetBucket": ctx.inputs["targetBucket"],
                "TargetPrefix": ctx.inputs.get("targetPrefix", ""),
            }
        },
    )
    return Created(ctx.inputs["bucket"])
