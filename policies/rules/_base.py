"""How a policy is declared: metadata in one place, one small function that decides.

Each policy is one unit, as in checkov: a name, a description, a severity, the compliance
references it implements (CIS AWS Foundations Benchmark, AWS Foundational Security Best
Practices), remediation steps, the resource types it applies to and one ``check`` function
that yields a message per problem. ``resource_policy`` and ``stack_policy`` build the
``pulumi_policy`` objects and register them with their metadata (``CATALOGUE``), from which
``docs/governance.md`` is generated.

Properties arrive as the engine sends them: the resource's inputs, camelCase, nested objects
as dicts, JSON policy documents as strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import Policy

CIS = "CIS AWS Foundations Benchmark"
CIS_VERSION = "3.0.0"
FSBP = "AWS Foundational Security Best Practices"
FSBP_VERSION = "1.0.0"
PLATFORM = "Feature platform"
"""Rules of this platform that no public framework states (named ``PLATFORM.<id>``)."""


@dataclass(frozen=True)
class Ref:
    """One control of a compliance framework, e.g. ``Ref(FSBP, "S3.17")``."""

    framework: str
    control: str

    def __str__(self) -> str:
        return f"{self.framework} {self.control}"


def cis(control: str) -> Ref:
    return Ref(CIS, control)


def fsbp(control: str) -> Ref:
    return Ref(FSBP, control)


def platform(control: str) -> Ref:
    return Ref(PLATFORM, control)


Props = Mapping[str, Any]
Config = Mapping[str, Any]
ResourceCheck = Callable[[Props, Config], Iterable[str]]
"""Yields one message per problem found in a resource's properties (nothing: it passes)."""
StackCheck = Callable[[Sequence[PolicyResource], Config], Iterable[tuple[str, str | None]]]
"""Yields ``(message, urn)`` per problem; ``urn`` names the resource at fault."""
Remediation = Callable[[Props, Config], Mapping[str, Any] | None]


@dataclass(frozen=True)
class PolicyInfo:
    """What the docs and reports say about a policy."""

    name: str
    description: str
    severity: Severity
    refs: tuple[Ref, ...]
    remediation: str
    kind: str  # "resource" or "stack"
    resource_types: tuple[str, ...] = ()
    config_schema: Mapping[str, Any] = field(default_factory=dict)
    remediates: bool = False


POLICIES: list[Policy] = []
CATALOGUE: dict[str, PolicyInfo] = {}
SCOPES: dict[str, frozenset[str]] = {}
"""Policy name → the only resource types its validation looks at (``resource_policy``): for
any other type it returns at once, so the analyzer (``_analyzer.py``) need not call it."""


def _framework(refs: tuple[Ref, ...]) -> PolicyComplianceFramework:
    primary = refs[0]
    version = {CIS: CIS_VERSION, FSBP: FSBP_VERSION}.get(primary.framework)
    return PolicyComplianceFramework(
        name=primary.framework, version=version, reference=primary.control
    )


def _schema(properties: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    if not properties:
        return None
    return PolicyConfigSchema({key: dict(value) for key, value in properties.items()})


def register(policy: Policy, info: PolicyInfo) -> None:
    """Add a policy built by hand (when a check needs more than the properties)."""
    if info.name in CATALOGUE:
        raise ValueError(f"duplicate policy name {info.name}")
    if not info.refs:
        raise ValueError(f"{info.name}: name at least one compliance reference")
    POLICIES.append(policy)
    CATALOGUE[info.name] = info


ProviderCheck = Callable[[str, Props, Props | None, Config], Iterable[str]]
"""``(resource_type, props, provider_props, config)``: one message per problem."""
ProviderRemediation = Callable[[str, Props, Props | None, Config], Mapping[str, Any] | None]
Validate = Callable[[ResourceValidationArgs, ReportViolation], None]
Fix = Callable[[ResourceValidationArgs], Mapping[str, Any] | None]


def _resource_policy(
    name: str,
    *,
    description: str,
    severity: Severity,
    refs: Sequence[Ref],
    remediation: str,
    types: Sequence[str],
    validate: Validate,
    fix: Fix | None,
    config_schema: Mapping[str, Mapping[str, Any]] | None,
) -> ResourceValidationPolicy:
    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        # pulumi_policy takes a plain mapping as well as an awaitable (its stubs say awaitable).
        remediate=cast(Any, fix),
        config_schema=_schema(config_schema),
        severity=severity,
        framework=_framework(tuple(refs)),
        tags=[str(ref) for ref in refs],
        remediation_steps=remediation,
    )
    register(
        policy,
        PolicyInfo(
            name=name,
            description=description,
            severity=severity,
            refs=tuple(refs),
            remediation=remediation,
            kind="resource",
            resource_types=tuple(types),
            config_schema=dict(config_schema or {}),
            remediates=fix is not None,
        ),
    )
    return policy


def resource_policy(
    name: str,
    *,
    description: str,
    severity: Severity,
    refs: Sequence[Ref],
    remediation: str,
    types: Sequence[str],
    check: ResourceCheck,
    config_schema: Mapping[str, Mapping[str, Any]] | None = None,
    remediate: Remediation | None = None,
) -> ResourceValidationPolicy:
    """A policy on single resources of ``types``; ``check`` decides, ``remediate`` fixes."""
    type_set = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in type_set:
            return  # keep this first: SCOPES tells the analyzer it is all that happens
        for message in check(args.props, args.get_config()):
            report_violation(message, None)

    def fix(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
        if args.resource_type not in type_set or remediate is None:
            return None
        return remediate(args.props, args.get_config())

    policy = _resource_policy(
        name,
        description=description,
        severity=severity,
        refs=refs,
        remediation=remediation,
        types=types,
        validate=validate,
        fix=fix if remediate is not None else None,
        config_schema=config_schema,
    )
    SCOPES[name] = type_set
    return policy


def _provider_props(args: ResourceValidationArgs) -> Props | None:
    return args.provider.props if args.provider is not None else None


def provider_aware_policy(
    name: str,
    *,
    description: str,
    severity: Severity,
    refs: Sequence[Ref],
    remediation: str,
    types: Sequence[str],
    check: ProviderCheck,
    config_schema: Mapping[str, Mapping[str, Any]] | None = None,
    remediate: ProviderRemediation | None = None,
) -> ResourceValidationPolicy:
    """Like ``resource_policy``, for checks that also need the resource's type or its
    provider's properties (default tags). ``types`` is what the docs list; the check decides
    what is in scope."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config = args.get_config()
        for message in check(args.resource_type, args.props, _provider_props(args), config):
            report_violation(message, None)

    def fix(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
        if remediate is None:
            return None
        return remediate(args.resource_type, args.props, _provider_props(args), args.get_config())

    return _resource_policy(
        name,
        description=description,
        severity=severity,
        refs=refs,
        remediation=remediation,
        types=types,
        validate=validate,
        fix=fix if remediate is not None else None,
        config_schema=config_schema,
    )


def stack_policy(
    name: str,
    *,
    description: str,
    severity: Severity,
    refs: Sequence[Ref],
    remediation: str,
    check: StackCheck,
    config_schema: Mapping[str, Mapping[str, Any]] | None = None,
) -> StackValidationPolicy:
    """A policy over the whole stack (parents, dependencies, property dependencies)."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for message, urn in check(args.resources, args.get_config()):
            report_violation(message, urn)

    policy = StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=_schema(config_schema),
        severity=severity,
        framework=_framework(tuple(refs)),
        tags=[str(ref) for ref in refs],
        remediation_steps=remediation,
    )
    register(
        policy,
        PolicyInfo(
            name=name,
            description=description,
            severity=severity,
            refs=tuple(refs),
            remediation=remediation,
            kind="stack",
            config_schema=dict(config_schema or {}),
        ),
    )
    return policy


# --- helpers for checks ------------------------------------------------------------------


def _is_list(value: Any) -> bool:
    # The engine hands policies read-only proxies: a list arrives as a Sequence, not a list.
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def plain(value: Any) -> Any:
    """The engine's read-only proxies as plain dicts and lists (e.g. a policy document given
    as an object rather than JSON text)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if _is_list(value):
        return [plain(item) for item in value]
    return value


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_set(value: Any) -> bool:
    """A value the engine sent and that is not empty (a secret arrives unwrapped or wrapped)."""
    inner = getattr(value, "value", value)  # pulumi_policy.Secret keeps the plaintext in .value
    if isinstance(inner, Mapping) and "value" in inner:
        inner = inner["value"]
    if isinstance(inner, str):
        return inner.strip() != ""
    if isinstance(inner, (Mapping, Sequence)):
        return len(inner) > 0
    return inner is not None


def is_true(value: Any) -> bool:
    # Some inputs are typed as strings by the provider (launch template ``ebs.encrypted``).
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def get(props: Props, path: str, default: Any = None) -> Any:
    """``get(props, "encryptionInfo.encryptionInTransit.clientBroker")``; lists of one block
    (how some providers shape nested blocks) are looked through."""
    node: Any = props
    for key in path.split("."):
        if _is_list(node) and len(node) == 1:
            node = node[0]
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if _is_list(value) else [value]


def document(value: Any) -> dict[str, Any]:
    """A policy document given as JSON text or as a dict; ``{}`` when absent or unreadable."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def statements(value: Any) -> list[dict[str, Any]]:
    return [dict(s) for s in as_list(document(value).get("Statement")) if isinstance(s, Mapping)]


def tags_of(props: Props, provider_props: Props | None = None) -> dict[str, str]:
    """The resource's own tags merged over its provider's default tags."""
    merged: dict[str, str] = {}
    # Provider configuration reaches policies JSON-encoded (as the SDK sends it) or as an object.
    raw = (provider_props or {}).get("defaultTags")
    default_tags = (document(raw) if isinstance(raw, str) else dict(raw or {})).get("tags") or {}
    merged.update({str(k): str(v) for k, v in dict(default_tags).items()})
    merged.update({str(k): str(v) for k, v in dict(props.get("tags") or {}).items()})
    return merged


__all__ = [
    "CATALOGUE",
    "POLICIES",
    "Config",
    "EnforcementLevel",
    "PolicyInfo",
    "PolicyResource",
    "Props",
    "Ref",
    "Severity",
    "as_list",
    "as_map",
    "cis",
    "document",
    "fsbp",
    "get",
    "is_false",
    "is_set",
    "is_true",
    "plain",
    "platform",
    "provider_aware_policy",
    "register",
    "resource_policy",
    "stack_policy",
    "statements",
    "tags_of",
]
