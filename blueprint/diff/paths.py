"""Property paths: where two sets of inputs differ, and which patterns a path falls under.

A path reads as Pulumi writes it: ``brokerNodeGroupInfo.clientSubnets[2]``. Patterns
(``ignoreChanges``, ``replaceOnChanges``) may use ``[*]`` for any element and ``*`` alone for
every property, as the engine accepts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

ChangeKind = Literal["added", "removed", "changed"]
_SEGMENT = re.compile(r"\[[^\]]*\]|[^.\[\]]+")
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Change:
    """One leaf (or whole subtree, when added or removed) that differs."""

    path: str
    kind: ChangeKind
    old: Any = None
    new: Any = None

    @property
    def schema_path(self) -> str:
        """The path without list indices, as the schema names it."""
        return _INDEX.sub("", self.path)

    @property
    def top(self) -> str:
        return segments(self.path)[0]


def segments(path: str) -> list[str]:
    return _SEGMENT.findall(path)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def changes(old: Any, new: Any, prefix: str = "") -> list[Change]:
    """Every difference between ``old`` and ``new``; keys starting ``__`` are the SDK's own."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[Change] = []
        for key in sorted(set(old) | set(new)):
            if key.startswith("__"):
                continue
            path = _join(prefix, key)
            if key not in new:
                found.append(Change(path, "removed", old=old[key]))
            elif key not in old:
                found.append(Change(path, "added", new=new[key]))
            else:
                found += changes(old[key], new[key], path)
        return found
    if isinstance(old, list) and isinstance(new, list):
        found = []
        for i in range(max(len(old), len(new))):
            path = f"{prefix}[{i}]"
            if i >= len(new):
                found.append(Change(path, "removed", old=old[i]))
            elif i >= len(old):
                found.append(Change(path, "added", new=new[i]))
            else:
                found += changes(old[i], new[i], path)
        return found
    if old != new:
        return [Change(prefix, "changed", old=old, new=new)]
    return []


def matches(path: str, pattern: str) -> bool:
    """True if ``path`` is ``pattern`` or lies under it (``[*]`` matches any element)."""
    if pattern == "*":
        return True
    want, have = segments(pattern), segments(path)
    if len(want) > len(have):
        return False
    return all(
        w == h or (w == "[*]" and h.startswith("[")) for w, h in zip(want, have, strict=False)
    )


def under(schema_path: str, root: str) -> bool:
    """True if a schema path (no indices) is ``root`` or nested in it."""
    return schema_path == root or schema_path.startswith(root + ".")
