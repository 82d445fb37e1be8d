"""Render preflight's definitions into docs/runbooks/bootstrap-environment.md.

``python -m blueprint.preflight.docs --write`` rewrites the generated blocks; without
``--write`` it prints them. A test keeps the runbook in step with the definitions.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from blueprint.preflight.prerequisites import PREREQUISITES
from blueprint.preflight.quotas import QUOTA_PERMISSIONS, QUOTAS

RUNBOOK_PATH = (
    Path(__file__).resolve().parents[2] / "docs" / "runbooks" / "bootstrap-environment.md"
)


def prerequisites_table() -> str:
    lines = [
        "| what | why | name used by the stack files | preflight |",
        "|---|---|---|---|",
    ]
    for p in PREREQUISITES:
        check = f"`{p.id}`" if p.id else "not visible from the account"
        lines.append(f"| {p.what} | {p.why} | {p.named} | {check} |")
    return "\n".join(lines)


def quotas_table() -> str:
    lines = [
        "| quota | code | service code | per | preflight | source of the code |",
        "|---|---|---|---|---|---|",
    ]
    for q in QUOTAS:
        held = f" (less {q.held_back} kept unreserved)" if q.held_back else ""
        lines.append(
            f"| {q.name}{held} | `{q.quota_code}` | `{q.service_code}` | {q.scope} | "
            f"`{q.id}` | {q.source} |"
        )
    return "\n".join(lines)


def permissions() -> str:
    actions = {"sts:GetCallerIdentity", *QUOTA_PERMISSIONS}
    actions |= {a for q in QUOTAS for a in q.permissions}
    actions |= {a for p in PREREQUISITES for a in p.permissions}
    return (
        "Read-only actions preflight calls: " + ", ".join(f"`{a}`" for a in sorted(actions)) + "."
    )


def quotas_block() -> str:
    return quotas_table() + "\n\n" + permissions()


BLOCKS: dict[str, Callable[[], str]] = {
    "preflight-prerequisites": prerequisites_table,
    "preflight-quotas": quotas_block,
}


def sync(path: Path) -> None:
    """Rewrite each generated block between its markers in ``path``."""
    text = path.read_text()
    for marker, render in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {marker}:[^\n]*-->\n).*?(\n<!-- /{marker} -->)", re.DOTALL)
        matches = list(pattern.finditer(text))
        if len(matches) != 1:
            raise SystemExit(f"{path}: expected one {marker} block, found {len(matches)}")
        (m,) = matches
        # Slicing, not re.sub: a replacement string would treat backslashes as escapes.
        text = text[: m.end(1)] + render() + text[m.start(2) :]
    path.write_text(text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        sync(RUNBOOK_PATH)
    else:
        print("\n\n".join(render() for render in BLOCKS.values()))
