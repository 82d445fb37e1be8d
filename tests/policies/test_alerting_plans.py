"""The alerting policies on the stacks' real plans: the observability component passes, and
taking away what each policy relies on (a composite alarm, a topic policy, a health alarm, an
alert rule) makes exactly the resources that lost it fail."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
import yaml

from policies.rules.alerting import (
    COMPOSITE_ALARM,
    METRIC_ALARM,
    MSK_CLUSTER,
    REPLICATION_GROUP,
    RULE_GROUP_NAMESPACE,
    TOPIC,
    TOPIC_POLICY,
)
from tests.conftest import STACKS
from tests.policies.harness import Fixture, FixtureResource, plan_resources, violating_names

ALERTING = (
    "alarms-have-actions",
    "sns-topic-policy-tls-only",
    "sns-topic-kms",
    "stateful-services-health-alarms",
    "slo-burn-rate-alarms",
    "slo-burn-rate-rules",
)


@functools.cache
def _plan(stack: str) -> tuple[FixtureResource, ...]:
    return tuple(plan_resources(stack))


def _fixture(resources: list[FixtureResource]) -> Fixture:
    return Fixture(config={}, resources=resources)


def _names(resources: list[FixtureResource], type_: str) -> set[str]:
    return {r.name for r in resources if r.type == type_}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_has_what_the_alerting_policies_judge(stack: str) -> None:
    resources = list(_plan(stack))
    for type_ in (
        METRIC_ALARM,
        COMPOSITE_ALARM,
        TOPIC,
        TOPIC_POLICY,
        MSK_CLUSTER,
        REPLICATION_GROUP,
        RULE_GROUP_NAMESPACE,
    ):
        assert _names(resources, type_), f"{stack} plans no {type_}: the policies judge nothing"
    for name in ALERTING:
        assert violating_names(name, _fixture(resources)) == set(), (stack, name)


def test_without_composites_every_window_alarm_is_silent_and_its_slo_unalerted() -> None:
    resources = [r for r in _plan("prod") if r.type != COMPOSITE_ALARM]
    windows = {
        r.name
        for r in resources
        if r.type == METRIC_ALARM and r.props["tags"].get("severity") == "window"
    }
    assert windows
    assert violating_names("alarms-have-actions", _fixture(resources)) == windows
    assert violating_names("slo-burn-rate-alarms", _fixture(resources)) == windows


def test_a_topic_without_its_policy_fails() -> None:
    resources = [r for r in _plan("prod") if r.type != TOPIC_POLICY]
    assert violating_names("sns-topic-policy-tls-only", _fixture(resources)) == _names(
        resources, TOPIC
    )


@pytest.mark.parametrize(
    ("alarm", "owner"),
    [
        ("health-kafka-active-controller", MSK_CLUSTER),
        ("health-kafka-disk-used", MSK_CLUSTER),
        ("health-cache-evictions", REPLICATION_GROUP),
        ("health-cache-replication-lag", REPLICATION_GROUP),
    ],
)
def test_a_missing_health_alarm_fails_its_service(alarm: str, owner: str) -> None:
    resources = [r for r in _plan("prod") if not r.name.endswith(f"-{alarm}")]
    assert len(resources) == len(_plan("prod")) - 1
    assert violating_names("stateful-services-health-alarms", _fixture(resources)) == _names(
        resources, owner
    )


def test_a_rule_file_without_alert_rules_fails() -> None:
    def without_alerts(resource: FixtureResource) -> FixtureResource:
        if resource.type != RULE_GROUP_NAMESPACE:
            return resource
        document = yaml.safe_load(resource.props["data"])
        for group in document["groups"]:
            group["rules"] = [rule for rule in group["rules"] if "alert" not in rule]
        return replace(resource, props={**resource.props, "data": yaml.safe_dump(document)})

    resources = [without_alerts(r) for r in _plan("prod")]
    assert violating_names("slo-burn-rate-rules", _fixture(resources)) == _names(
        resources, RULE_GROUP_NAMESPACE
    )
