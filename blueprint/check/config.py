"""Policy-pack config: the ``--policy-pack-config`` file, merged and validated as the CLI does.

The file maps policy names (or ``all``) to an enforcement level, or to an object with an
optional ``enforcementLevel`` and the policy's own properties::

    {"all": "mandatory", "kms-key-rotation": {"enforcementLevel": "advisory"}}

What a pack is configured with is built in three layers, each over the one before
(``ReconcilePolicyPackConfig`` in the Pulumi CLI):

1. each policy's own enforcement level and its config schema's ``default`` values;
2. the pack's initial config (``initialConfig`` from ``GetAnalyzerInfo``);
3. the user's file. In layers 2 and 3 an ``all`` level applies to every policy first.

The result is then validated against each policy's ``configSchema``. Stricter than the CLI,
a file naming an unknown policy or a property its policy does not declare is an error: a
typo would otherwise silently leave a policy at its default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blueprint.check.errors import PolicyConfigError

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
ALL = "all"
LEVEL_KEY = "enforcementLevel"


@dataclass(frozen=True)
class PolicyConfig:
    """One policy's config: its enforcement level (``None``: not set by this layer)."""

    enforcement_level: str | None
    properties: dict[str, Any] = field(default_factory=dict)


ConfigLayer = dict[str, PolicyConfig]


@dataclass(frozen=True)
class PolicyMeta:
    """What the pack says about one policy (from ``GetAnalyzerInfo``)."""

    name: str
    description: str
    enforcement_level: str
    severity: str | None
    kind: str
    """``resource``, ``stack`` or ``unknown``."""
    schema_properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema_required: list[str] = field(default_factory=list)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.schema_properties.items() if "default" in v}


def read_config_file(path: Path) -> ConfigLayer:
    """Parse a policy-pack config file; errors name the file, the key and the fix."""
    if not path.is_file():
        raise PolicyConfigError(f"policy pack config {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyConfigError(f"{path} cannot be read as UTF-8 text: {exc}") from None
    if not text.strip():
        return {}  # as the CLI: an empty file configures nothing
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PolicyConfigError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise PolicyConfigError(f"{path} is nested too deeply to read") from None
    if not isinstance(data, dict):
        raise PolicyConfigError(
            f"{path} must hold a JSON object of policy names (or {ALL!r}) to levels or objects"
        )
    return {key: _entry(path, key, value) for key, value in data.items()}


def _level(path: Path, key: str, value: Any) -> str:
    if value not in LEVELS:
        raise PolicyConfigError(
            f"{path}: {key!r}: {json.dumps(value)} is not an enforcement level; "
            f"use one of {', '.join(LEVELS)}"
        )
    return str(value)


def _entry(path: Path, key: str, value: Any) -> PolicyConfig:
    if isinstance(value, str):
        return PolicyConfig(_level(path, key, value))
    if not isinstance(value, dict):
        raise PolicyConfigError(
            f"{path}: {key!r}: {json.dumps(value)} is neither an enforcement level "
            f"({', '.join(LEVELS)}) nor an object"
        )
    properties = {k: v for k, v in value.items() if k != LEVEL_KEY}
    level = _level(path, f"{key}.{LEVEL_KEY}", value[LEVEL_KEY]) if LEVEL_KEY in value else None
    if key == ALL and properties:
        raise PolicyConfigError(
            f"{path}: {ALL!r} takes only an enforcement level, not {sorted(properties)}"
        )
    return PolicyConfig(level, properties)


def _apply(result: dict[str, PolicyConfig], layer: ConfigLayer) -> None:
    everything = layer.get(ALL)
    if everything is not None and everything.enforcement_level is not None:
        for name, config in result.items():
            result[name] = PolicyConfig(everything.enforcement_level, config.properties)
    for name, given in layer.items():
        if name == ALL or name not in result:
            continue
        current = result[name]
        result[name] = PolicyConfig(
            given.enforcement_level or current.enforcement_level,
            {**current.properties, **given.properties},
        )


def reconcile(
    policies: Sequence[PolicyMeta],
    initial: ConfigLayer,
    user: ConfigLayer,
    source: Path | None = None,
) -> dict[str, PolicyConfig]:
    """Every policy's effective config: defaults < ``initial`` < ``user`` (from ``source``)."""
    where = str(source) if source else "policy pack config"
    by_name = {p.name: p for p in policies}
    unknown = sorted(set(user) - set(by_name) - {ALL})
    if unknown:
        raise PolicyConfigError(
            f"{where}: no policy named {', '.join(map(repr, unknown))} in this pack; "
            f"its policies are: {', '.join(sorted(by_name))}"
        )
    result = {p.name: PolicyConfig(p.enforcement_level, p.defaults()) for p in policies}
    _apply(result, {k: v for k, v in initial.items() if k == ALL or k in by_name})
    _apply(result, user)
    problems: list[str] = []
    for policy in policies:
        given = user.get(policy.name, PolicyConfig(None)).properties
        problems += _unknown_properties(where, policy, given)
        try:
            problems += _schema_errors(where, policy, result[policy.name].properties, given)
        except RecursionError:
            problems.append(f"{where}: {policy.name!r}: a value is nested too deeply to check")
    if problems:
        raise PolicyConfigError("\n".join(problems))
    return result


def _unknown_properties(where: str, policy: PolicyMeta, given: Mapping[str, Any]) -> list[str]:
    extra = sorted(set(given) - set(policy.schema_properties))
    if not extra:
        return []
    known = ", ".join(sorted(policy.schema_properties)) or "none"
    return [
        f"{where}: policy {policy.name!r} has no property {name!r}; its properties: {known}"
        for name in extra
    ]


def _schema_errors(
    where: str, policy: PolicyMeta, merged: Mapping[str, Any], given: Mapping[str, Any]
) -> list[str]:
    if not policy.schema_properties and not policy.schema_required:
        return []
    schema: dict[str, Any] = {"type": "object", "properties": policy.schema_properties}
    if policy.schema_required:
        schema["required"] = policy.schema_required
    # Imported here: jsonschema costs 0.15 s, which no other blueprint command should pay.
    from jsonschema import Draft7Validator  # noqa: PLC0415

    problems = []
    for error in sorted(Draft7Validator(schema).iter_errors(dict(merged)), key=str):
        if error.validator == "required":
            name = str(error.message).split("'")[1]
            problems.append(
                f"{where}: policy {policy.name!r} needs property {name!r} "
                f"({json.dumps(policy.schema_properties.get(name, {}))})"
            )
            continue
        name = str(error.absolute_path[0]) if error.absolute_path else ""
        # Blame the file only for what it set; the rest came from the pack itself.
        source = where if name in given else "the pack's schema defaults or initial config"
        allowed = {
            k: v for k, v in policy.schema_properties.get(name, {}).items() if k != "default"
        }
        problems.append(
            f"{source}: policy {policy.name!r}, property {name!r}: {error.message}; "
            f"allowed: {json.dumps(allowed)}"
        )
    return problems
