"""Typed config of the bootstrap project, validated before any resource is registered.

The stack files (``bootstrap/stacks/Pulumi.<env>.yaml``) set keys under the project's
namespace, ``feature-platform-bootstrap:``. The models reuse the platform's building blocks
(:class:`~components.config.base.ConfigModel`: camelCase keys, unknown keys refused; the tag
model; the environment enum), and the errors name the exact key path as the platform's do.

One rule looks across projects: the account and region must be the ones the platform's own
stack file for that environment names (``stacks/Pulumi.<env>.yaml``), so the bootstrap can
never prepare the wrong account for a stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import config as runtime_config
from pydantic import Field, ValidationError, field_validator, model_validator

from blueprint.stackfile import read_project, read_stack
from components.config import ConfigError, Environment
from components.config.base import ConfigModel, ConfigRuleError
from components.config.models import ACCOUNT_ID_PATTERN, EU_REGIONS, TagSettings

NAMESPACE = "feature-platform-bootstrap"
"""The project's namespace: the name in ``bootstrap/Pulumi.yaml``."""

PLATFORM_NAMESPACE = "feature-platform"
PLATFORM_STACKS = Path(__file__).resolve().parent.parent / "stacks"
"""The platform's stack files: the accounts this project prepares."""

DISABLE_DEFAULT_PROVIDERS = "pulumi:disable-default-providers"

GITHUB_REPOSITORY_PATTERN = re.compile(
    # GitHub: owners are 1-39 alphanumerics or single hyphens (not leading); repository
    # names are 1-100 of [A-Za-z0-9._-]. No wildcard can pass: a "*" or "?" in the trust
    # condition's subject would let other repositories assume the roles.
    r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}$"
)

MIN_STATE_VERSION_DAYS = 30
"""Replaced state checkpoints are kept at least a month: the way back from a bad ``up``."""


class AwsTarget(ConfigModel):
    """The environment's account and region (the same as the platform stack's)."""

    region: str = Field(description="Region of the state bucket, the state key and the stack.")
    account_id: str = Field(
        pattern=ACCOUNT_ID_PATTERN,
        description="The environment's account; the provider refuses to act in any other.",
    )

    @field_validator("region")
    @classmethod
    def _eu(cls, value: str) -> str:
        if value not in EU_REGIONS:
            raise ValueError(f"{value!r} is not allowed; allowed: {', '.join(EU_REGIONS)}")
        return value


class GithubSettings(ConfigModel):
    """The repository whose workflows may assume the previewer and deployer roles."""

    repository: str = Field(
        description="`owner/repo` exactly, as in the token's `sub` claim; no wildcards."
    )
    review_stacks: bool = Field(
        default=False,
        description="Pull requests labelled `review-stack` deploy their own copy of dev "
        "(stacks `pr-<N>`) with the deployer, from jobs in the GitHub environment `review`; "
        "dev only.",
    )

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not GITHUB_REPOSITORY_PATTERN.fullmatch(value) or value.endswith((".", "/")):
            raise ValueError(
                f"{value!r} is not a GitHub repository; allowed: `owner/repo` (owner: letters, "
                "digits and single hyphens; repo: letters, digits, '.', '_', '-'), no wildcards"
            )
        return value


class AdminSettings(ConfigModel):
    """Who may assume the human roles (principal ARN patterns in the environment's account).

    The roles trust the account and require the caller's ``aws:PrincipalArn`` to match, so
    SSO permission-set roles (whose names end in a random suffix) can be named by pattern
    and the roles can be created before those principals exist.
    """

    key_admin: tuple[str, ...] = Field(
        min_length=1,
        description="Principals that may assume `feature-platform-key-admin`.",
    )
    cluster_admin: tuple[str, ...] = Field(
        min_length=1,
        description="Principals that may assume `feature-platform-admin` (cluster admins).",
    )


class StateSettings(ConfigModel):
    """The Pulumi state bucket."""

    noncurrent_version_expiration_days: int = Field(
        default=90,
        ge=MIN_STATE_VERSION_DAYS,
        le=3650,
        description="Days a replaced state checkpoint is kept.",
    )
    access_log_expiration_days: int = Field(
        default=365, ge=1, le=3650, description="Days the state bucket's access logs are kept."
    )


class BootstrapConfig(ConfigModel):
    """Everything under ``feature-platform-bootstrap:`` in one stack file."""

    environment: Environment = Field(description="The environment this account serves.")
    aws: AwsTarget = Field(description="Account and region.")
    tags: TagSettings = Field(description="Ownership and classification tags.")
    github: GithubSettings = Field(description="The repository CI runs from.")
    admins: AdminSettings = Field(description="Who may assume the key-admin and admin roles.")
    state: StateSettings = Field(
        default_factory=StateSettings, description="The Pulumi state bucket."
    )
    create_autoscaling_service_linked_role: bool = Field(
        default=True,
        description=(
            "Create AWSServiceRoleForAutoScaling; false when the account already has it (AWS "
            "refuses a second one)."
        ),
    )

    @model_validator(mode="after")
    def _principals_in_account(self) -> BootstrapConfig:
        prefix = f"arn:aws:iam::{self.aws.account_id}:role/"
        violations: list[tuple[tuple[str, ...], str]] = [
            (
                ("admins", key, str(index)),
                f"{arn!r} is not a role in account {self.aws.account_id}; allowed: {prefix}...",
            )
            for key, arns in (
                ("keyAdmin", self.admins.key_admin),
                ("clusterAdmin", self.admins.cluster_admin),
            )
            for index, arn in enumerate(arns)
            if not arn.startswith(prefix) or len(arn) == len(prefix) or arn.endswith("/*")
        ]
        if self.github.review_stacks and self.environment is not Environment.DEV:
            violations.append(
                (
                    ("github", "reviewStacks"),
                    "review stacks deploy into dev's account only (they are copies of dev); "
                    "allowed: false",
                )
            )
        if violations:
            raise ConfigRuleError(*violations)
        return self

    @property
    def name_prefix(self) -> str:
        """``feature-platform-<env>``: the prefix of the platform's physical names."""
        return f"{PLATFORM_NAMESPACE}-{self.environment.value}"


# --- loading ---------------------------------------------------------------------------------


def stack_file(stack: str) -> str:
    return f"bootstrap/stacks/Pulumi.{stack}.yaml"


def parse_bootstrap_config(
    values: Mapping[str, Any],
    *,
    source: str,
    stack: str | None = None,
    platform_stacks: Path | None = PLATFORM_STACKS,
) -> BootstrapConfig:
    """Validate the namespace's values (keys without the prefix); :class:`ConfigError`
    names every offending key. ``platform_stacks`` (None: skip) holds the platform's stack
    files, whose account and region this stack must match."""
    # Judged on the raw values, so a wrong account is named even when the models also fail.
    problems: list[tuple[str, str]] = []
    environment = str(values.get("environment"))
    if stack is not None and stack != environment:
        problems.append(
            (
                f"{NAMESPACE}:environment",
                f"{environment!r} in stack {stack!r}; the stack must be named after its "
                "environment (role and alias names derive from it)",
            )
        )
    if platform_stacks is not None and environment in {e.value for e in Environment}:
        problems += _platform_match(environment, values.get("aws"), platform_stacks)
    try:
        config = BootstrapConfig.model_validate(dict(values))
    except ValidationError as exc:
        problems += [p for p in _problems(exc) if p not in problems]
    if problems:
        raise ConfigError(source, problems)
    return config


def parse_engine_config(
    config: Mapping[str, str],
    *,
    source: str,
    stack: str | None = None,
    platform_stacks: Path | None = PLATFORM_STACKS,
) -> BootstrapConfig:
    """Validate the flat map the engine passes: other namespaces are refused first."""
    problems = _check_keys(config)
    if problems:
        raise ConfigError(source, problems)
    prefix = f"{NAMESPACE}:"
    values = {k.removeprefix(prefix): _decode(v) for k, v in config.items() if k.startswith(prefix)}
    return parse_bootstrap_config(
        values, source=source, stack=stack, platform_stacks=platform_stacks
    )


def load_bootstrap_config() -> BootstrapConfig:
    """This stack's config from the Pulumi runtime; an invalid one stops the program."""
    stack = pulumi.get_stack()
    keys: Collection[str] = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    config = {key: str(runtime_config.get_config(key)) for key in keys}
    try:
        return parse_engine_config(config, source=stack_file(stack), stack=stack)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None


def _check_keys(config: Mapping[str, str]) -> list[tuple[str, str]]:
    problems = [
        (
            key,
            "unknown key: neither the program nor its providers read it (the AWS provider is "
            f"explicit, configured from {NAMESPACE}:aws); remove it",
        )
        for key in sorted(config)
        if not key.startswith(f"{NAMESPACE}:") and key != DISABLE_DEFAULT_PROVIDERS
    ]
    raw = config.get(DISABLE_DEFAULT_PROVIDERS)
    try:
        disabled = json.loads(raw) if raw else []
    except ValueError:
        disabled = []
    if not (isinstance(disabled, list) and ("aws" in disabled or "*" in disabled)):
        problems.append(
            (
                DISABLE_DEFAULT_PROVIDERS,
                "must list aws: no resource may fall back to an untagged default provider in "
                "whatever account the credentials reach",
            )
        )
    return problems


def _platform_match(environment: str, aws: Any, directory: Path) -> list[tuple[str, str]]:
    path = directory / f"Pulumi.{environment}.yaml"
    if not path.is_file():
        return [
            (
                f"{NAMESPACE}:environment",
                f"no platform stack file {path}: the bootstrap prepares an environment's "
                "account for that stack",
            )
        ]
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    platform = (document.get("config") or {}).get(f"{PLATFORM_NAMESPACE}:aws") or {}
    problems = []
    ours_by_key = aws if isinstance(aws, dict) else {}
    for key in ("accountId", "region"):
        ours, theirs = str(ours_by_key.get(key)), str(platform.get(key))
        if theirs != ours:
            problems.append(
                (
                    f"{NAMESPACE}:aws.{key}",
                    f"{ours!r}, but the platform's stack file {path.name} names {theirs!r}; "
                    "allowed: the same account and region as the stack it prepares",
                )
            )
    return problems


def _decode(raw: Any) -> Any:
    if isinstance(raw, str) and raw[:1] in "{[":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        rule = (error.get("ctx") or {}).get("error")
        if isinstance(rule, ConfigRuleError):
            problems += [(_key(loc + key), message) for key, message in rule.violations]
            continue
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "is required"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        problems.append((_key(loc), message))
    return problems


def _key(loc: tuple[str, ...]) -> str:
    return f"{NAMESPACE}:{'.'.join(loc)}" if loc else NAMESPACE


def read_bootstrap_stack(project_dir: Path, stack: str) -> BootstrapConfig:
    """A bootstrap stack's validated config from its stack file (the offline tools' view:
    ``blueprint audit`` reads the account and region from it). Raises
    :class:`~blueprint.stackfile.StackFileError` or :class:`ConfigError`."""
    settings = read_stack(read_project(project_dir), stack)
    return parse_engine_config(settings.config, source=stack_file(stack), stack=stack)
