"""Values as they cross the Pulumi engine protocol.

A ``google.protobuf.Struct`` holds only doubles, so every number a program sets arrives as a
float (``port=6379`` reads ``6379.0``). AWS APIs, Kubernetes manifests and ``pulumi preview
--json`` all write whole numbers as integers: :func:`integral` turns them back.
"""

from __future__ import annotations

from typing import Any


def integral(value: Any) -> Any:
    """``value`` with every integral float, however deeply nested, as an ``int``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value
