"""What the environment's alerting costs to run, counted from the plan.

CloudWatch bills a metric alarm per metric it reads (a metric-math alarm over nine nodes is
nine alarm metrics), a composite alarm per alarm, a custom metric per name and dimension set
published, and a dashboard per month beyond the free ones; Amazon Managed Service for
Prometheus bills rule evaluations by the samples they query. Prices differ by region and
change, so the plan's counts are printed, not a currency amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from rich.table import Table

from blueprint.capture import Plan
from components.observability.specs import PLATFORM_NAMESPACE

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
RULE_GROUPS = "aws:amp/ruleGroupNamespace:RuleGroupNamespace"


@dataclass(frozen=True)
class AlertingCost:
    metric_alarms: int
    alarm_metrics: int
    composite_alarms: int
    custom_metrics: int
    dashboards: int
    recording_rules: int
    alert_rules: int


def _metrics(alarm_inputs: dict[str, Any]) -> list[dict[str, Any]]:
    return [q["metric"] for q in alarm_inputs.get("metricQueries") or [] if q.get("metric")]


def _rules(data: object) -> list[dict[str, Any]]:
    if not isinstance(data, str):  # unknown in a preview that has not resolved it
        return []
    document = yaml.safe_load(data) or {}
    return [rule for group in document.get("groups", []) for rule in group.get("rules", [])]


def alerting_cost(plan: Plan) -> AlertingCost:
    alarms = plan.of_type(METRIC_ALARM)
    metrics = [m for alarm in alarms for m in _metrics(alarm.inputs)]
    custom = {
        (m["metricName"], tuple(sorted((m.get("dimensions") or {}).items())))
        for m in metrics
        if m.get("namespace") == PLATFORM_NAMESPACE
    }
    rules = [r for ns in plan.of_type(RULE_GROUPS) for r in _rules(ns.inputs.get("data"))]
    return AlertingCost(
        metric_alarms=len(alarms),
        alarm_metrics=len(metrics),
        composite_alarms=len(plan.of_type(COMPOSITE_ALARM)),
        custom_metrics=len(custom),
        dashboards=len(plan.of_type(DASHBOARD)),
        recording_rules=sum(1 for r in rules if "record" in r),
        alert_rules=sum(1 for r in rules if "alert" in r),
    )


def render_cost(plan: Plan) -> Table:
    cost = alerting_cost(plan)
    table = Table(title=f"{plan.stack}: alerting, billed per item (CloudWatch, Managed Prometheus)")
    table.add_column("item")
    table.add_column("count", justify="right")
    for label, value in (
        ("metric alarms", cost.metric_alarms),
        ("metrics those alarms read (billed per alarm metric)", cost.alarm_metrics),
        ("composite alarms", cost.composite_alarms),
        (f"custom metrics published to {PLATFORM_NAMESPACE}", cost.custom_metrics),
        ("dashboards", cost.dashboards),
        ("Prometheus recording rules", cost.recording_rules),
        ("Prometheus alert rules", cost.alert_rules),
    ):
        table.add_row(label, str(value))
    return table
