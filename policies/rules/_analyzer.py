"""The pack's analyzer: pulumi_policy's own, with each resource decoded once per request.

pulumi_policy 1.21's ``Analyze`` turns the request's properties into dicts and read-only
proxies (``MessageToDict``, ``deserialize_properties``, ``unknown_checking_proxy``) and decodes
its provider once *per policy*, before the policy even looks at the resource type; its
``AnalyzeStack`` decodes every resource of the stack once per stack policy. With about 60
policies that was 6 ms per resource, 29 s of ``blueprint check prod`` at 200 feature teams
(docs/performance.md, "Feature teams at scale"). Here each is decoded once, on first use, and
the same read-only objects go to every policy: no policy of this pack writes to its inputs
(the proxies refuse nothing, so ``tests/test_check_analyzer.py`` pins that the responses are
the SDK's, message for message). A policy ``_base.resource_policy`` built is not called for
a type outside its ``types`` (``SCOPES``): it would return at once. Everything else (levels,
config, messages, not-applicable, unknown values during preview) is the SDK's own code path,
copied from it.

Installed only for the pulumi_policy version this was written against (``VERIFIED``); any
other version serves with the SDK's servicer unchanged, only slower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from inspect import isawaitable
from typing import Any, TypeVar

from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy
from pulumi_policy.version import VERSION

from ._base import SCOPES

DECODE_ONCE = "FEATURE_PLATFORM_PACK_DECODE_ONCE"
"""Set to ``1`` by ``blueprint check`` (blueprint/check/process.py): only the offline check
serves with this servicer; a real ``pulumi preview`` keeps the SDK's own."""

VERIFIED = ("1.21.0",)
"""pulumi_policy versions whose ``Analyze``/``AnalyzeStack`` this module mirrors."""

T = TypeVar("T")


def _once(make: Callable[[], T]) -> Callable[[], T]:
    """``make()`` on the first call, the same value afterwards (lazily: as the SDK, nothing is
    decoded for a request no enabled policy looks at)."""
    made: list[T] = []

    def get() -> T:
        if not made:
            made.append(make())
        return made[0]

    return get


def _run(result: Any) -> None:
    # As the SDK: an async validation runs to completion on a loop of its own.
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        task: asyncio.Task[Any] = asyncio.Task(result, loop=loop)  # type: ignore[arg-type]
        loop.run_until_complete(task)
        loop.close()


class SharedDecodingServicer(sdk._PolicyAnalyzerServicer):
    """``Analyze`` and ``AnalyzeStack`` as the SDK's, with one decoding per request."""

    _configured = False

    def _configure_runtime_settings(self) -> None:
        # The SDK re-reads the same environment on every request (an inspect.signature each
        # time); nothing in the pack changes it, so once is the same.
        if not self._configured:
            super()._configure_runtime_settings()  # type: ignore[no-untyped-call]
            self._configured = True

    def _sdk(self, field: str) -> Any:
        """The SDK servicer's private ``__field`` (name-mangled)."""
        return getattr(self, f"_PolicyAnalyzerServicer__{field}")

    def _pack(self) -> tuple[str, str]:
        return self._sdk("policy_pack_name"), self._sdk("policy_pack_version")

    def _policies(self) -> list[Any]:
        return list(self._sdk("policies"))

    def _stack_tags(self) -> Any:
        return self._sdk("stack_tags")

    def _cannot_run(self, policy: Any, error: UnknownValueError) -> Any:
        name, version = self._pack()
        return proto.AnalyzeDiagnostic(
            policyName=policy.name,
            policyPackName=name,
            policyPackVersion=version,
            message=(
                f"can't run policy '{policy.name}' from policy pack "
                f"'{name}@v{version}' during preview: {error.message}"
            ),
            urn="",
            description=policy.description,
            enforcementLevel=self._map_enforcement_level(sdk.EnforcementLevel.ADVISORY),
        )

    def _validate(self, response: Any, policy: Any, args: Any, report: Any) -> None:
        try:
            _run(policy.validate(args, report))
        except UnknownValueError as error:
            response.diagnostics.append(self._cannot_run(policy, error))
        except sdk._NotApplicableError as error:
            response.not_applicable.append(
                proto.PolicyNotApplicable(policy_name=policy.name, reason=error.reason or "")
            )

    def Analyze(self, request: Any, _context: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        props = _once(
            lambda: unknown_checking_proxy(
                deserialize_properties(json_format.MessageToDict(request.properties))
            )
        )
        opts = _once(lambda: self._get_resource_options(request))
        provider = _once(lambda: self._get_provider_resource(request))
        for policy in self._policies():
            level = self._get_enforcement_level(policy)
            if level == sdk.EnforcementLevel.DISABLED or not isinstance(
                policy, sdk.ResourceValidationPolicy
            ):
                continue
            if not policy.has_validation():
                response.not_applicable.append(
                    proto.PolicyNotApplicable(
                        policy_name=policy.name, reason="Policy does not implement validate"
                    )
                )
                continue
            scope = SCOPES.get(policy.name)
            if scope is not None and request.type not in scope:
                continue  # its validation would return at once (_base.resource_policy)
            if level == sdk.EnforcementLevel.REMEDIATE:
                # As the SDK: a violation left after remediation is reported as mandatory.
                level = sdk.EnforcementLevel.MANDATORY
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            args = sdk.ResourceValidationArgs(
                request.type,
                props(),
                request.urn,
                request.name,
                opts(),
                provider(),
                self._get_policy_config(policy.name),
                self._stack_tags(),
            )
            self._validate(response, policy, args, report)
        return response

    def _stack(self, request: Any) -> list[Any]:
        """The SDK's resources of ``AnalyzeStack``, parents and dependencies linked."""
        resources: list[Any] = []
        by_urn: dict[str, Any] = {}
        links = []
        for r in request.resources:
            props = unknown_checking_proxy(
                deserialize_properties(json_format.MessageToDict(r.properties))
            )
            resource = sdk.PolicyResource(
                r.type,
                props,
                r.urn,
                r.name,
                self._get_resource_options(r),
                self._get_provider_resource(r),
                None,
                [],
                {},
            )
            property_dependencies = {k: list(v.urns) for k, v in r.propertyDependencies.items()}
            links.append((resource, r.parent, list(r.dependencies), property_dependencies))
            resources.append(resource)
            by_urn[resource.urn] = resource
        for resource, parent, dependencies, property_dependencies in links:
            if parent is not None and parent in by_urn:
                resource.parent = by_urn[parent]
            resource.dependencies.extend(by_urn[d] for d in dependencies if d in by_urn)
            for key, urns in property_dependencies.items():
                resource.property_dependencies[key] = [by_urn[d] for d in urns if d in by_urn]
        return resources

    def AnalyzeStack(self, request: Any, _context: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        resources = _once(lambda: self._stack(request))
        for policy in self._policies():
            level = self._get_enforcement_level(policy)
            if level == sdk.EnforcementLevel.DISABLED or not isinstance(
                policy, sdk.StackValidationPolicy
            ):
                continue
            if level == sdk.EnforcementLevel.REMEDIATE:
                level = sdk.EnforcementLevel.MANDATORY  # as the SDK: stack policies cannot fix
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            # A list of its own per policy, as the SDK's; the resources in it are shared.
            args = sdk.StackValidationArgs(
                list(resources()), self._get_policy_config(policy.name), self._stack_tags()
            )
            self._validate(response, policy, args, report)
        return response


def install() -> bool:
    """Serve packs built after this call with :class:`SharedDecodingServicer`, if the installed
    pulumi_policy is one it mirrors; ``False`` (and the SDK's servicer) otherwise."""
    if VERSION not in VERIFIED:
        return False
    sdk._PolicyAnalyzerServicer = SharedDecodingServicer  # type: ignore[misc]  # PolicyPack's
    return True
