"""Parse the ``feature-platform:`` namespace once into a :class:`StackConfig`.

Invalid config stops the program before any resource is registered, with one message that
names the stack file, every offending key path and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from components.cache_access import team_cache_users
from components.config.base import ConfigRuleError
from components.config.keys import NAMESPACE, check_keys
from components.config.models import Environment, StackConfig
from components.config.profiles import deep_merge, profile_defaults
from components.config.tenants import TenantError, TenantSpec, load_tenants

STACK_CONFIG_DIR = "stacks"
REVIEW_STACK = re.compile(r"pr-([1-9][0-9]{0,5})")
"""A pull request's review stack (``pr-<N>``, .github/workflows/review-stack.yml): dev's
settings in dev's account, with names of its own (``feature-platform-dev-pr<N>``)."""
REVIEW_ENVIRONMENT = Environment.DEV


class ConfigError(Exception):
    """Invalid stack configuration; ``problems`` are ``(key path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {key}: {message}" for key, message in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


def stack_file(stack: str) -> str:
    return f"{STACK_CONFIG_DIR}/Pulumi.{stack}.yaml"


def parse_stack_config(
    values: Mapping[str, Any], *, source: str, stack: str | None = None
) -> StackConfig:
    """Validate the namespace's values (keys without the ``feature-platform:`` prefix).

    The environment's profile supplies defaults; ``values`` override them key by key.
    Raises :class:`ConfigError` naming every offending key.
    """
    raw_env = values.get("environment")
    try:
        environment = Environment(str(raw_env))
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        what = "is missing" if raw_env is None else f"is {raw_env!r}"
        raise ConfigError(
            source, [(f"{NAMESPACE}:environment", f"{what}; allowed: {allowed}")]
        ) from None
    review = REVIEW_STACK.fullmatch(stack) if stack is not None else None
    if review is not None and environment is not REVIEW_ENVIRONMENT:
        raise ConfigError(
            source,
            [
                (
                    f"{NAMESPACE}:environment",
                    f"{environment.value!r} in review stack {stack!r}; review stacks deploy "
                    f"into {REVIEW_ENVIRONMENT.value}'s account with its profile: "
                    f"set {REVIEW_ENVIRONMENT.value!r}",
                )
            ],
        )
    if stack is not None and review is None and stack != environment.value:
        raise ConfigError(source, [(f"{NAMESPACE}:environment", _stack_rule(stack, environment))])
    merged = deep_merge(profile_defaults(environment), dict(values))
    try:
        config = StackConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None
    return config if review is None else config.as_review(int(review.group(1)))


def _stack_rule(stack: str, environment: Environment) -> str:
    if stack in {e.value for e in Environment}:
        return (
            f"{environment.value!r} in stack {stack!r}; a stack named after an environment must "
            f"use that environment's profile ({stack!r})"
        )
    # Physical names (the EKS cluster, the KMS aliases, the online store's id) derive from the
    # environment: a second stack of one environment would collide with it in the account.
    return (
        f"{environment.value!r} in stack {stack!r}; physical names such as "
        f"{NAMESPACE}-{environment.value} derive from the environment, so the stack must be "
        f"named after it: rename the stack (and its file) to {environment.value!r}, or to "
        f"pr-<N> for a pull request's review stack in {REVIEW_ENVIRONMENT.value}"
    )


def parse_engine_config(
    config: Mapping[str, str],
    *,
    source: str,
    stack: str | None = None,
    secret_keys: Collection[str] = (),
) -> StackConfig:
    """Validate the flat map the engine passes (every namespace; values as strings).

    Keys outside the namespace, and ``secure:`` values, are judged first (see
    :mod:`components.config.keys`): a problem there can make every other message misleading.
    """
    problems = check_keys(config, secret_keys=secret_keys)
    if problems:
        raise ConfigError(source, problems)
    prefix = f"{NAMESPACE}:"
    values = {
        key.removeprefix(prefix): _decode(raw)
        for key, raw in sorted(config.items())
        if key.startswith(prefix)
    }
    return parse_stack_config(values, source=source, stack=stack)


def load_stack_config() -> StackConfig:
    """Read this stack's config from the Pulumi runtime; stop cleanly if it is invalid."""
    stack = pulumi.get_stack()
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    config = {key: str(runtime_config.get_config(key)) for key in keys}
    secret_keys = {key for key in keys if runtime_config.is_config_secret(key)}
    secret_keys |= set(runtime_config.get_config_secret_keys_env())
    try:
        return parse_engine_config(
            config, source=stack_file(stack), stack=stack, secret_keys=secret_keys
        )
    except ConfigError as exc:
        # RunError: the engine prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(exc)) from None


def load_stack_tenants(config: StackConfig, directory: Path) -> tuple[TenantSpec, ...]:
    """The feature teams enabled in this stack's environment (``tenants/*.yaml``); invalid
    files stop the program before any resource is registered, each problem named."""
    try:
        tenants = load_tenants(
            directory,
            environment=config.environment,
            platform_classification=config.tags.data_classification,
            quota_defaults=config.kubernetes.quota,
            platform_topics=config.streaming.topics,
            account_id=config.aws.account_id,
            platform_principals=(
                config.aws.assume_role_arn,
                *config.cluster.admin_role_arns,
                *config.cluster.view_role_arns,
            ),
        )
    except TenantError as exc:
        raise pulumi.RunError(str(exc)) from None
    # The online store's user group holds the platform's user and the teams' users.
    users = 1 + sum(len(team_cache_users(t, config.instance)) for t in tenants)
    quota = config.online_store.users_per_group_quota
    if users > quota:
        raise pulumi.RunError(
            str(
                ConfigError(
                    stack_file(pulumi.get_stack()),
                    [
                        (
                            f"{NAMESPACE}:onlineStore.usersPerGroupQuota",
                            f"{quota}, but the online store needs {users} users (the "
                            f"platform's and one per workload of {len(tenants)} teams); raise "
                            "ElastiCache's 'Users per user group' quota with Service Quotas, "
                            "then this key",
                        )
                    ],
                )
            )
        ) from None
    return tenants


def _decode(raw: Any) -> Any:
    """Structured values arrive JSON-encoded; scalars as strings (a quoted account id stays a
    string, which ``json.loads`` alone would turn into an int)."""
    if isinstance(raw, str) and raw[:1] in "{[":
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # a plain string that starts with a bracket: the model judges it
    return raw


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        # pydantic marks a bad mapping key with a trailing "[key]": the key path names it.
        is_key = loc[-1:] == ("[key]",)
        loc = loc[:-1] if is_key else loc
        rule = (error.get("ctx") or {}).get("error")
        if isinstance(rule, ConfigRuleError):
            problems.extend((_key(loc + key), message) for key, message in rule.violations)
        else:
            message = _message(error, loc)
            problems.append((_key(loc), f"not a valid name: {message}" if is_key else message))
    return problems


def _key(loc: tuple[str, ...]) -> str:
    return f"{NAMESPACE}:{'.'.join(loc)}" if loc else NAMESPACE


def _message(error: ErrorDetails, loc: tuple[str, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return f"unknown key; allowed keys here: {allowed}"
    if kind == "missing":
        return "is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "enum":
        # Only the sentence is lower-cased: the allowed values are quoted as written.
        return f"{error['input']!r} is not allowed; {message[:1].lower()}{message[1:]}"
    return message


def _allowed_keys(loc: tuple[str, ...]) -> list[str]:
    """Aliases of the model that sits at ``loc`` (for 'unknown key' messages)."""
    model: type[BaseModel] = StackConfig
    for part in loc:
        field = next((f for name, f in model.model_fields.items() if part in {name, f.alias}), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(f.alias or name for name, f in model.model_fields.items())
