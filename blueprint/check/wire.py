"""The captured plan as the Pulumi engine puts it on the wire to a policy pack.

For every resource the engine registers (the root stack, components, providers and custom
resources, in registration order) it sends ``Remediate`` and then ``Analyze`` with the
resource's inputs; at the end ``AnalyzeStack`` gets every resource with its outputs, parent,
dependencies and property dependencies. This module builds those messages from a
:class:`~blueprint.capture.Plan`:

- properties are camelCase inputs as a protobuf ``Struct``; the plan's ``secret_inputs`` are
  wrapped back into Pulumi secret values (the secret signature), as the engine sends them;
  unknown values become the unknown sentinel;
- the provider is the resource's explicit provider from the plan, or, for a resource on a
  default provider (which the mocks never register), the ``default_<version>`` provider the
  engine would create, with the package's stack config as its inputs;
- the root ``pulumi:pulumi:Stack`` resource is added, as every top-level resource's parent.

One deviation: ``AnalyzeStack`` sees the outputs the mocks computed, where a real preview
would see computed outputs as unknown.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto

from blueprint.capture import SECRET_SIG, SECRET_SIG_KEY, Plan, PlannedResource

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"


@dataclass
class WireResource:
    """One resource as the engine knows it; ``inputs`` change when a pack remediates them."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    secrets: set[str]
    """Top-level input keys whose values are secret."""
    protect: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider_urn: str = ""
    planned_inputs: dict[str, Any] = field(default_factory=dict)
    """The inputs the program gave (``inputs`` before any remediation)."""

    def __post_init__(self) -> None:
        self.planned_inputs = dict(self.inputs)

    def analyzer_options(self) -> proto.AnalyzerResourceOptions:
        return proto.AnalyzerResourceOptions(
            protect=self.protect,
            ignoreChanges=self.ignore_changes,
            parent=self.parent,
            customTimeouts=proto.AnalyzerResourceOptions.CustomTimeouts(),
        )

    def stack_properties(self) -> dict[str, Any]:
        """Outputs, with remediated inputs over them (a remediated input is the new output)."""
        kept = {k: v for k, v in self.outputs.items() if k not in self.planned_inputs}
        return {**kept, **self.inputs}


def _unknown_or_plain(value: Any) -> Any:
    if isinstance(value, pulumi.output.Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {str(k): _unknown_or_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unknown_or_plain(v) for v in value]
    return value


def to_struct(
    properties: Mapping[str, Any], secrets: set[str] | frozenset[str] = frozenset()
) -> struct_pb2.Struct:
    """``properties`` as the engine marshals them: secrets wrapped, unknowns as the sentinel."""
    struct = struct_pb2.Struct()
    struct.update(
        {
            key: (
                {SECRET_SIG_KEY: SECRET_SIG, "value": _unknown_or_plain(value)}
                if key in secrets
                else _unknown_or_plain(value)
            )
            for key, value in properties.items()
        }
    )
    return struct


def _is_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(SECRET_SIG_KEY) == SECRET_SIG or any(map(_is_secret, value.values()))
    if isinstance(value, list):
        return any(map(_is_secret, value))
    return False


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def from_struct(struct: struct_pb2.Struct) -> tuple[dict[str, Any], set[str]]:
    """Plain properties and the top-level keys holding a secret (a remediation's result)."""
    raw = json_format.MessageToDict(struct)
    return {k: _unwrap(v) for k, v in raw.items()}, {k for k, v in raw.items() if _is_secret(v)}


def _visible(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Without internal keys (``__*``): the engine strips them for Analyze and AnalyzeStack."""
    return {k: v for k, v in properties.items() if not k.startswith("__")}


def _from_plan(resource: PlannedResource) -> WireResource:
    dependencies = list(resource.depends_on)
    for urns in resource.property_dependencies.values():
        dependencies += [urn for urn in urns if urn not in dependencies]
    return WireResource(
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        custom=resource.custom,
        parent=resource.parent,
        inputs=dict(resource.inputs),
        outputs=dict(resource.outputs),
        secrets=set(resource.secret_inputs),
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        dependencies=dependencies,
        property_dependencies={k: list(v) for k, v in resource.property_dependencies.items()},
        provider_urn=resource.provider_urn,
    )


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(f"pulumi_{package.replace('-', '_')}")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _default_provider(plan: Plan, package: str, config: Mapping[str, str]) -> WireResource:
    version = _package_version(package)
    name = f"default_{version.replace('.', '_')}" if version else "default"
    inputs = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{package}:")}
    if version:
        inputs["version"] = version
    type_ = f"{PROVIDER_PREFIX}{package}"
    return WireResource(
        urn=f"urn:pulumi:{plan.stack}::{plan.project}::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        parent="",
        inputs=inputs,
        outputs=dict(inputs),
        secrets=set(),
    )


def stack_urn(plan: Plan) -> str:
    return f"urn:pulumi:{plan.stack}::{plan.project}::{STACK_TYPE}::{plan.project}-{plan.stack}"


def wire_resources(plan: Plan, config: Mapping[str, str]) -> list[WireResource]:
    """Every resource the engine would register for ``plan``, in registration order."""
    root = stack_urn(plan)
    resources = [
        WireResource(
            urn=root,
            type=STACK_TYPE,
            name=f"{plan.project}-{plan.stack}",
            custom=False,
            parent="",
            inputs={},
            outputs=dict(plan.outputs),
            secrets=set(),
        )
    ]
    defaults: dict[str, WireResource] = {}
    for planned in plan.resources:
        resource = _from_plan(planned)
        if (
            resource.custom
            and not resource.provider_urn
            and not resource.type.startswith(PROVIDER_PREFIX)
        ):
            package = resource.type.split(":", 1)[0]
            if package not in defaults:
                defaults[package] = _default_provider(plan, package, config)
                resources.append(defaults[package])
            resource.provider_urn = defaults[package].urn
        resources.append(resource)
    return resources


class Wire:
    """Builds the analyzer messages for a set of resources (providers looked up by URN)."""

    def __init__(self, resources: list[WireResource]) -> None:
        self.resources = resources
        self._by_urn = {r.urn: r for r in resources}

    def provider(self, resource: WireResource) -> proto.AnalyzerProviderResource | None:
        provider = self._by_urn.get(resource.provider_urn)
        if provider is None:
            return None
        return proto.AnalyzerProviderResource(
            type=provider.type,
            urn=provider.urn,
            name=provider.name,
            properties=to_struct(_visible(provider.inputs), provider.secrets),
        )

    def request(self, resource: WireResource, *, internal_keys: bool) -> proto.AnalyzeRequest:
        """The request of ``Remediate`` (``internal_keys``) or ``Analyze`` (without them)."""
        inputs = resource.inputs if internal_keys else _visible(resource.inputs)
        return proto.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=to_struct(inputs, resource.secrets),
            options=resource.analyzer_options(),
            provider=self.provider(resource),
        )

    def stack_request(self) -> proto.AnalyzeStackRequest:
        """``AnalyzeStack``: every resource with parent, dependencies, property dependencies."""
        return proto.AnalyzeStackRequest(
            resources=[
                proto.AnalyzerResource(
                    type=r.type,
                    urn=r.urn,
                    name=r.name,
                    properties=to_struct(_visible(r.stack_properties()), r.secrets),
                    options=r.analyzer_options(),
                    provider=self.provider(r),
                    parent=r.parent,
                    dependencies=r.dependencies,
                    # As the engine: properties without dependencies are left out.
                    propertyDependencies={
                        key: proto.AnalyzerPropertyDependencies(urns=urns)
                        for key, urns in r.property_dependencies.items()
                        if urns
                    },
                )
                for r in self.resources
            ]
        )
