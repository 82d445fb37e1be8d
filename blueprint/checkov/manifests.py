"""The plan's Kubernetes resources as YAML manifests, for checkov's ``kubernetes`` framework.

pulumi-kubernetes inputs are the Kubernetes objects themselves (``apiVersion``, ``kind``,
``metadata``, ``spec``/``data``), so a manifest is the inputs as they are. Every value in a
secret input (``data`` of a Secret, say) is replaced by a placeholder, its keys kept:
manifests are attached to pull requests. Whole numbers are integers again
(``containerPort: 8080``, not the engine protocol's ``8080.0``), as Kubernetes and checkov
read them. checkov names a Kubernetes resource ``Kind.namespace.name``; :attr:`Manifests.ids`
maps that back to the URN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from blueprint.capture import Plan, PlannedResource
from blueprint.checkov.tfplan import SECRET_PLACEHOLDER, is_kubernetes, mask
from blueprint.values import integral

__all__ = ["SECRET_PLACEHOLDER", "Manifests", "checkov_id", "manifest", "render"]
FILE_PATTERN = "[0-9][0-9][0-9]-*.yaml"
"""The manifests' file names (``NNN-kind-name.yaml``)."""
CLUSTER_SCOPED = frozenset(
    {"Namespace", "StorageClass", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
)


@dataclass
class Manifests:
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    """File name → the object."""
    ids: dict[str, str] = field(default_factory=dict)
    """checkov's ``Kind.namespace.name`` → URN."""

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, document in self.documents.items():
            path = directory / name
            path.write_text(yaml.safe_dump(document, sort_keys=False))
            written.append(path)
        return written


def _api_version(token: str) -> str:
    group_version = token.split(":")[1]  # core/v1, networking.k8s.io/v1
    group, version = group_version.split("/")
    return version if group == "core" else group_version


def manifest(resource: PlannedResource) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": resource.inputs.get("apiVersion") or _api_version(resource.type),
        "kind": resource.inputs.get("kind") or resource.type.rsplit(":", 1)[1],
    }
    for key, value in resource.inputs.items():
        if key in ("apiVersion", "kind") or key.startswith("__"):
            continue
        document[key] = mask(value) if key in resource.secret_inputs else integral(value)
    metadata = dict(document.get("metadata") or {})
    metadata.setdefault("name", resource.name)
    document["metadata"] = metadata
    return document


def checkov_id(document: dict[str, Any]) -> str:
    metadata = document["metadata"]
    kind = document["kind"]
    if kind in CLUSTER_SCOPED:
        return f"{kind}.default.{metadata['name']}"
    return f"{kind}.{metadata.get('namespace', 'default')}.{metadata['name']}"


def render(plan: Plan) -> Manifests:
    manifests = Manifests()
    for index, resource in enumerate(r for r in plan.resources if is_kubernetes(r)):
        if not resource.custom or resource.type.startswith("kubernetes:yaml"):
            continue
        document = manifest(resource)
        slug = re.sub(r"[^a-z0-9-]+", "-", f"{document['kind']}-{resource.name}".lower())
        manifests.documents[f"{index:03d}-{slug}.yaml"] = document
        manifests.ids[checkov_id(document)] = resource.urn
    return manifests
