"""The one AWS provider every component uses, and the tags it applies to every resource."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import StackConfig
from components.config.models import Credentials, TagSettings

MANAGED_BY = "pulumi"
PROJECT = "feature-platform"

REQUIRED_TAG_KEYS = ("environment", "owner", "cost-center", "data-classification", "managed-by")
"""Every AWS resource carries these; cost reports and data-handling rules key on them."""


def default_tags(config: StackConfig) -> dict[str, str]:
    """Tags in one place. Extra tags from config cannot override the required ones."""
    return tag_set(config.environment.value, config.tags)


def tag_set(environment: str, tags: TagSettings, **fixed: str) -> dict[str, str]:
    """The required tags of any project in the repository (``fixed`` adds its own, e.g. the
    bootstrap's ``component``); extra tags from config never override them."""
    required = {
        "environment": environment,
        "owner": tags.owner,
        "cost-center": tags.cost_center,
        "data-classification": tags.data_classification.value,
        "managed-by": MANAGED_BY,
        "project": PROJECT,
        **fixed,
    }
    return {**tags.extra, **required}


def aws_provider(
    name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None
) -> aws.Provider:
    """Explicit provider: region and deployer role from config, default tags, account pinned.

    With ``aws.credentials: ambient`` (the pipelines) the provider keeps the credentials it
    runs with, which already are the job's role; otherwise it assumes the deployer.

    ``allowed_account_ids`` makes the provider refuse to act if the credentials land in any
    account other than the environment's own (a wrong ARN can never deploy dev to prod).
    """
    assume = config.aws.credentials is Credentials.ASSUME
    return aws.Provider(
        name,
        region=config.aws.region,
        allowed_account_ids=[config.aws.account_id],
        assume_roles=[
            aws.ProviderAssumeRoleArgs(
                role_arn=config.aws.assume_role_arn,
                session_name=f"{PROJECT}-{config.environment.value}",
            )
        ]
        if assume
        else None,
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(config)),
        opts=opts,
    )
