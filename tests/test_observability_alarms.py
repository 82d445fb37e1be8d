"""The planned CloudWatch alarms, alert topics and alerts key, checked as properties.

Expected burn-rate thresholds are recomputed here from the workbook table in docs/slos.md
(budget share, long window, period), never from components.slos.burn_rate; which SLIs are
good-minute SLIs comes from the SLO table of the same page. Every property is checked on
each stack's captured plan, so a wrong window, route or grant fails a named test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from math import floor
from pathlib import Path
from typing import Any

import pytest

from blueprint.capture import Plan, PlannedResource
from components.config.slos import SloSettings
from components.observability.health import HealthContext, health_alarm_specs
from components.observability.slo_alarms import SliContext, cache_node_ids, slo_alarm_specs
from components.observability.specs import AlarmSpec
from components.slos.prometheus import rules_yaml
from tests.conftest import STACKS, as_list, stack_config, stack_plan

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
MSK = "aws:msk/cluster:Cluster"
NAT = "aws:ec2/natGateway:NatGateway"

SLOS_DOC = Path(__file__).resolve().parent.parent / "docs" / "slos.md"
ALERT_PUBLISHERS = {"cloudwatch.amazonaws.com", "events.amazonaws.com", "aps.amazonaws.com"}
SUB_HOUR_RANGE = 86_400
"""PutMetricAlarm: Period x EvaluationPeriods <= 86,400 s when Period < 3,600 s ..."""
RANGE = 604_800
"""... and <= 604,800 s otherwise."""
MAX_METRICS = 10
"""CloudWatch quotas: a metric-math alarm reads at most 10 metrics (hard limit)."""
UNITS = {"m": 60, "h": 3600, "d": 86400}
RULE_PAIR = re.compile(r'\(ALARM\("([^"]+)"\) AND ALARM\("([^"]+)"\)\)')


# --- the workbook, read from docs/slos.md ------------------------------------------------


@dataclass(frozen=True)
class WorkbookRow:
    severity: str
    long: str
    short: str
    budget_share: Fraction
    factor_30: float
    factor_28: float

    @property
    def pair(self) -> str:
        return f"{self.long}{self.short}"

    def factor(self, period_days: int) -> Fraction:
        """Budget share / (long window / period), recomputed exactly."""
        return self.budget_share * period_days * UNITS["d"] / seconds(self.long)


def seconds(duration: str) -> int:
    return int(duration[:-1]) * UNITS[duration[-1]]


def _table(heading: str) -> list[list[str]]:
    text = SLOS_DOC.read_text()
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        if line.startswith("|") and not set(line) <= {"|", "-", " "}:
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


@cache
def workbook() -> tuple[WorkbookRow, ...]:
    rows = []
    for severity, windows, share, factor_30, factor_28, _ in _table("## Burn-rate alerts"):
        long, short = (w.strip() for w in windows.split("/"))
        rows.append(
            WorkbookRow(
                severity=severity,
                long=long,
                short=short,
                budget_share=Fraction(share.removesuffix("%").strip()) / 100,
                factor_30=float(factor_30.rsplit("=", 1)[-1]),
                factor_28=float(factor_28),
            )
        )
    return tuple(rows)


@cache
def cloudwatch_slis() -> dict[str, bool]:
    """CloudWatch SLOs of the docs' SLO table -> whether the SLI counts good minutes."""
    return {
        slo.strip("`"): sli.startswith("minutes where")
        for slo, sli, source, *_ in _table("## The SLOs")
        if "CloudWatch" in source
    }


def test_the_docs_table_is_the_workbook() -> None:
    """14.4/6/3/1 at 30 d and 13.44/5.6/2.8/0.933 at 28 d, recomputed from the shares."""
    rows = workbook()
    assert [r.pair for r in rows] == ["1h5m", "6h30m", "1d2h", "3d6h"]
    for row in rows:
        assert float(row.factor(30)) == pytest.approx(row.factor_30, abs=1e-12)
        assert float(row.factor(28)) == pytest.approx(row.factor_28, abs=5e-4)
    assert [float(r.factor(30)) for r in rows] == [14.4, 6.0, 3.0, 1.0]
    assert cloudwatch_slis() == {
        "freshness": True,
        "online-store-availability": True,
        "online-store-latency": True,
        "data-quality": False,
        "consistency": False,
    }


# --- expected window alarms ---------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float | None
    """Event ratios: the error ratio to exceed; good minutes: the minute's bound (not checked)."""


def expected_windows(slos: SloSettings) -> dict[str, Window]:
    """Every window alarm (name after the prefix) the workbook asks for."""
    expected: dict[str, Window] = {}
    for slo, objective in slos.declarations():
        if slo not in cloudwatch_slis():
            continue
        good_minutes = cloudwatch_slis()[slo]
        budget = 1 - Fraction(str(objective.target)) / 100
        for row in workbook():
            if not getattr(objective, row.severity):
                continue
            if row.long == "3d":
                continue  # an alarm holds a day at most (period and 60 s evaluation limits)
            threshold = row.factor(objective.window_days) * budget
            for role, duration in (("long", row.long), ("short", row.short)):
                window = seconds(duration)
                name = f"slo-{slo}-{row.pair}-{role}"
                if good_minutes:
                    minutes = window // 60
                    expected[name] = Window(60, minutes, floor(threshold * minutes) + 1, None)
                else:
                    expected[name] = Window(window, 1, 1, float(threshold))
    return expected


def _planned_window(alarm: PlannedResource) -> Window:
    periods = {int(q["metric"]["period"]) for q in alarm.inputs["metricQueries"] if "metric" in q}
    assert len(periods) == 1, f"{alarm.inputs['name']}: periods {periods}"
    return Window(
        periods.pop(),
        int(alarm.inputs["evaluationPeriods"]),
        int(alarm.inputs["datapointsToAlarm"]),
        float(alarm.inputs["threshold"]),
    )


def _spec_window(spec: AlarmSpec) -> Window:
    return Window(spec.period, spec.evaluation_periods, spec.datapoints_to_alarm, spec.threshold)


def assert_windows(actual: dict[str, Window], slos: SloSettings) -> None:
    expected = expected_windows(slos)
    assert set(actual) == set(expected)
    for name, want in expected.items():
        got = actual[name]
        assert (got.period, got.evaluation_periods, got.datapoints_to_alarm) == (
            want.period,
            want.evaluation_periods,
            want.datapoints_to_alarm,
        ), name
        if want.threshold is not None:
            assert got.threshold == pytest.approx(want.threshold, rel=1e-12), name


def prefix(plan: Plan) -> str:
    return str(plan.of_type(DASHBOARD)[0].inputs["dashboardName"])


def window_alarms(plan: Plan) -> dict[str, PlannedResource]:
    start = f"{prefix(plan)}-"
    return {
        str(a.inputs["name"]).removeprefix(start): a
        for a in plan.of_type(ALARM)
        if a.inputs["tags"].get("severity") == "window"
    }


@pytest.mark.parametrize("stack", STACKS)
def test_window_alarms_match_the_workbook(stack: str) -> None:
    plan = stack_plan(stack)
    actual = {name: _planned_window(a) for name, a in window_alarms(plan).items()}
    assert_windows(actual, stack_config(stack).slos)


@pytest.mark.parametrize("stack", STACKS)
def test_no_cloudwatch_alarm_holds_the_three_day_window(stack: str) -> None:
    names = set(window_alarms(stack_plan(stack)))
    assert names, "no window alarms to judge"
    assert not [n for n in names if "-3d6h-" in n]
    # The Prometheus SLIs keep the pair: it is a CloudWatch limit, not a design choice.
    rules = rules_yaml(stack_config(stack).slos)
    assert "ratio_rate3d" in rules


def _with_period(slos: SloSettings, days: int) -> SloSettings:
    return slos.model_copy(
        update={
            field: getattr(slos, field).model_copy(update={"window_days": days})
            for field in type(slos).model_fields
        }
    )


def test_a_28_day_period_gives_the_28_day_thresholds() -> None:
    slos = _with_period(stack_config("prod").slos, 28)
    context = SliContext("prod", "cluster", (("node-0001-001", "node-0001-002"),))
    windows, _ = slo_alarm_specs(slos, context)
    actual = {spec.name: _spec_window(spec) for spec in windows}
    assert_windows(actual, slos)
    # The 28-day table is not the 30-day one: the 1d ticket of data quality differs.
    thirty = expected_windows(_with_period(slos, 30))["slo-data-quality-1d2h-long"]
    assert actual["slo-data-quality-1d2h-long"].threshold != pytest.approx(thirty.threshold)


def test_a_wrong_threshold_is_caught() -> None:
    """The checker above fails on a window off by one bad minute."""
    slos = stack_config("prod").slos
    actual = dict(expected_windows(slos))
    name = "slo-freshness-1h5m-long"
    actual[name] = Window(60, 60, actual[name].datapoints_to_alarm - 1, None)
    with pytest.raises(AssertionError):
        assert_windows(actual, slos)


# --- composite alarms and routing ---------------------------------------------------------


def topic_arns(plan: Plan) -> dict[str, str]:
    """severity -> topic ARN."""
    return {t.inputs["tags"]["severity"]: t.outputs["arn"] for t in plan.of_type(TOPIC)}


def rule_pairs(rule: str) -> list[tuple[str, str]]:
    parts = rule.split(" OR ")
    pairs = [RULE_PAIR.fullmatch(part) for part in parts]
    assert all(pairs), f"not (ALARM AND ALARM) OR ...: {rule}"
    return [(m.group(1), m.group(2)) for m in pairs if m]


@pytest.mark.parametrize("stack", STACKS)
def test_one_composite_per_slo_and_severity_naming_window_pairs(stack: str) -> None:
    plan = stack_plan(stack)
    start = f"{prefix(plan)}-"
    alarm_names = {a.inputs["name"] for a in plan.of_type(ALARM)}
    composites = {c.inputs["alarmName"]: c for c in plan.of_type(COMPOSITE)}
    expected: dict[str, list[tuple[str, str]]] = {}
    for slo, objective in stack_config(stack).slos.declarations():
        if slo not in cloudwatch_slis():
            continue
        for row in workbook():
            if not getattr(objective, row.severity):
                continue
            if row.long == "3d":
                continue
            pair = f"{start}slo-{slo}-{row.pair}"
            expected.setdefault(f"{start}slo-{slo}-{row.severity}", []).append(
                (f"{pair}-long", f"{pair}-short")
            )
    assert set(composites) == set(expected)
    for name, pairs in expected.items():
        assert rule_pairs(composites[name].inputs["alarmRule"]) == pairs, name
        assert {n for pair in pairs for n in pair} <= alarm_names, name


@pytest.mark.parametrize("stack", STACKS)
def test_composites_page_only_in_prod(stack: str) -> None:
    plan = stack_plan(stack)
    topics = topic_arns(plan)
    for composite in plan.of_type(COMPOSITE):
        severity = composite.inputs["tags"]["severity"]
        want = topics["page"] if stack == "prod" and severity == "page" else topics["ticket"]
        assert composite.inputs["alarmActions"] == [want], composite.name
        assert composite.inputs["okActions"] == [want], composite.name
    if stack != "prod":
        for alarm in (*plan.of_type(ALARM), *plan.of_type(COMPOSITE)):
            actions = [*alarm.inputs.get("alarmActions", []), *alarm.inputs.get("okActions", [])]
            assert topics["page"] not in actions, alarm.name


@pytest.mark.parametrize("stack", STACKS)
def test_window_alarms_are_silent_and_in_exactly_one_composite(stack: str) -> None:
    plan = stack_plan(stack)
    rules = [c.inputs["alarmRule"] for c in plan.of_type(COMPOSITE)]
    for alarm in window_alarms(plan).values():
        assert alarm.inputs["alarmActions"] == [], alarm.name
        assert alarm.inputs["okActions"] == [], alarm.name
        quoted = f'ALARM("{alarm.inputs["name"]}")'
        assert sum(rule.count(quoted) for rule in rules) == 1, alarm.name


@pytest.mark.parametrize("stack", STACKS)
def test_health_alarms_and_composites_notify_alarm_and_ok(stack: str) -> None:
    plan = stack_plan(stack)
    topics = set(topic_arns(plan).values())
    health = [a for a in plan.of_type(ALARM) if a.inputs["tags"].get("severity") != "window"]
    assert health
    for alarm in (*health, *plan.of_type(COMPOSITE)):
        actions = alarm.inputs["alarmActions"]
        assert actions and set(actions) <= topics, alarm.name
        assert alarm.inputs["okActions"] == actions, alarm.name


# --- CloudWatch limits --------------------------------------------------------------------


def alarm_limit_problems(inputs: dict[str, Any]) -> list[str]:
    queries = inputs["metricQueries"]
    problems = []
    periods = {int(q["metric"]["period"]) for q in queries if "metric" in q}
    if len(periods) != 1:
        problems.append(f"metric periods {sorted(periods)}")
    else:
        period = periods.pop()
        limit = SUB_HOUR_RANGE if period < 3600 else RANGE
        if period * int(inputs["evaluationPeriods"]) > limit:
            problems.append(f"{period} s x {inputs['evaluationPeriods']} > {limit} s")
    if sum(1 for q in queries if "metric" in q) > MAX_METRICS:
        problems.append("more than 10 metrics")
    if sum(1 for q in queries if q.get("returnData")) != 1:
        problems.append("not exactly one query returns data")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_alarms_within_cloudwatch_limits(stack: str) -> None:
    for alarm in stack_plan(stack).of_type(ALARM):
        assert alarm_limit_problems(alarm.inputs) == [], alarm.inputs["name"]


def test_limit_checker_fails_on_a_too_long_sub_hour_range() -> None:
    queries = [{"id": "m", "metric": {"period": 60.0}, "returnData": True}]
    assert alarm_limit_problems({"metricQueries": queries, "evaluationPeriods": 1441.0})
    assert not alarm_limit_problems({"metricQueries": queries, "evaluationPeriods": 1440.0})
    eleven = [{"id": f"m{i}", "metric": {"period": 3600.0}} for i in range(11)]
    assert alarm_limit_problems({"metricQueries": eleven, "evaluationPeriods": 1.0}) == [
        "more than 10 metrics",
        "not exactly one query returns data",
    ]


# --- topics and the alerts key ------------------------------------------------------------


def alerts_key(plan: Plan, stack: str) -> PlannedResource:
    alias = next(a for a in plan.of_type(ALIAS) if a.inputs["name"].endswith(f"{stack}-alerts"))
    target = alias.inputs["targetKeyId"]
    return next(k for k in plan.of_type(KEY) if k.outputs["arn"].endswith(f"/{target}"))


def publisher_grant_problems(document: dict[str, Any], account: str, region: str) -> list[str]:
    """Every alert publisher may use the key; CloudWatch only for this account's platform
    alarms; EventBridge and the alert manager without source conditions, which their KMS
    calls do not carry (a condition on them would drop every notification silently)."""
    problems = []
    granted: set[str] = set()
    alarms = f"arn:aws:cloudwatch:{region}:{account}:alarm:feature-platform-"
    for statement in document["Statement"]:
        principal = statement.get("Principal", {})
        services = (
            set(as_list(principal.get("Service", []))) if isinstance(principal, dict) else set()
        )
        if not services & ALERT_PUBLISHERS:
            continue
        granted |= services & ALERT_PUBLISHERS
        condition = statement.get("Condition", {})
        source = condition.get("StringEquals", {}).get("aws:SourceAccount")
        if "cloudwatch.amazonaws.com" in services:
            arn = condition.get("ArnLike", {}).get("aws:SourceArn", "")
            if source != account or not arn.startswith(alarms):
                problems.append(f"{statement.get('Sid')}: CloudWatch not limited to {alarms}*")
        elif condition:
            problems.append(f"{statement.get('Sid')}: a source condition drops {sorted(services)}")
    if granted != ALERT_PUBLISHERS:
        problems.append(f"publishers without the key: {sorted(ALERT_PUBLISHERS - granted)}")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_topics_use_the_alerts_key_scoped_to_the_account(stack: str) -> None:
    plan = stack_plan(stack)
    config = stack_config(stack)
    key = alerts_key(plan, stack)
    topics = plan.of_type(TOPIC)
    assert {t.inputs["tags"]["severity"] for t in topics} == {"page", "ticket"}
    for topic in topics:
        assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"], topic.name
    document = json.loads(key.inputs["policy"])
    assert publisher_grant_problems(document, config.aws.account_id, config.aws.region) == []


def test_publisher_grants_that_are_too_wide_or_would_drop_alerts_are_caught() -> None:
    open_cloudwatch = {"Sid": "Open", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                       "Action": "kms:Decrypt", "Resource": "*"}  # fmt: skip
    conditioned_events = {
        "Sid": "Events",
        "Principal": {"Service": ["events.amazonaws.com", "aps.amazonaws.com"]},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}},
    }
    document = {"Statement": [open_cloudwatch, conditioned_events]}
    assert publisher_grant_problems(document, "111111111111", "eu-central-1") == [
        "Open: CloudWatch not limited to "
        "arn:aws:cloudwatch:eu-central-1:111111111111:alarm:feature-platform-*",
        "Events: a source condition drops ['aps.amazonaws.com', 'events.amazonaws.com']",
    ]


def topic_policy_problems(document: dict[str, Any], alarm_pattern: str, account: str) -> list[str]:
    problems = []
    statements = document["Statement"]
    tls = [
        s for s in statements
        if s["Effect"] == "Deny" and s.get("Principal") in ("*", {"AWS": "*"})
        and "sns:Publish" in as_list(s["Action"])
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]  # fmt: skip
    if not tls:
        problems.append("no deny of publishes without TLS")
    for s in statements:
        principal = s.get("Principal")
        services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if s["Effect"] != "Allow" or "cloudwatch.amazonaws.com" not in services:
            continue
        condition = s.get("Condition", {})
        if condition.get("ArnLike", {}).get("aws:SourceArn") != alarm_pattern:
            problems.append(f"{s.get('Sid')}: CloudWatch not limited to {alarm_pattern}")
        if condition.get("StringEquals", {}).get("aws:SourceAccount") != account:
            problems.append(f"{s.get('Sid')}: CloudWatch not limited to account {account}")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_topic_policies_deny_plain_http_and_limit_cloudwatch_to_the_env(stack: str) -> None:
    plan = stack_plan(stack)
    config = stack_config(stack)
    pattern = (
        f"arn:aws:cloudwatch:{config.aws.region}:{config.aws.account_id}:alarm:{prefix(plan)}-*"
    )
    policies = {p.inputs["arn"]: json.loads(p.inputs["policy"]) for p in plan.of_type(TOPIC_POLICY)}
    assert set(policies) == set(topic_arns(plan).values())
    for arn, document in policies.items():
        assert topic_policy_problems(document, pattern, config.aws.account_id) == [], arn
        assert pattern.endswith(f"feature-platform-{stack}-*")


def test_topic_policy_open_to_every_alarm_is_caught() -> None:
    document = {"Statement": [{"Sid": "CloudWatchAlarms", "Effect": "Allow",
                               "Principal": {"Service": "cloudwatch.amazonaws.com"},
                               "Action": "sns:Publish", "Resource": "*"}]}  # fmt: skip
    assert topic_policy_problems(document, "arn:aws:cloudwatch:r:1:alarm:p-*", "1") == [
        "no deny of publishes without TLS",
        "CloudWatchAlarms: CloudWatch not limited to arn:aws:cloudwatch:r:1:alarm:p-*",
        "CloudWatchAlarms: CloudWatch not limited to account 1",
    ]


# --- what the stack runs: counts ------------------------------------------------------------


def specs_of(stack: str) -> tuple[tuple[AlarmSpec, ...], int, tuple[AlarmSpec, ...]]:
    """(window specs, composite count, health specs) rebuilt from the config and the plan's
    members (brokers, NAT gateways), as the platform wires them."""
    plan = stack_plan(stack)
    config = stack_config(stack)
    physical = prefix(plan)
    store = config.online_store
    nodes = cache_node_ids(
        f"{physical}-online",
        cluster_mode=store.cluster_mode,
        shards=store.shards,
        replicas_per_shard=store.replicas_per_shard,
    )
    windows, composites = slo_alarm_specs(
        config.slos, SliContext(config.environment.value, physical, nodes)
    )
    brokers = int(plan.of_type(MSK)[0].inputs["numberOfBrokerNodes"])
    health = health_alarm_specs(
        config.alerting.health,
        HealthContext(
            kafka_cluster_name=physical,
            broker_count=brokers,
            cache_nodes=tuple(n for shard in nodes for n in shard),
            cache_replicas=store.replicas_per_shard > 0,
            nat_gateway_ids=[n.id for n in plan.of_type(NAT)],
            rotation_function_name="rotation",
            environment=stack,
        ),
    )
    return windows, len(composites), health


@pytest.mark.parametrize("stack", STACKS)
def test_alarm_counts_are_the_sum_of_the_specs(stack: str) -> None:
    plan = stack_plan(stack)
    windows, composite_count, health = specs_of(stack)
    alarms = plan.of_type(ALARM)
    metrics = sum(1 for a in alarms for q in a.inputs["metricQueries"] if "metric" in q)
    print(
        f"{stack}: {len(alarms)} alarms, {len(plan.of_type(COMPOSITE))} composite alarms, "
        f"{metrics} metrics read"
    )
    assert len(alarms) == len(windows) + len(health)
    assert len(plan.of_type(COMPOSITE)) == composite_count
    assert metrics == sum(spec.metric_count for spec in (*windows, *health))
