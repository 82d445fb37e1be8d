"""The diff for people (a table, a Markdown section) and for machines (JSON).

Values are shown for what changed, except secret inputs: those read ``[secret]`` everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from blueprint.diff.allowances import Judged
from blueprint.diff.compare import ACTIONS, PlanDiff, ResourceDiff

FORMAT_VERSION = 1
VALUE_MAX = 60
STYLE = {"create": "green", "update": "yellow", "replace": "red", "delete": "red", "same": "dim"}


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def detail(change: ResourceDiff) -> str:
    """Why a resource is replaced, or what changed in it."""
    if change.action == "replace":
        lines = [f"replaced by: {r}" for r in change.reasons]
        if change.delete_before_replace:
            lines.append("deleteBeforeReplace: the old one goes first (a gap)")
    elif change.action == "update":
        lines = [
            f"{c.path}: {_value(change.shown(c.old, c))} → {_value(change.shown(c.new, c))}"
            for c in change.changes
        ]
        if change.previous_urn:
            lines.append(f"moved from {change.previous_urn} (alias)")
    else:
        lines = []
    return "\n".join(lines + change.notes)


def _flags(change: ResourceDiff, judged: Judged) -> str:
    if not change.blocking:
        return ""
    allowed = next((b.allowance for b in judged.blocking if b.change is change), None)
    what = "protected" if change.protect else f"stateful: {change.stateful}"
    return f"allowed: {allowed.reason}" if allowed else f"[red]BLOCKING[/red] ({what})"


def table(diff: PlanDiff, judged: Judged) -> Table:
    result = Table(title=f"{diff.stack}: changes against {diff.base}")
    result.add_column("action")
    result.add_column("type", overflow="fold")
    result.add_column("name", overflow="fold")
    result.add_column("why / what", overflow="fold")
    result.add_column("", overflow="fold")
    for change in diff.changed():
        style = STYLE[change.action]
        result.add_row(
            f"[{style}]{change.action}[/]",
            change.type,
            change.name,
            detail(change),
            _flags(change, judged),
        )
    return result


def summary(diff: PlanDiff) -> str:
    return ", ".join(f"{n} {action}" for action, n in diff.counts().items())


def as_json(diff: PlanDiff, judged: Judged) -> dict[str, Any]:
    allowed = {b.change.urn: b.allowance.reason for b in judged.blocking if b.allowance}
    return {
        "formatVersion": FORMAT_VERSION,
        "project": diff.project,
        "stack": diff.stack,
        "base": diff.base,
        "passed": judged.passed,
        "summary": diff.counts(),
        "blocking": [c.urn for c in judged.unallowed],
        "allowed": allowed,
        "errors": judged.errors,
        "notes": diff.notes,
        "resources": [c.as_json() for c in diff.changed()],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


def markdown(diff: PlanDiff, judged: Judged) -> str:
    """A section for the pull-request comment."""
    counts = diff.counts()
    mark = "✅" if judged.passed else "❌"
    lines = [
        f"### {mark} Changes against `{diff.base}`",
        "",
        " · ".join(f"{counts[a]} {a}" for a in ACTIONS),
        "",
    ]
    if judged.unallowed:
        lines += [
            "**Blocking** (protected or stateful; allow in `policies/replacements.yaml`):",
            "",
        ]
        lines += [f"- `{c.urn}` ({c.action})" for c in judged.unallowed]
        lines.append("")
    lines += [f"- error: {e}" for e in judged.errors]
    changed = diff.changed()
    if changed:
        lines += ["<details>", f"<summary>Changed resources ({len(changed)})</summary>", ""]
        lines += ["| Action | Type | Name | Why / what |", "|---|---|---|---|"]
        lines += [
            f"| {c.action} | {_cell(c.type)} | {_cell(c.name)} | {_cell(detail(c))} |"
            for c in changed
        ]
        lines += ["", "</details>", ""]
    lines += [f"> note: {n}" for n in diff.notes]
    return "\n".join(lines).rstrip("\n") + "\n"
