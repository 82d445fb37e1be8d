"""Apply the provider facts: auto-names as the bridge makes them, inputs as the provider checks.

Both raise :class:`FidelityError`, which names the property, the value and the rule with its
source; capture wraps it with the resource's URN (``blueprint.capture.ResourceError``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from blueprint.fidelity import alarms
from blueprint.fidelity.facts import AutoName, TypeFacts, facts_for

# The SDK's marker for a value unknown during preview: nothing to validate yet.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"


class FidelityError(ValueError):
    """A value the real bridge or provider would refuse."""


def _given(inputs: dict[str, Any], key: str) -> bool:
    """Whether the program set ``key`` (an unknown preview value counts as set)."""
    return inputs.get(key) not in (None, [], "")


def elasticache_auth_token_problems(inputs: dict[str, Any]) -> list[str]:
    """A replication group's AUTH token against its strategy and its RBAC user groups."""
    token = next((k for k in ("authToken", "authTokenWo") if _given(inputs, k)), None)
    strategy = inputs.get("authTokenUpdateStrategy")
    problems = []
    if token and _given(inputs, "userGroupIds"):
        problems.append(f"'{token}' conflicts with 'userGroupIds'")
    if strategy == "DELETE" and token:
        problems.append(f"'{token}' must not be specified when 'authTokenUpdateStrategy' is DELETE")
    if strategy in ("SET", "ROTATE") and not token:
        problems.append(
            f"'authTokenUpdateStrategy' {strategy} requires 'authToken' or 'authTokenWo'"
        )
    return problems


def elasticache_user_password_problems(inputs: dict[str, Any]) -> list[str]:
    """``passwordsWo`` against the other ways of giving an ElastiCache user a password."""
    if not _given(inputs, "passwordsWo"):
        return []
    problems = [
        f"'passwordsWo' conflicts with '{other}'"
        for other in ("passwords", "authenticationMode")
        if _given(inputs, other)
    ]
    if not _given(inputs, "passwordsWoVersion"):
        problems.append("'passwordsWo' requires 'passwordsWoVersion'")
    return problems


CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "cloudwatch-alarm": lambda inputs: alarms.alarm_problems(alarms.from_inputs(inputs)),
    "elasticache-auth-token": elasticache_auth_token_problems,
    "elasticache-user-passwords": elasticache_user_password_problems,
}
"""Rules across several inputs, by the name a type's ``checks`` entry gives (each entry
carries its own source); the functions are shared with the moto models."""


def _suffix(logical: str, salt: str, length: int) -> str:
    # Deterministic stand-in for the bridge's random hex, so plans and snapshots are stable.
    return hashlib.sha256("/".join(filter(None, (salt, logical))).encode()).hexdigest()[:length]


def auto_name(type_: str, logical: str, inputs: dict[str, Any], *, salt: str = "") -> str | None:
    """The name the bridge would give, or the explicit one; None when the type has no rule.

    Fails with the bridge's own text when the logical name cannot fit.
    """
    facts = facts_for(type_)
    rule = facts.auto_name if facts else None
    if rule is None:
        return None
    if inputs.get(rule.property):
        return str(inputs[rule.property])
    prefix = rule.prefix_property and inputs.get(rule.prefix_property)
    if prefix:
        # Terraform appends its own unique id; its length is checked on the prefix rule.
        return f"{prefix}{_suffix(logical, salt, rule.random_length)}"
    return _generate(type_, logical, rule, salt)


def _generate(type_: str, logical: str, rule: AutoName, salt: str) -> str:
    base = logical.lower() if rule.transform == "lower" else logical
    prefix = base + rule.separator
    if len(prefix) + rule.random_length > rule.max_length:
        raise FidelityError(
            f"auto-name of '{rule.property}': could not make instance of '{type_}': "
            f"name '{prefix}' plus {rule.random_length} random chars is longer than maximum "
            f"length {rule.max_length} (rule: {rule.ref}); set '{rule.property}' explicitly "
            "or shorten the logical name"
        )
    name = prefix + _suffix(logical, salt, rule.random_length)
    if rule.post_prefix and not name.startswith(rule.post_prefix):
        name = rule.post_prefix + name
    return name


def physical_id(type_: str, inputs: dict[str, Any]) -> str | None:
    """The identifier AWS stores for an explicitly named resource (``userId`` in lower case),
    or None when the table states no rule for the type or the input is not set."""
    facts = facts_for(type_)
    rule = facts.physical_id if facts else None
    value = inputs.get(rule["property"]) if rule else None
    if rule is None or not isinstance(value, str) or value == UNKNOWN:
        return None
    return value.lower() if rule.get("transform") == "lower" else value


def check_inputs(type_: str, inputs: dict[str, Any]) -> list[str]:
    """Every violation of the type's input rules, as sentences (empty when clean)."""
    facts = facts_for(type_)
    if facts is None:
        return []
    found: list[str] = []
    for path, rules in facts.inputs.items():
        for value in _values(inputs, path.split(".")):
            found.extend(_violations(facts, path, value, inputs, rules))
    for check in facts.checks:
        found.extend(
            f"{problem} (rule: {check['source']}: {check.get('ref', '')})"
            for problem in CHECKS[check["check"]](inputs)
        )
    return found


def enforce(type_: str, logical: str, inputs: dict[str, Any], *, salt: str = "") -> dict[str, Any]:
    """Inputs with the auto-name filled in, after checking them as the provider would."""
    complete = dict(inputs)
    facts = facts_for(type_)
    if facts and facts.auto_name:
        name = auto_name(type_, logical, inputs, salt=salt)
        if name is not None and not inputs.get(facts.auto_name.prefix_property or ""):
            complete[facts.auto_name.property] = name
    problems = check_inputs(type_, complete)
    if problems:
        raise FidelityError("; ".join(problems))
    return complete


def _values(node: Any, steps: list[str]) -> Iterator[Any]:
    """The values at a path; ``name[]`` walks every element of a list."""
    if not steps:
        if node is not None and node != UNKNOWN:
            yield _unwrap(node)
        return
    step, rest = steps[0], steps[1:]
    key, each = (step[:-2], True) if step.endswith("[]") else (step, False)
    node = _unwrap(node)
    child = _unwrap(node.get(key)) if isinstance(node, dict) else None
    if each and isinstance(child, list):
        for element in child:
            yield from _values(element, rest)
    elif not each:
        yield from _values(child, rest)


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and SECRET_SIG_KEY in value:
        return value.get("value")
    return value


def _violations(
    facts: TypeFacts, path: str, value: Any, inputs: dict[str, Any], rules: list[dict[str, Any]]
) -> Iterator[str]:
    shown = "<secret>" if path in facts.sensitive else repr(value)
    for rule in rules:
        if not _applies(rule, inputs):
            continue
        why = _broken(rule, value)
        if why:
            yield (
                f"invalid '{path}' = {shown}: {why} (rule: {rule['source']}: {rule.get('ref', '')})"
            )


def _applies(rule: dict[str, Any], inputs: dict[str, Any]) -> bool:
    """``when``: every listed input has that value; ``unless``: none of them has."""
    when = all(inputs.get(k) == v for k, v in rule.get("when", {}).items())
    return when and not any(inputs.get(k) == v for k, v in rule.get("unless", {}).items())


def _broken(rule: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` breaks ``rule``, or None. Values of the wrong type are left to others."""
    if rule["kind"] in ("int_range", "int_in", "int_multiple"):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return _number_rule(rule, value) if number else None
    if rule["kind"] == "max_items":
        if isinstance(value, list) and len(value) > rule["max"]:
            return f"{len(value)} items; at most {rule['max']}"
        return None
    if rule["kind"] == "min_items":
        if isinstance(value, list) and len(value) < rule["min"]:
            return f"{len(value)} items; at least {rule['min']}"
        return None
    return _string_rule(rule, value) if isinstance(value, str) else None


def _string_rule(rule: dict[str, Any], value: str) -> str | None:
    kind, why = rule["kind"], f" ({rule['why']})" if "why" in rule else ""
    if kind == "length":
        low, high = rule["min"], rule["max"]
        if len(value) < low or (high is not None and len(value) > high):
            return f"length {len(value)} is outside {low}..{'' if high is None else high}"
    elif kind == "pattern" and not re.search(rule["regex"], value):
        return f"must match {rule['regex']}{why}"
    elif kind == "forbid" and re.search(rule["regex"], value):
        return rule.get("why") or f"must not match {rule['regex']}"
    elif kind == "enum" and value not in rule["values"]:
        return f"must be one of {', '.join(rule['values'])}"
    return None


def _number_rule(rule: dict[str, Any], value: float) -> str | None:
    if rule["kind"] == "int_in":
        return None if value in rule["values"] else f"must be one of {rule['values']}"
    if rule["kind"] == "int_multiple":
        if value in rule.get("or_values", ()) or (value > 0 and value % rule["of"] == 0):
            return None
        return f"must be one of {rule.get('or_values', [])} or a multiple of {rule['of']}"
    if value in rule.get("or_values", ()):
        return None
    low, high = rule["min"], rule["max"]
    if (low is not None and value < low) or (high is not None and value > high):
        extra = f" or one of {rule['or_values']}" if rule.get("or_values") else ""
        return f"must be in {low}..{high if high is not None else ''}{extra}"
    return None
