"""Render the policy catalogue of ``docs/governance.md`` from the pack's own metadata.

``python -m blueprint.governance_docs --write`` rewrites the generated block; a test fails
when the doc drifts from the pack or from ``policies/config/<env>.json``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from policies.rules import CATALOGUE, PolicyInfo

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "staging", "prod")
PACK_DEFAULT = "mandatory"
"""The pack's own enforcement level (``policies/__main__.py``)."""
MARKER = "policy-catalogue"


def enforcement(environment: str) -> dict[str, str]:
    """Each policy's enforcement level in one environment's config file."""
    config: dict[str, Any] = json.loads(
        (PROJECT_DIR / "policies" / "config" / f"{environment}.json").read_text()
    )
    default = config.get("all", PACK_DEFAULT)
    levels = {}
    for name in CATALOGUE:
        value = config.get(name, default)
        levels[name] = value.get("enforcementLevel", default) if isinstance(value, dict) else value
    return levels


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


SHORT = {
    "AWS Foundational Security Best Practices": "FSBP",
    "CIS AWS Foundations Benchmark": "CIS",
    "Feature platform": "platform",
}


def _refs(info: PolicyInfo) -> str:
    return "; ".join(f"{SHORT.get(r.framework, r.framework)} {r.control}" for r in info.refs)


def catalogue() -> str:
    levels = {env: enforcement(env) for env in ENVIRONMENTS}
    lines = [
        "| policy | kind | severity | frameworks | dev | staging | prod |",
        "|---|---|---|---|---|---|---|",
    ]
    ordered = sorted(CATALOGUE.values(), key=lambda i: (i.kind, i.name))
    for info in ordered:
        cells = [
            f"[`{info.name}`](#{info.name})",
            info.kind,
            info.severity.name.lower(),
            _cell(_refs(info)),
            *(levels[env][info.name] for env in ENVIRONMENTS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for info in ordered:
        lines += [f"### {info.name}", "", _cell(info.description), ""]
        if info.resource_types:
            types = ", ".join(f"`{t}`" for t in info.resource_types)
            lines.append(f"- **applies to:** {types}")
        lines.append(f"- **frameworks:** {_cell(_refs(info))}")
        if info.config_schema:
            settings = ", ".join(
                f"`{key}` (default `{json.dumps(schema.get('default'))}`)"
                for key, schema in info.config_schema.items()
            )
            lines.append(f"- **config:** {settings}")
        if info.remediates:
            lines.append("- **remediates:** yes, with enforcement `remediate`")
        lines += [f"- **remediation:** {_cell(info.remediation)}", ""]
    return "\n".join(lines).rstrip("\n")


def sync(path: Path) -> None:
    text = path.read_text()
    pattern = re.compile(rf"(<!-- {MARKER}:[^\n]*-->\n).*?(\n<!-- /{MARKER} -->)", re.DOTALL)
    matches = list(pattern.finditer(text))
    if len(matches) != 1:
        raise SystemExit(f"{path}: expected one {MARKER} block, found {len(matches)}")
    (match,) = matches
    path.write_text(text[: match.end(1)] + catalogue() + text[match.start(2) :])


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        sync(PROJECT_DIR / "docs" / "governance.md")
    else:
        print(catalogue())
