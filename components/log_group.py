"""The one way the platform creates a CloudWatch log group."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.options import child


def encrypted_log_group(
    name: str,
    parent: pulumi.Resource,
    *,
    retention_days: int,
    key_arn: pulumi.Input[str],
    protect: bool,
    log_name: str | None = None,
    name_prefix: str | None = None,
) -> aws.cloudwatch.LogGroup:
    """A log group encrypted with the logs key, with retention, and CloudWatch deletion
    protection where stateful resources are protected (prod).

    ``log_name`` when a service writes to a fixed name (EKS, MSK); ``name_prefix`` for a
    generated one under a path the service expects; neither for plain auto-naming.
    """
    return aws.cloudwatch.LogGroup(
        name,
        name=log_name,
        name_prefix=name_prefix,
        retention_in_days=retention_days,
        kms_key_id=key_arn,
        deletion_protection_enabled=protect,
        opts=child(parent),
    )
