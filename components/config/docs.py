"""Render the tables of ``docs/environments.md`` from the profiles and the config models.

``python -m components.config.docs`` prints them; a test fails when the doc drifts.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from components.config.models import Environment, StackConfig
from components.config.profiles import profile_defaults


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def profile_table() -> str:
    columns = list(Environment)
    flat = {env: _flatten(profile_defaults(env)) for env in columns}
    keys = sorted({key for values in flat.values() for key in values})
    lines = [
        "| key | " + " | ".join(env.value for env in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for key in keys:
        cells = " | ".join(_cell(flat[env].get(key, "—")) for env in columns)
        lines.append(f"| `{key}` | {cells} |")
    return "\n".join(lines)


def reference_table() -> str:
    """Every key of the namespace with its description (from the config models)."""
    lines = ["| key | description |", "|---|---|"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = f"{prefix}{field.alias or name}"
            lines.append(f"| `{key}` | {field.description} |")
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{key}.")

    walk(StackConfig, "")
    return "\n".join(lines)


def _split(pattern: re.Pattern[str], text: str) -> tuple[str, int, str]:
    matches = list(pattern.finditer(text))
    if len(matches) != 1:
        return text, len(matches), ""
    (m,) = matches
    return text[: m.end(1)], 1, text[m.start(2) :]


def sync(path: Path) -> None:
    """Rewrite the generated tables between their markers in ``path``."""
    text = path.read_text()
    for marker, render in (("profile-table", profile_table), ("reference-table", reference_table)):
        pattern = re.compile(rf"(<!-- {marker}:[^\n]*-->\n).*?(\n<!-- /{marker} -->)", re.DOTALL)
        # A replacement string would treat backslashes in the table as escapes.
        before, found, after = _split(pattern, text)
        text, count = before + render() + after, found
        if count != 1:
            raise SystemExit(f"{path}: expected one {marker} block, found {count}")
    path.write_text(text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        sync(Path(__file__).resolve().parents[2] / "docs" / "environments.md")
    else:
        print(profile_table())
        print()
        print(reference_table())
