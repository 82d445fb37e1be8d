"""Run the pack's policies in-process on fixtures (checkov's model: pass and fail resources).

Properties are wrapped in the same read-only proxies the analyzer uses (lists arrive as
Sequences, not lists), so a check that only works on plain lists fails here too.

A fixture file ``tests/policies/fixtures/<policy-name>.yaml`` holds optional policy ``config``
and a list of ``resources``; every resource named ``fail-…`` must be reported and no other.
For stack policies the resources form one stack: ``parent``, ``dependencies`` and
``propertyDependencies`` name other fixture resources, ``protect`` sets the resource option.

The same schema defaults the Pulumi CLI applies are merged under the fixture's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import Policy, PolicyCustomTimeouts
from pulumi_policy.proxy import unknown_checking_proxy

from policies.rules import POLICIES

FIXTURES = Path(__file__).parent / "fixtures"
BY_NAME: dict[str, Policy] = {p.name: p for p in POLICIES}


@dataclass
class FixtureResource:
    name: str
    type: str
    props: dict[str, Any]
    provider: dict[str, Any] | None = None
    protect: bool = False
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def urn(self) -> str:
        return f"urn:pulumi:test::feature-platform::{self.type}::{self.name}"


@dataclass
class Fixture:
    config: dict[str, Any]
    resources: list[FixtureResource]


def load_fixture(policy_name: str) -> Fixture:
    path = FIXTURES / f"{policy_name}.yaml"
    data = yaml.safe_load(path.read_text())
    resources = [
        FixtureResource(
            name=r["name"],
            type=r["type"],
            props=r.get("props") or {},
            provider=r.get("provider"),
            protect=bool(r.get("protect", False)),
            parent=r.get("parent"),
            dependencies=list(r.get("dependencies") or []),
            property_dependencies=dict(r.get("propertyDependencies") or {}),
        )
        for r in data["resources"]
    ]
    return Fixture(config=dict(data.get("config") or {}), resources=resources)


def effective_config(policy: Policy, config: Mapping[str, Any]) -> dict[str, Any]:
    """Schema defaults, then the given values (what the CLI hands a policy)."""
    merged: dict[str, Any] = {}
    if policy.config_schema is not None:
        for key, schema in policy.config_schema.properties.items():
            if "default" in schema:
                merged[key] = schema["default"]
    merged.update(config)
    return merged


def _options(resource: FixtureResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=None,
    )


def _provider(resource: FixtureResource) -> PolicyProviderResource | None:
    if resource.provider is None:
        return None
    return PolicyProviderResource(
        "pulumi:providers:aws",
        resource.provider,
        "urn:pulumi:test::feature-platform::pulumi:providers:aws::aws",
        "aws",
    )


def run_resource_policy(
    policy: ResourceValidationPolicy, resource: FixtureResource, config: Mapping[str, Any]
) -> list[str]:
    messages: list[str] = []
    args = ResourceValidationArgs(
        resource.type,
        unknown_checking_proxy(resource.props),
        resource.urn,
        resource.name,
        _options(resource),
        _provider(resource),
        effective_config(policy, config),
    )

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    policy.validate(args, report)
    return messages


def remediate(
    policy: ResourceValidationPolicy, resource: FixtureResource, config: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    args = ResourceValidationArgs(
        resource.type,
        unknown_checking_proxy(resource.props),
        resource.urn,
        resource.name,
        _options(resource),
        _provider(resource),
        effective_config(policy, config),
    )
    result = policy.remediate(args)
    return result  # type: ignore[return-value]


def stack_resources(fixture: Fixture) -> list[PolicyResource]:
    built: dict[str, PolicyResource] = {}
    for resource in fixture.resources:
        built[resource.name] = PolicyResource(
            resource.type,
            unknown_checking_proxy(resource.props),
            resource.urn,
            resource.name,
            _options(resource),
            _provider(resource),
            None,
            [],
            {},
        )
    for resource in fixture.resources:
        policy_resource = built[resource.name]
        policy_resource.parent = built[resource.parent] if resource.parent else None
        policy_resource.dependencies = [built[d] for d in resource.dependencies]
        policy_resource.property_dependencies = {
            key: [built[d] for d in names] for key, names in resource.property_dependencies.items()
        }
    return list(built.values())


def run_stack_policy(
    policy: StackValidationPolicy, fixture: Fixture, config: Mapping[str, Any]
) -> list[tuple[str, str | None]]:
    reported: list[tuple[str, str | None]] = []
    args = StackValidationArgs(stack_resources(fixture), effective_config(policy, config))

    def report(message: str, urn: str | None = None) -> None:
        reported.append((message, urn))

    policy.validate(args, report)
    return reported


def violating_names(policy_name: str, fixture: Fixture | None = None) -> set[str]:
    """Names of the fixture resources the policy reports (stack policies: by URN)."""
    policy = BY_NAME[policy_name]
    fixture = fixture or load_fixture(policy_name)
    if isinstance(policy, StackValidationPolicy):
        by_urn = {r.urn: r.name for r in fixture.resources}
        reported = run_stack_policy(policy, fixture, fixture.config)
        missing = [message for message, urn in reported if urn not in by_urn]
        if missing:
            raise AssertionError(f"{policy_name} reported without a fixture URN: {missing}")
        return {by_urn[urn] for _, urn in reported if urn is not None}
    assert isinstance(policy, ResourceValidationPolicy)
    return {r.name for r in fixture.resources if run_resource_policy(policy, r, fixture.config)}


def plan_resources(stack: str) -> list[FixtureResource]:
    """A checked-in stack's captured plan as policy inputs (custom resources, providers too)."""
    from tests.conftest import stack_plan  # noqa: PLC0415 (the plan capture is heavy)

    plan = stack_plan(stack)
    by_urn = {r.urn: r for r in plan.resources}
    resources = []
    for r in plan.resources:
        if not r.custom:
            continue
        provider = by_urn.get(r.provider_urn)
        resources.append(
            FixtureResource(
                name=r.urn,  # unique; reports name the URN
                type=r.type,
                props=r.inputs,
                provider=dict(provider.inputs) if provider else None,
                protect=r.protect,
                parent=None,
                dependencies=[d for d in r.depends_on if d in by_urn and by_urn[d].custom],
                property_dependencies={
                    k: [d for d in v if d in by_urn and by_urn[d].custom]
                    for k, v in r.property_dependencies.items()
                },
            )
        )
    return resources


def plan_violations(
    policy_name: str, stack: str, config: Mapping[str, Any] | None = None
) -> set[str]:
    """URNs of a checked-in stack's resources that a policy reports (with ``config``)."""
    fixture = Fixture(config=dict(config or {}), resources=plan_resources(stack))
    return violating_names(policy_name, fixture)
