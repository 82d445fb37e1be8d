"""Two plans of one stack → what the engine would do to each resource.

A resource is the same one in both plans when its URN matches, or when the new one names the
old URN as an alias; otherwise the old one is deleted and the new one created (a rename
without an alias). For a matched resource, the inputs are compared leaf by leaf, without the
paths its ``ignoreChanges`` names; a change replaces it when it touches a ForceNew path of the
type (:mod:`blueprint.diff.rules`), a ``replaceOnChanges`` path, an explicit physical name or a
Kubernetes name or namespace. A replaced resource gets a new ID, unknown at preview: inputs of
other resources that carry it change too, and may replace those in turn (followed until
nothing more changes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from blueprint.capture import Plan, PlannedResource
from blueprint.diff.paths import Change, matches, under
from blueprint.diff.paths import changes as leaf_changes
from blueprint.diff.rules import Rules, TypeRules, load
from blueprint.fidelity.facts import write_only

Action = Literal["create", "update", "replace", "delete", "same"]
ACTIONS: tuple[Action, ...] = ("create", "update", "replace", "delete", "same")
SECRET = "[secret]"
UNKNOWN = "[unknown at preview]"
MIN_REFERENCE = 8
"""Output values shorter than this are too common ("true", "dev") to trace as references."""


@dataclass(frozen=True)
class Reason:
    """Why a change replaces the resource: the path that changed and the rule it hit."""

    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path} ({self.rule})"


@dataclass
class ResourceDiff:
    urn: str
    type: str
    name: str
    action: Action
    custom: bool = True
    changes: list[Change] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    protect: bool = False
    stateful: str = ""
    """What the type holds (from ``data/stateful.yaml``); empty: nothing to lose."""
    delete_before_replace: bool = False
    previous_urn: str = ""
    """The base URN when it differs (matched through an alias)."""
    secrets: frozenset[str] = frozenset()
    """Top-level inputs that are secret in either plan: compared, never shown."""
    notes: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """Replacing or deleting a protected or stateful resource loses what it holds."""
        return self.action in ("replace", "delete") and (self.protect or bool(self.stateful))

    def shown(self, value: Any, change: Change) -> Any:
        return SECRET if change.top in self.secrets else value

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "action": self.action,
            "previousUrn": self.previous_urn or None,
            "protect": self.protect,
            "stateful": self.stateful or None,
            "deleteBeforeReplace": self.delete_before_replace,
            "blocking": self.blocking,
            "replaceReasons": [{"path": r.path, "rule": r.rule} for r in self.reasons],
            "changes": [
                {
                    "path": c.path,
                    "kind": c.kind,
                    "old": self.shown(c.old, c),
                    "new": self.shown(c.new, c),
                    "secret": c.top in self.secrets,
                }
                for c in self.changes
            ],
            "notes": self.notes,
        }


@dataclass
class PlanDiff:
    project: str
    stack: str
    base: str
    """What the plan was compared with (a git ref and its commit)."""
    resources: list[ResourceDiff]
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = Counter(r.action for r in self.resources)
        return {action: found.get(action, 0) for action in ACTIONS}

    @property
    def blocking(self) -> list[ResourceDiff]:
        return [r for r in self.resources if r.blocking]

    def changed(self) -> list[ResourceDiff]:
        return [r for r in self.resources if r.action != "same"]


def compare(
    base: Plan, head: Plan, *, base_label: str = "", rules: Rules | None = None
) -> PlanDiff:
    """What deploying ``head`` over a stack deployed from ``base`` would do."""
    rules = rules or load()
    matched = _match(base, head)
    by_urn = {r.urn: r for r in head.resources}
    diffs: dict[str, ResourceDiff] = {}
    for resource in head.resources:
        old = matched.get(resource.urn)
        diffs[resource.urn] = (
            _diff(old, resource, _changes(old, resource), rules)
            if old is not None
            else _created(resource, rules)
        )
    _follow_replacements(diffs, matched, by_urn, rules)
    used = {old.urn for old in matched.values()}
    deleted = [_deleted(old, rules) for old in base.resources if old.urn not in used]
    result = PlanDiff(
        project=head.project,
        stack=head.stack,
        base=base_label,
        resources=[diffs[r.urn] for r in head.resources] + deleted,
    )
    result.notes = _notes(result, rules)
    return result


def _match(base: Plan, head: Plan) -> dict[str, PlannedResource]:
    """Head URN → the base resource it continues (same URN first, then its aliases)."""
    base_by = {r.urn: r for r in base.resources}
    head_urns = {r.urn for r in head.resources}
    matched: dict[str, PlannedResource] = {}
    used: set[str] = set()
    for resource in head.resources:
        if resource.urn in base_by:
            matched[resource.urn] = base_by[resource.urn]
            used.add(resource.urn)
    for resource in head.resources:
        if resource.urn in matched:
            continue
        for alias in resource.aliases:
            # An alias naming a URN that still exists in the new plan is not a move.
            if alias in base_by and alias not in used and alias not in head_urns:
                matched[resource.urn] = base_by[alias]
                used.add(alias)
                break
    return matched


def _changes(old: PlannedResource, new: PlannedResource) -> list[Change]:
    found = leaf_changes(old.inputs, new.inputs)
    # Write-only inputs are never diffed: the engine sends them only with a new version.
    hidden = [*new.ignore_changes, *write_only(new.type)]
    return [c for c in found if not any(matches(c.path, p) for p in hidden)]


def _base(resource: PlannedResource, action: Action, rules: Rules) -> ResourceDiff:
    return ResourceDiff(
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        action=action,
        custom=resource.custom,
        protect=resource.protect,
        stateful=rules.stateful.get(resource.type, "") if resource.custom else "",
        delete_before_replace=resource.delete_before_replace,
    )


def _created(resource: PlannedResource, rules: Rules) -> ResourceDiff:
    return _base(resource, "create", rules)


def _deleted(resource: PlannedResource, rules: Rules) -> ResourceDiff:
    return _base(resource, "delete", rules)


def _diff(
    old: PlannedResource, new: PlannedResource, found: list[Change], rules: Rules
) -> ResourceDiff:
    result = _base(new, "same", rules)
    # The engine refuses to delete what the state says is protected.
    result.protect = old.protect or new.protect
    result.previous_urn = old.urn if old.urn != new.urn else ""
    result.secrets = frozenset(old.secret_inputs) | frozenset(new.secret_inputs)
    _judge(result, new, found, rules)
    return result


def _judge(result: ResourceDiff, new: PlannedResource, found: list[Change], rules: Rules) -> None:
    result.changes = found
    result.reasons = _reasons(new, found, rules) if new.custom else []
    if result.reasons:
        result.action = "replace"
    elif found or result.previous_urn:
        result.action = "update"
    else:
        result.action = "same"
    result.notes = _customize_diff_notes(rules.for_type(new.type), found)


def _reasons(resource: PlannedResource, found: list[Change], rules: Rules) -> list[Reason]:
    """Every rule a change hits (one resource may be replaced for several reasons)."""
    if resource.type.startswith("pulumi:providers:"):
        return []
    type_rules = rules.for_type(resource.type)
    reasons: list[Reason] = []
    for change in found:
        reasons += _schema_reasons(type_rules, change)
        reasons += [
            Reason(change.path, f"replaceOnChanges {p}")
            for p in resource.replace_on_changes
            if matches(change.path, p)
        ]
        if change.path == change.top and change.top in rules.physical_names:
            reasons.append(Reason(change.path, "physical name"))
        if resource.type.startswith("kubernetes:"):
            reasons += [
                Reason(change.path, "Kubernetes identity")
                for key in rules.kubernetes_identity
                if under(change.schema_path, key)
            ]
    return list(dict.fromkeys(reasons))


def _schema_reasons(type_rules: TypeRules, change: Change) -> list[Reason]:
    path = change.schema_path
    whole = change.kind in ("added", "removed")
    found = [Reason(change.path, f"ForceNew {f}") for f in type_rules.force_new if under(path, f)]
    if whole:
        # A block added or removed: its own ForceNew, or ForceNew fields set or unset with it.
        found += [
            Reason(change.path, f"ForceNew block {b}")
            for b in type_rules.force_new_blocks
            if path == b
        ]
        found += [
            Reason(change.path, f"ForceNew {f}")
            for f in type_rules.force_new
            if f.startswith(path + ".")
        ]
    return found


def _customize_diff_notes(type_rules: TypeRules, found: list[Change]) -> list[str]:
    notes = []
    for entry in type_rules.customize_diff:
        paths = [p.strip() for p in entry.split(":", 1)[0].split(",")]
        if any(under(c.schema_path, p) for c in found for p in paths):
            notes.append(f"may also be replaced by the provider: {entry}")
    for procedure in type_rules.procedures:
        if any(under(c.schema_path, procedure.path) and c.old in (None, [], {}, "") for c in found):
            notes.append(f"needs a procedure: {procedure.note}")
    return notes


def _follow_replacements(
    diffs: dict[str, ResourceDiff],
    matched: dict[str, PlannedResource],
    by_urn: dict[str, PlannedResource],
    rules: Rules,
) -> None:
    """Replaced resources get new IDs: inputs carrying them change (until nothing more does)."""
    handled: set[str] = set()
    while True:
        replaced = [u for u, d in diffs.items() if d.action == "replace" and u not in handled]
        if not replaced:
            return
        handled.update(replaced)
        for urn, old in matched.items():
            resource = by_urn[urn]
            extra = [
                c
                for dep in replaced
                for c in _unknown(resource, by_urn[dep])
                if not any(matches(c.path, p) for p in resource.ignore_changes)
            ]
            known = {c.path for c in diffs[urn].changes}
            extra = [c for c in dict.fromkeys(extra) if c.path not in known]
            if extra:
                _judge(diffs[urn], resource, diffs[urn].changes + extra, rules)
                if not diffs[urn].previous_urn and old.urn != urn:
                    diffs[urn].previous_urn = old.urn


def _unknown(resource: PlannedResource, dependency: PlannedResource) -> list[Change]:
    """Inputs of ``resource`` fed by ``dependency``'s outputs, unknown once it is replaced."""
    properties = [k for k, deps in resource.property_dependencies.items() if dependency.urn in deps]
    values = {dependency.id} | {
        v for v in dependency.outputs.values() if isinstance(v, str) and len(v) >= MIN_REFERENCE
    }
    values.discard("")
    found: list[Change] = []
    for key in properties:
        if key not in resource.inputs:
            continue
        leaves = [
            Change(path, "changed", old=value, new=UNKNOWN)
            for path, value in _leaves(resource.inputs[key], key)
            if isinstance(value, str) and any(v in value for v in values)
        ]
        found += leaves or [Change(key, "changed", old=resource.inputs[key], new=UNKNOWN)]
    return found


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, value)]


def _notes(result: PlanDiff, rules: Rules) -> list[str]:
    """What a reviewer should know about the limits of this diff."""
    unknown = sorted(
        {
            r.type
            for r in result.resources
            if r.action == "update"
            and r.custom
            and not rules.derived(r.type)
            and not r.type.startswith(("pulumi:providers:", "kubernetes:"))
        }
    )
    return [
        f"{t}: no ForceNew table for this type (blueprint/diff/data/force_new.yaml); "
        "an update here may still be a replacement"
        for t in unknown
    ]
