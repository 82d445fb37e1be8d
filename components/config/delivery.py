"""Config of the delivery path: the in-VPC runner that applies the stack (ADR 0021).

The cluster API is private (ADR 0008), so GitHub-hosted runners cannot apply the Kubernetes
layer. ``deployRunner`` puts a CodeBuild-hosted GitHub Actions runner in the private subnets;
it is off unless a stack turns it on, because whoever can queue a job on it acts as the
deployer role.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from components.config.base import ConfigModel, ConfigRuleError

CONNECTION_ARN_PATTERN = (
    r"^arn:aws:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
"""A CodeConnections connection (``codeconnections``; ``codestar-connections`` for ones made
before July 2024). The service prefix of the ARN is also the prefix of the IAM actions."""

REPOSITORY_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"
"""``owner/repo`` as GitHub spells them (owner: 39 characters, letters, digits, hyphens)."""


class ComputeType(StrEnum):
    """On-demand Linux container sizes (CodeBuild "Build environment compute types")."""

    SMALL = "BUILD_GENERAL1_SMALL"
    MEDIUM = "BUILD_GENERAL1_MEDIUM"
    LARGE = "BUILD_GENERAL1_LARGE"


class DeployRunnerSettings(ConfigModel):
    """The CodeBuild project hosting the stack's GitHub Actions deploy jobs."""

    enabled: bool = Field(
        default=False,
        description="Create the in-VPC runner (a job on it acts as the deployer role).",
    )
    connection_arn: str | None = Field(
        default=None,
        pattern=CONNECTION_ARN_PATTERN,
        description="CodeConnections connection to GitHub in the stack's account, created "
        "and authorised once in the console (the bootstrap step).",
    )
    repository: str | None = Field(
        default=None,
        pattern=REPOSITORY_PATTERN,
        description="GitHub repository (`owner/repo`) whose workflows run on the runner.",
    )
    compute_type: ComputeType = Field(
        default=ComputeType.SMALL,
        description="CodeBuild compute size of each job (`BUILD_GENERAL1_SMALL` to `_LARGE`).",
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> DeployRunnerSettings:
        if not self.enabled:
            return self
        missing = [
            ((key,), f"required when enabled is true: {why}")
            for key, value, why in (
                (
                    "connectionArn",
                    self.connection_arn,
                    "the CodeConnections connection CodeBuild reaches GitHub through",
                ),
                ("repository", self.repository, "the `owner/repo` whose jobs it runs"),
            )
            if value is None
        ]
        if missing:
            raise ConfigRuleError(*missing)
        return self

    @property
    def connection_account(self) -> str | None:
        return self.connection_arn.split(":")[4] if self.connection_arn else None
