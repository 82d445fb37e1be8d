"""Reading a plan attribute as checkov hands it to a check: shared by the ``fp_*`` checks.

checkov wraps every attribute of a Terraform plan in a list (a block is a list of one
object), and Terraform writes some booleans as strings ("true"). checkov puts this directory
on ``sys.path`` before it loads the checks, so they import this module by name; it defines
no check itself.
"""

from __future__ import annotations

from typing import Any


def first(value: Any) -> Any:
    """A plan attribute's value: checkov wraps every attribute (and block) in a list."""
    return (value[0] if value else None) if isinstance(value, list) else value


def block(conf: Any, key: str) -> dict[str, Any] | None:
    """The single block ``key`` of ``conf``, or ``None``."""
    found = first(conf.get(key)) if isinstance(conf, dict) else None
    return found if isinstance(found, dict) else None


def is_true(value: Any) -> bool:
    value = first(value)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    value = first(value)
    return value is False or (isinstance(value, str) and value.lower() == "false")


def is_set(value: Any) -> bool:
    """Any non-empty value, however deeply listed (an ARN, a list of ARNs, a reference)."""
    if isinstance(value, list):
        return any(is_set(item) for item in value)
    return value is not None and value != ""


def strings(value: Any) -> list[str]:
    """Every string in a (possibly nested) list: a plan's list attribute is wrapped once more."""
    if isinstance(value, list):
        return [item for inner in value for item in strings(inner)]
    return [value] if isinstance(value, str) else []
