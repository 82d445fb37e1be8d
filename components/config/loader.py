"""Parse the ``feature-platform:`` namespace once into a :class:`StackConfig`.

Invalid config stops the program before any resource is registered, with one message that
names the stack file, every offending key path and what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from components.config.base import ConfigRuleError
from components.config.models import Environment, StackConfig
from components.config.profiles import deep_merge, profile_defaults

NAMESPACE = "feature-platform"
STACK_CONFIG_DIR = "stacks"


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
    if stack in {e.value for e in Environment} and stack != environment.value:
        raise ConfigError(
            source,
            [
                (
                    f"{NAMESPACE}:environment",
                    f"{environment.value!r} in stack {stack!r}; a stack named after an "
                    f"environment must use that environment's profile ({stack!r})",
                )
            ],
        )
    merged = deep_merge(profile_defaults(environment), dict(values))
    try:
        return StackConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


def load_stack_config() -> StackConfig:
    """Read this stack's config from the Pulumi runtime; stop cleanly if it is invalid."""
    stack = pulumi.get_stack()
    try:
        return parse_stack_config(_namespace_values(), source=stack_file(stack), stack=stack)
    except ConfigError as exc:
        # RunError: the engine prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(exc)) from None


def _namespace_values() -> dict[str, Any]:
    """Every ``feature-platform:*`` key the engine passed, including ones no code reads."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{NAMESPACE}:"
    values: dict[str, Any] = {}
    for key in sorted(k for k in keys if k.startswith(prefix)):
        raw = runtime_config.get_config(key)
        values[key.removeprefix(prefix)] = _decode(raw)
    return values


def _decode(raw: Any) -> Any:
    """Structured values arrive JSON-encoded; scalars as strings (a quoted account id stays a
    string, which ``json.loads`` alone would turn into an int)."""
    if isinstance(raw, str) and raw[:1] in "{[":
        return json.loads(raw)
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
        return f"{error['input']!r} is not allowed; {message.lower()}"
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
