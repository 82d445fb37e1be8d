"""The provider facts table (``provider_facts.json``), loaded once and typed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FACTS_FILE = Path(__file__).with_name("provider_facts.json")


@dataclass(frozen=True)
class AutoName:
    """How pulumi-aws fills a resource's name when the program sets none."""

    property: str
    max_length: int
    random_length: int
    separator: str
    transform: str | None
    prefix_property: str | None
    post_prefix: str
    ref: str


@dataclass(frozen=True)
class TypeFacts:
    type: str
    auto_name: AutoName | None
    inputs: dict[str, list[dict[str, Any]]]
    """Input path (``a.b``, ``list[].c``) -> rules, named rule groups already expanded."""
    sensitive: frozenset[str]
    write_only: frozenset[str]
    """Write-only inputs: sent to AWS, never read back into state outputs nor diffed."""
    checks: tuple[dict[str, Any], ...] = ()
    """Rules across several inputs: ``check`` names a function in ``validate.CHECKS``."""
    physical_id: dict[str, Any] | None = None
    """How AWS stores an explicit identifier (``property``, ``transform``), when it changes it."""


@cache
def raw() -> dict[str, Any]:
    data = json.loads(FACTS_FILE.read_text())
    assert isinstance(data, dict)
    return data


def _auto_name(entry: dict[str, Any] | None) -> AutoName | None:
    if entry is None:
        return None
    return AutoName(
        property=entry["property"],
        max_length=int(entry["max_length"]),
        random_length=int(entry["random_length"]),
        separator=entry["separator"],
        transform=entry.get("transform"),
        prefix_property=entry.get("prefix_property"),
        post_prefix=entry.get("post_prefix", ""),
        ref=f"{entry['source']}: {entry['ref']}",
    )


def _expand(items: list[Any], groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for item in items:
        rules.extend(groups[item] if isinstance(item, str) else [item])
    return rules


@cache
def facts_for(type_: str) -> TypeFacts | None:
    """The facts of one Pulumi type token, or None when the table has no entry."""
    entry = raw()["types"].get(type_)
    if entry is None:
        return None
    groups = raw()["rules"]
    return TypeFacts(
        type=type_,
        auto_name=_auto_name(entry.get("auto_name")),
        inputs={path: _expand(items, groups) for path, items in entry["inputs"].items()},
        sensitive=frozenset(entry.get("sensitive", ())),
        write_only=frozenset(entry.get("write_only", {}).get("properties", ())),
        checks=tuple(entry.get("checks", ())),
        physical_id=entry.get("physical_id"),
    )


def write_only(type_: str) -> frozenset[str]:
    """The write-only inputs of a type (none for a type the table lacks)."""
    facts = facts_for(type_)
    return facts.write_only if facts else frozenset()


def known_types() -> frozenset[str]:
    return frozenset(raw()["types"])
