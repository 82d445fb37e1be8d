"""Every alert links a runbook page that exists and has the three sections an on-call needs.

The links are read where the on-call sees them: the planned CloudWatch alarm descriptions
(metric and composite alarms), the EventBridge rule descriptions, and the ``runbook_url``
annotation of every Prometheus alert the workspace gets (the SLO rules and the cluster's
health rules).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from blueprint.capture import Plan
from components.observability.health import HealthContext, health_alarm_specs
from components.observability.kube_rules import kube_health_group
from components.observability.specs import RUNBOOK_DIR
from components.slos.prometheus import rules_yaml
from tests.conftest import STACKS, planned_resource, stack_config, stack_plan, synthetic_plan

SECTIONS = ("## What it means", "## First three checks", "## Mitigate")
"""The headings of every alert's page, in this order."""
LINK = re.compile(r"docs/runbooks/([a-z0-9][a-z0-9-]*\.md)\b")
ALERT_PAGE = re.compile(r"^(slo|health)-.+\.md$")

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
DESCRIPTION_LIMITS = {METRIC_ALARM: 1024, COMPOSITE_ALARM: 1024, EVENT_RULE: 512}
"""CloudWatch's AlarmDescription and EventBridge's rule Description maxima: the link ends the
description, so a longer one would be refused rather than lose it."""


def alarm_links(plan: Plan) -> dict[str, str]:
    """``{alarm or rule: its description}`` for every alerting resource of a plan."""
    found = {}
    for type_, key in (
        (METRIC_ALARM, "alarmDescription"),
        (COMPOSITE_ALARM, "alarmDescription"),
        (EVENT_RULE, "description"),
    ):
        for resource in plan.of_type(type_):
            found[resource.urn] = str(resource.inputs.get(key) or "")
    return found


def prometheus_links(stack: str) -> dict[str, str]:
    """``{group/alert: its runbook_url}`` for every alert rule the workspace gets."""
    config = stack_config(stack)
    document = yaml.safe_load(rules_yaml(config.slos, (kube_health_group(config.alerting.health),)))
    return {
        f"{group['name']}/{rule['alert']}": str(rule.get("annotations", {}).get("runbook_url", ""))
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def page_problems(page: Path) -> list[str]:
    """What is missing from a runbook page: a section, its order, three numbered checks."""
    if not page.is_file():
        return [f"{page.name}: no such page under docs/runbooks/"]
    text = page.read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    missing = [s for s in SECTIONS if s not in headings]
    if missing:
        return [f"{page.name}: missing section(s) {missing}"]
    if [h for h in headings if h in SECTIONS] != list(SECTIONS):
        return [f"{page.name}: sections out of order, expected {list(SECTIONS)}"]
    checks = text.split(SECTIONS[1], 1)[1].split(SECTIONS[2], 1)[0]
    numbered = re.findall(r"^([123])\. ", checks, flags=re.MULTILINE)
    if numbered != ["1", "2", "3"]:
        return [f"{page.name}: 'First three checks' must number 1., 2., 3., found {numbered}"]
    return []


def runbook_problems(links: dict[str, str], runbook_dir: Path = RUNBOOK_DIR) -> list[str]:
    """Every alert without a link, with a link to a missing page, or to an incomplete one."""
    problems = []
    for alert, text in sorted(links.items()):
        pages = LINK.findall(text)
        if len(pages) != 1:
            problems.append(f"{alert}: expected one docs/runbooks/<page>.md link, got {pages}")
            continue
        problems += [f"{alert}: {p}" for p in page_problems(runbook_dir / pages[0])]
    return problems


def linked_pages(links: Iterable[str]) -> set[str]:
    return {page for text in links for page in LINK.findall(text)}


@pytest.mark.parametrize("stack", STACKS)
def test_every_cloudwatch_alarm_and_event_rule_links_a_complete_runbook(stack: str) -> None:
    links = alarm_links(stack_plan(stack))
    assert links, "the plan has no alarms: nothing was judged"
    assert runbook_problems(links) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_prometheus_alert_links_a_complete_runbook(stack: str) -> None:
    links = prometheus_links(stack)
    assert {"platform-health-kubernetes/KubeNodeNotReady"} <= set(links)
    assert runbook_problems(links) == []


@pytest.mark.parametrize("stack", STACKS)
def test_descriptions_fit_the_service_limits(stack: str) -> None:
    plan = stack_plan(stack)
    too_long = {
        r.name: len(text)
        for type_, limit in DESCRIPTION_LIMITS.items()
        for r in plan.of_type(type_)
        if len(text := str(r.inputs.get("alarmDescription") or r.inputs.get("description"))) > limit
    }
    assert too_long == {}


def test_every_alert_page_is_linked_by_some_alert() -> None:
    """No stale page: each slo-*/health-* page is what some alarm of some stack links."""
    linked: set[str] = set()
    for stack in STACKS:
        linked |= linked_pages(alarm_links(stack_plan(stack)).values())
        linked |= linked_pages(prometheus_links(stack).values())
    pages = {p.name for p in RUNBOOK_DIR.glob("*.md") if ALERT_PAGE.match(p.name)}
    assert pages - linked == set()
    assert linked - pages == set()


# The check itself must be able to fail: an alarm without a page, a description without a
# link, and a page without its sections are each reported, naming the alarm.


def test_an_alarm_without_a_page_is_reported() -> None:
    (spec,) = [
        s
        for s in health_alarm_specs(
            stack_config("dev").alerting.health,
            HealthContext(
                kafka_cluster_name="feature-platform-dev",
                broker_count=2,
                cache_nodes=("feature-platform-dev-online-001",),
                cache_replicas=False,
                nat_gateway_ids=("nat-0",),
                rotation_function_name="rotation",
                environment="dev",
            ),
        )
        if s.name == "health-kafka-disk-used"
    ]
    renamed = spec.description.replace("health-kafka-disk-used.md", "health-no-such-alarm.md")
    plan = synthetic_plan(
        planned_resource("ok", METRIC_ALARM, inputs={"alarmDescription": spec.description}),
        planned_resource("orphan", METRIC_ALARM, inputs={"alarmDescription": renamed}),
        planned_resource("silent", COMPOSITE_ALARM, inputs={"alarmDescription": "Burning."}),
        planned_resource("rule", EVENT_RULE, inputs={}),
    )
    urn = {r.name: r.urn for r in plan.resources}
    assert runbook_problems(alarm_links(plan)) == sorted(
        [
            f"{urn['orphan']}: health-no-such-alarm.md: no such page under docs/runbooks/",
            f"{urn['silent']}: expected one docs/runbooks/<page>.md link, got []",
            f"{urn['rule']}: expected one docs/runbooks/<page>.md link, got []",
        ]
    )


def test_a_prometheus_alert_without_a_page_is_reported() -> None:
    links = {"g/Missing": "docs/runbooks/health-not-written.md", "g/Unlinked": ""}
    assert runbook_problems(links) == [
        "g/Missing: health-not-written.md: no such page under docs/runbooks/",
        "g/Unlinked: expected one docs/runbooks/<page>.md link, got []",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# t\n## What it means\n## Mitigate\n", "missing section(s) ['## First three checks']"),
        (
            "# t\n## First three checks\n1. a\n2. b\n3. c\n## What it means\n## Mitigate\n",
            "sections out of order",
        ),
        (
            "# t\n## What it means\n## First three checks\n1. a\n2. b\n## Mitigate\n",
            "found ['1', '2']",
        ),
    ],
)
def test_an_incomplete_page_is_reported(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "health-x.md").write_text(text)
    (reported,) = runbook_problems({"a": "Runbook: docs/runbooks/health-x.md"}, tmp_path)
    assert problem in reported
