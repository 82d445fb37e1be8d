"""Where in the stack file a finding is fixed: the config key that controls its resource.

A finding names a Pulumi resource; a reviewer fixes it in ``stacks/Pulumi.<env>.yaml``. The
key that controls the resource is found from the resource's type and its ancestors'
(component types, nearest first) through :data:`TYPE_KEYS`, and, for rules whose fix lives in
one section whatever the resource, :data:`RULE_KEYS`. The key's line in the stack file is
the finding's SARIF location; a key the file does not set (the profile's default applies), or
a resource no key controls, falls back to line 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from blueprint.capture import Plan, PlannedResource

NAMESPACE = "feature-platform"

TYPE_KEYS = {
    # Components (featureplatform:<area>:<Class>), the nearest one to the resource wins.
    "featureplatform:data:OnlineStore": "onlineStore",
    "featureplatform:data:Streaming": "streaming",
    "featureplatform:network:Network": "network",
    "featureplatform:compute:Cluster": "cluster",
    "featureplatform:compute:KubernetesBaseline": "kubernetes",
    "featureplatform:security:Encryption": "kms",
    "featureplatform:security:GeneratedSecret": "secrets",
    "featureplatform:storage:Storage": "storage",
    "featureplatform:storage:SecureBucket": "storage",
    "featureplatform:identity:WorkloadIdentity": "identity",
    # Resources whose settings come from a section of their own, wherever they are built.
    "pulumi:providers:aws": "aws",
    "aws:cloudwatch/logGroup:LogGroup": "logging",
}
"""Pulumi type → the ``feature-platform:<key>`` section that configures it."""

RULE_KEYS = {
    "required-tags": "tags",
    "data-classification-values": "tags",
    "provider-pinned-account": "aws",
    "region-allowlist": "aws",
    "stateful-resources-protected": "protection",
    "log-retention-minimum": "logging",
}
"""Pack policies fixed in one section, whichever resource they name."""

_TOP_KEY = re.compile(rf"^\s+{re.escape(NAMESPACE)}:([A-Za-z0-9_-]+)\s*:")


def lineage(plan: Plan) -> dict[str, tuple[str, ...]]:
    """URN → its type, then its parent's, up to the stack (from the plan's parent links)."""
    by_urn = {r.urn: r for r in plan.resources}
    chains: dict[str, tuple[str, ...]] = {}
    for resource in plan.resources:
        types: list[str] = []
        seen: set[str] = set()
        current: PlannedResource | None = resource
        while current is not None and current.urn not in seen:
            seen.add(current.urn)
            types.append(current.type)
            current = by_urn.get(current.parent) if current.parent else None
        chains[resource.urn] = tuple(types)
    return chains


def urn_types(urn: str) -> tuple[str, ...]:
    """The type chain a URN spells (``parent$child``), nearest first: a fallback for a URN
    the plan does not list."""
    parts = urn.split("::")
    if len(parts) < 4 or not urn.startswith("urn:pulumi:"):
        return ()
    return tuple(reversed(parts[2].split("$")))


def config_key(types: Iterable[str], rule_id: str = "") -> str | None:
    """The section that controls a resource of this type chain (nearest type first)."""
    if rule_id in RULE_KEYS:
        return RULE_KEYS[rule_id]
    return next((TYPE_KEYS[t] for t in types if t in TYPE_KEYS), None)


def key_lines(stack_file_text: str) -> dict[str, int]:
    """``feature-platform:<key>`` → its 1-based line among the stack file's config keys."""
    lines: dict[str, int] = {}
    for number, line in enumerate(stack_file_text.splitlines(), 1):
        match = _TOP_KEY.match(line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def line_of(
    urn: str,
    rule_id: str,
    lines: Mapping[str, int],
    chains: Mapping[str, tuple[str, ...]],
) -> int:
    """The stack-file line of the key that controls ``urn`` for ``rule_id``; 1 without one."""
    key = config_key(chains.get(urn) or urn_types(urn), rule_id)
    return lines.get(key, 1) if key else 1
