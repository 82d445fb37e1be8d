"""The alerting cost summary counts what the plan really creates."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from blueprint.alerting_cost import alerting_cost
from blueprint.capture import Plan
from blueprint.cli import app
from components.observability.slo_alarms import (
    CONSISTENCY_CHECKED,
    CONSISTENCY_MISMATCHES,
    RECORDS_REJECTED,
    RECORDS_VALIDATED,
)


def test_counts_match_the_planned_alarms_and_rules(plan: Plan) -> None:
    cost = alerting_cost(plan)
    alarms = plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert cost.metric_alarms == len(alarms) > 0
    assert cost.composite_alarms == len(
        plan.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    )
    # Every metric an alarm reads is billed: never fewer than one per alarm.
    assert cost.alarm_metrics >= cost.metric_alarms
    # The platform publishes exactly four custom metrics, one dimension set each.
    assert cost.custom_metrics == len(
        {RECORDS_VALIDATED, RECORDS_REJECTED, CONSISTENCY_CHECKED, CONSISTENCY_MISMATCHES}
    )
    (namespace,) = plan.of_type("aws:amp/ruleGroupNamespace:RuleGroupNamespace")
    rules = [r for g in yaml.safe_load(namespace.inputs["data"])["groups"] for r in g["rules"]]
    assert cost.alert_rules + cost.recording_rules == len(rules)


def test_prod_costs_more_than_dev(dev: Plan, prod: Plan) -> None:
    # Prod pages as well as tickets, and has more nodes to read.
    assert alerting_cost(prod).metric_alarms > alerting_cost(dev).metric_alarms
    assert alerting_cost(prod).alarm_metrics > alerting_cost(dev).alarm_metrics


def test_preview_prints_the_counts() -> None:
    result = CliRunner().invoke(app, ["preview", "dev"])
    assert result.exit_code == 0, result.output
    assert "metrics those alarms read" in result.output
    assert "composite alarms" in result.output
