"""The pack's analyzer (policies/rules/_analyzer.py) answers exactly as pulumi_policy's own.

It decodes each resource once per request instead of once per policy and skips policies
whose types do not match; every response must still be the SDK's, message for message: on
every fixture of every policy (violations included), with levels mixed (disabled, advisory,
remediate) and with unknown values, as in a preview.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel
from pulumi_policy import policy as sdk

from blueprint.check.wire import UNKNOWN, to_struct
from policies.rules import CATALOGUE, POLICIES
from policies.rules._analyzer import VERIFIED, SharedDecodingServicer, install
from tests.policies.harness import (
    BY_NAME,
    FIXTURES,
    FixtureResource,
    effective_config,
    load_fixture,
)

SDK_SERVICER = SharedDecodingServicer.__bases__[0]
NAMES = sorted(CATALOGUE)
LEVELS = {
    # A few policies at other levels, so every branch of the loop is compared.
    NAMES[0]: proto.DISABLED,
    NAMES[1]: proto.ADVISORY,
    NAMES[2]: proto.REMEDIATE,
}


def _servicers() -> list[Any]:
    servicers = [
        cls("feature-platform", "0.0.1", list(POLICIES), EnforcementLevel.MANDATORY)
        for cls in (SDK_SERVICER, SharedDecodingServicer)
    ]
    configs = {}
    for name in NAMES:
        fixture = FIXTURES / f"{name}.yaml"
        given = load_fixture(name).config if fixture.is_file() else {}
        properties = struct_pb2.Struct()
        properties.update(effective_config(BY_NAME[name], given))
        configs[name] = proto.PolicyConfig(
            enforcementLevel=LEVELS.get(name, proto.MANDATORY), properties=properties
        )
    for servicer in servicers:
        servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig=configs), None)
        servicer.ConfigureStack(proto.AnalyzerStackConfigureRequest(tags={"team": "x"}), None)
    return servicers


def _options(resource: FixtureResource) -> proto.AnalyzerResourceOptions:
    return proto.AnalyzerResourceOptions(
        protect=resource.protect,
        parent=resource.parent or "",
        customTimeouts=proto.AnalyzerResourceOptions.CustomTimeouts(),
    )


def _provider(resource: FixtureResource) -> proto.AnalyzerProviderResource | None:
    if resource.provider is None:
        return None
    return proto.AnalyzerProviderResource(
        type="pulumi:providers:aws",
        urn="urn:pulumi:test::feature-platform::pulumi:providers:aws::aws",
        name="aws",
        properties=to_struct(resource.provider),
    )


def _fixtures() -> list[FixtureResource]:
    return [r for name in NAMES for r in load_fixture(name).resources]


def _same(requests: list[Any], method: str) -> list[str]:
    """Both servicers' answers to ``requests``, compared; the messages they reported."""
    sdk_servicer, ours = _servicers()
    messages = []
    for request in requests:
        expected = json_format.MessageToDict(getattr(sdk_servicer, method)(request, None))
        assert json_format.MessageToDict(getattr(ours, method)(request, None)) == expected
        messages += [d["message"] for d in expected.get("diagnostics", [])]
    return messages


def test_analyze_answers_as_the_sdk_on_every_fixture() -> None:
    requests = [
        proto.AnalyzeRequest(
            type=r.type,
            urn=r.urn,
            name=r.name,
            properties=to_struct(r.props),
            options=_options(r),
            provider=_provider(r),
        )
        for r in _fixtures()
    ]
    assert len(requests) > 300
    assert len(_same(requests, "Analyze")) > 100  # the fail fixtures' violations


def test_analyze_reports_unknown_values_as_the_sdk() -> None:
    """During preview a policy reading an unknown value cannot run: the same diagnostics."""
    requests = []
    for resource in _fixtures():
        props = {key: UNKNOWN for key in resource.props}
        requests.append(
            proto.AnalyzeRequest(
                type=resource.type,
                urn=resource.urn,
                name=resource.name,
                properties=to_struct(props),
                options=_options(resource),
            )
        )
    assert any("during preview" in m for m in _same(requests, "Analyze"))


def test_analyze_stack_answers_as_the_sdk_on_every_stack_fixture() -> None:
    requests = []
    for name in NAMES:
        if CATALOGUE[name].kind != "stack":
            continue
        resources = load_fixture(name).resources
        urn = {r.name: r.urn for r in resources}
        requests.append(
            proto.AnalyzeStackRequest(
                resources=[
                    proto.AnalyzerResource(
                        type=r.type,
                        urn=r.urn,
                        name=r.name,
                        properties=to_struct(r.props),
                        options=_options(r),
                        provider=_provider(r),
                        parent=urn.get(r.parent or "", ""),
                        dependencies=[urn[d] for d in r.dependencies],
                        propertyDependencies={
                            key: proto.AnalyzerPropertyDependencies(urns=[urn[d] for d in names])
                            for key, names in r.property_dependencies.items()
                        },
                    )
                    for r in resources
                ]
            )
        )
    assert len(requests) >= 5
    assert len(_same(requests, "AnalyzeStack")) >= len(requests)


def test_install_only_over_the_verified_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk, "_PolicyAnalyzerServicer", SDK_SERVICER)
    monkeypatch.setattr("policies.rules._analyzer.VERSION", "9.9.9")
    assert not install()
    assert sdk._PolicyAnalyzerServicer is SDK_SERVICER
    monkeypatch.setattr("policies.rules._analyzer.VERSION", VERIFIED[0])
    assert install()
    assert sdk._PolicyAnalyzerServicer is SharedDecodingServicer
