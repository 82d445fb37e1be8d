"""The replacement rules as data: which input paths force a new resource, which types hold state.

Loaded once from ``data/force_new.yaml`` and ``data/stateful.yaml`` (each fact cites where it
came from). A path is camelCase with dots for nesting and no list indices:
``brokerNodeGroupInfo.clientSubnets``. ``region`` is ForceNew on every type except the global
ones the data names (the provider adds it to every region-aware resource).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data"
FORCE_NEW_FILE = DATA / "force_new.yaml"
STATEFUL_FILE = DATA / "stateful.yaml"
PROCEDURES_FILE = DATA / "procedures.yaml"


@dataclass(frozen=True)
class Procedure:
    """An in-place change that needs a runbook on some stacks (``data/procedures.yaml``)."""

    path: str
    when: str
    """``added``: the path was absent or empty in the base."""
    note: str


@dataclass(frozen=True)
class TypeRules:
    """What replaces one resource type, and where that was read."""

    type: str
    force_new: tuple[str, ...] = ()
    force_new_blocks: tuple[str, ...] = ()
    customize_diff: tuple[str, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    source: str = ""
    """``repo/file@commit`` the facts came from (or the stored version's index id when the
    index named no commit for it); empty for a type not derived."""


@dataclass(frozen=True)
class Rules:
    types: dict[str, TypeRules]
    not_derived: frozenset[str]
    physical_names: frozenset[str]
    kubernetes_identity: tuple[str, ...]
    stateful: dict[str, str] = field(default_factory=dict)
    """Type → what it holds (why replacing it loses something)."""

    def for_type(self, type_: str) -> TypeRules:
        return self.types.get(type_, TypeRules(type_))

    def derived(self, type_: str) -> bool:
        return type_ in self.types


def _source(entry: dict[str, Any], repository: str) -> str:
    where = f"{repository}/{entry['file']}"
    if "commit" in entry:
        return f"{where}@{entry['commit']}"
    # A version found by its content: the index gives it an id, not a commit.
    return f"{where} (stored version, index id {entry['indexId']})"


def _type_rules(
    type_: str,
    entry: dict[str, Any],
    repository: str,
    global_types: frozenset[str],
    procedures: tuple[Procedure, ...],
) -> TypeRules:
    region = () if type_ in global_types else ("region",)
    return TypeRules(
        type=type_,
        force_new=(*entry.get("forceNew", ()), *region),
        force_new_blocks=tuple(entry.get("forceNewBlocks", ())),
        customize_diff=tuple(entry.get("customizeDiff", ())),
        procedures=procedures,
        source=_source(entry, repository),
    )


def _procedures() -> dict[str, tuple[Procedure, ...]]:
    found: dict[str, list[Procedure]] = {}
    for entry in yaml.safe_load(PROCEDURES_FILE.read_text())["procedures"]:
        procedure = Procedure(path=entry["path"], when=entry["when"], note=entry["note"])
        if procedure.when != "added":
            raise ValueError(f"{PROCEDURES_FILE.name}: unknown `when` {procedure.when!r}")
        found.setdefault(entry["type"], []).append(procedure)
    return {type_: tuple(entries) for type_, entries in found.items()}


@cache
def load() -> Rules:
    """The rules shipped with blueprint (read once per process)."""
    force_new = yaml.safe_load(FORCE_NEW_FILE.read_text())
    stateful = yaml.safe_load(STATEFUL_FILE.read_text())
    repository = force_new["source"]["repository"]
    global_types = frozenset(force_new["region"]["global"])
    procedures = _procedures()
    return Rules(
        types={
            t: _type_rules(t, e, repository, global_types, procedures.get(t, ()))
            for t, e in force_new["types"].items()
        },
        not_derived=frozenset(force_new.get("notDerived", ())),
        physical_names=frozenset(force_new.get("physicalNames", ())),
        kubernetes_identity=tuple(force_new.get("kubernetesIdentity", ())),
        stateful=dict(stateful["types"]),
    )
