"""Everything one environment's account gets from the bootstrap, behind one tagged provider."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from bootstrap.account import AccountRoles, AccountRolesArgs
from bootstrap.config import BootstrapConfig
from bootstrap.deployer_policy import deployer_policies, previewer_statements
from bootstrap.github import CiRoles, CiRolesArgs
from bootstrap.state import StateBackend, StateBackendArgs, secrets_provider
from components.provider import tag_set

COMPONENT = "bootstrap"


def default_tags(config: BootstrapConfig) -> dict[str, str]:
    """The platform's required tags (components/provider.py), plus ``component``."""
    return tag_set(config.environment.value, config.tags, component=COMPONENT)


def bootstrap_provider(
    name: str, config: BootstrapConfig, opts: pulumi.ResourceOptions | None = None
) -> aws.Provider:
    """Explicit provider pinned to the environment's account. No role is assumed: the
    bootstrap creates the deployer role, so it runs with the account owner's credentials."""
    return aws.Provider(
        name,
        region=config.aws.region,
        allowed_account_ids=[config.aws.account_id],
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(config)),
        opts=opts,
    )


class EnvironmentBootstrap(pulumi.ComponentResource):
    """State backend, CI roles and account roles of one environment."""

    state_bucket: pulumi.Output[str]
    state_key_arn: pulumi.Output[str]
    state_key_alias: pulumi.Output[str]
    deployer_role_arn: pulumi.Output[str]
    previewer_role_arn: pulumi.Output[str]
    drift_role_arn: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    key_admin_role_arn: pulumi.Output[str]
    cluster_admin_role_arn: pulumi.Output[str]
    boundary_policy_arn: pulumi.Output[str]

    def __init__(
        self, name: str, config: BootstrapConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:bootstrap:EnvironmentBootstrap", name, None, opts)
        provider = bootstrap_provider(f"{name}-aws", config, pulumi.ResourceOptions(parent=self))
        uses_provider = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        account, region = config.aws.account_id, config.aws.region
        env = config.environment.value

        roles = AccountRoles(
            f"{name}-account",
            AccountRolesArgs(
                account_id=account,
                region=region,
                environment=env,
                key_admin_principals=config.admins.key_admin,
                cluster_admin_principals=config.admins.cluster_admin,
                create_autoscaling_service_linked_role=config.create_autoscaling_service_linked_role,
            ),
            opts=uses_provider,
        )
        state = StateBackend(
            f"{name}-state",
            StateBackendArgs(
                account_id=account,
                environment=env,
                key_admin_role_arn=roles.key_admin_role_arn,
                noncurrent_version_expiration_days=config.state.noncurrent_version_expiration_days,
                access_log_expiration_days=config.state.access_log_expiration_days,
            ),
            opts=uses_provider,
        )
        review = config.github.review_stacks
        ci = CiRoles(
            f"{name}-ci",
            CiRolesArgs(
                account_id=account,
                region=region,
                environment=env,
                repository=config.github.repository,
                review_stacks=review,
                deployer_policies=deployer_policies(
                    account, region, env, state.key_arn, review=review
                ),
                previewer_statements=previewer_statements(
                    account, region, env, state.key_arn, review=review
                ),
                drift_statements=previewer_statements(
                    account, region, env, state.key_arn, data_reads=True, review=review
                ),
            ),
            opts=uses_provider,
        )
        self.state_bucket = state.bucket_name
        self.state_key_arn = state.key_arn
        self.state_key_alias = state.key_alias
        self.deployer_role_arn = ci.deployer_role_arn
        self.previewer_role_arn = ci.previewer_role_arn
        self.drift_role_arn = ci.drift_role_arn
        self.oidc_provider_arn = ci.oidc_provider_arn
        self.key_admin_role_arn = roles.key_admin_role_arn
        self.cluster_admin_role_arn = roles.cluster_admin_role_arn
        self.boundary_policy_arn = roles.boundary_policy_arn
        self._region = region
        self._secrets_provider = secrets_provider(env, region)
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Input[object]]:
        """The stack outputs (``__main__`` exports exactly these)."""
        return {
            "state_bucket": self.state_bucket,
            # `pulumi login <backend_url>` for the platform's stacks of this account.
            "backend_url": pulumi.Output.format(
                "s3://{0}?region={1}", self.state_bucket, self._region
            ),
            "secrets_provider": self._secrets_provider,
            "state_key_arn": self.state_key_arn,
            "state_key_alias": self.state_key_alias,
            "deployer_role_arn": self.deployer_role_arn,
            "previewer_role_arn": self.previewer_role_arn,
            "drift_role_arn": self.drift_role_arn,
            "oidc_provider_arn": self.oidc_provider_arn,
            "key_admin_role_arn": self.key_admin_role_arn,
            "cluster_admin_role_arn": self.cluster_admin_role_arn,
            "boundary_policy_arn": self.boundary_policy_arn,
        }
