"""The environment's CloudWatch dashboard: a valid body, a sound layout, and only metrics that
exist (AWS publishes them for these resources, or the platform emits them)."""

from __future__ import annotations

import json
import re
from itertools import pairwise
from typing import Any

import pytest

from blueprint.capture import Plan
from components.config.slos import SLI_KINDS, SliKind, SliSource
from components.observability import slo_alarms
from components.observability.dashboard import (
    GRID_COLUMNS,
    MAX_ALARMS_PER_ALARM_WIDGET,
    MAX_METRICS_PER_DASHBOARD,
    MAX_METRICS_PER_WIDGET,
    MAX_WIDGET_HEIGHT,
    MAX_WIDGETS,
    dashboard_document,
)
from components.observability.slo_alarms import SliContext, slo_alarm_specs
from components.slos.burn_rate import error_budget
from tests.conftest import stack_config, stack_plan

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
STACKS = ("dev", "prod")
WIDGET_TYPES = {"metric", "text", "alarm"}

BODY_BUDGET_BYTES = 100_000
"""Our own ceiling, not an AWS figure: no byte limit for DashboardBody was found in the
CloudWatch API reference or quotas (only 500 widgets, 500 metrics per widget, 2500 per
dashboard, checked separately). A body several times today's ~30 KB means the dashboard
has stopped being one page a person can read."""

PUBLISHED = {
    # Amazon MSK, DEFAULT level (MSK developer guide, "Amazon MSK metrics").
    "AWS/Kafka": {"EstimatedMaxTimeLag", "OfflinePartitionsCount", "ActiveControllerCount",
                  "UnderReplicatedPartitions", "KafkaDataLogsDiskUsed"},
    # ElastiCache for Valkey/Redis OSS node metrics ("Metrics for Valkey and Redis OSS").
    "AWS/ElastiCache": {"IsMaster", "SuccessfulReadRequestLatency", "EngineCPUUtilization",
                        "DatabaseMemoryUsagePercentage", "Evictions", "CurrConnections",
                        "ReplicationLag"},
    "AWS/NATGateway": {"ErrorPortAllocation"},
    "AWS/Lambda": {"Errors"},
    # What the materializer and the consistency probe publish (slo_alarms.py).
    "FeaturePlatform": {slo_alarms.RECORDS_VALIDATED, slo_alarms.RECORDS_REJECTED,
                        slo_alarms.CONSISTENCY_CHECKED, slo_alarms.CONSISTENCY_MISMATCHES},
}  # fmt: skip

Metric = tuple[str, str, tuple[tuple[str, str], ...]]


def body(plan: Plan) -> dict[str, Any]:
    (dashboard,) = plan.of_type(DASHBOARD)
    document = json.loads(dashboard.inputs["dashboardBody"])
    assert isinstance(document, dict)
    return document


def metric_widgets(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in document["widgets"] if w["type"] == "metric"]


def dashboard_metrics(widget: dict[str, Any]) -> list[Metric]:
    """(namespace, name, dimensions) of every metric (not expression) of a widget."""
    found = []
    for entry in widget["properties"]["metrics"]:
        if isinstance(entry[0], dict):
            assert set(entry[0]) >= {"expression", "id", "label"}
            continue
        namespace, name, *rest = entry
        options = rest.pop() if rest and isinstance(rest[-1], dict) else {}
        assert len(rest) % 2 == 0, entry
        assert options.get("stat"), entry
        found.append((namespace, name, tuple(sorted(zip(rest[::2], rest[1::2], strict=True)))))
    return found


def alarm_metrics(plan: Plan) -> set[Metric]:
    return {
        (m["namespace"], m["metricName"], tuple(sorted(m.get("dimensions", {}).items())))
        for alarm in plan.of_type(ALARM)
        for q in alarm.inputs["metricQueries"]
        if (m := q.get("metric"))
    }


@pytest.mark.parametrize("stack", STACKS)
def test_body_is_json_with_widgets(stack: str) -> None:
    document = body(stack_plan(stack))
    assert isinstance(document["widgets"], list)
    assert 0 < len(document["widgets"]) <= MAX_WIDGETS
    assert document["periodOverride"] == "inherit"


@pytest.mark.parametrize("stack", STACKS)
def test_widgets_fit_the_grid_without_overlap(stack: str) -> None:
    cells: dict[tuple[int, int], int] = {}
    for index, widget in enumerate(body(stack_plan(stack))["widgets"]):
        assert widget["type"] in WIDGET_TYPES
        x, y, width, height = (widget[k] for k in ("x", "y", "width", "height"))
        assert all(isinstance(v, int) for v in (x, y, width, height)), widget
        assert 0 <= x < GRID_COLUMNS and 1 <= width <= GRID_COLUMNS and x + width <= GRID_COLUMNS
        assert y >= 0 and 1 <= height <= MAX_WIDGET_HEIGHT
        for cell in ((cx, cy) for cx in range(x, x + width) for cy in range(y, y + height)):
            assert cell not in cells, f"widget {index} overlaps widget {cells[cell]} at {cell}"
            cells[cell] = index


@pytest.mark.parametrize("stack", STACKS)
def test_every_metric_widget_names_its_region(stack: str) -> None:
    region = stack_config(stack).aws.region
    for widget in metric_widgets(body(stack_plan(stack))):
        assert widget["properties"]["region"] == region


@pytest.mark.parametrize("stack", STACKS)
def test_metrics_are_the_alarms_metrics_and_all_published(stack: str) -> None:
    plan = stack_plan(stack)
    shown = {m for w in metric_widgets(body(plan)) for m in dashboard_metrics(w)}
    assert shown == alarm_metrics(plan)
    for namespace, name, _ in shown:
        assert name in PUBLISHED.get(namespace, set()), (namespace, name)
    # Dimension values that are Outputs (NAT gateway ids, the function name) are resolved.
    assert all(isinstance(v, str) and v for _, _, dims in shown for _, v in dims)


@pytest.mark.parametrize("stack", STACKS)
def test_query_ids_are_unique_and_expressions_use_only_them(stack: str) -> None:
    for widget in metric_widgets(body(stack_plan(stack))):
        entries = widget["properties"]["metrics"]
        ids = [(e[0] if isinstance(e[0], dict) else e[-1])["id"] for e in entries]
        assert len(ids) == len(set(ids)), ids
        assert all(re.fullmatch(r"[a-z][A-Za-z0-9_]*", i) for i in ids), ids
        for entry in entries:
            if isinstance(entry[0], dict):
                words = set(re.findall(r"\b[a-z][A-Za-z0-9_]*\b", entry[0]["expression"]))
                functions = set(re.findall(r"\b([a-z][A-Za-z0-9_]*)\(", entry[0]["expression"]))
                assert words - functions <= set(ids), entry


@pytest.mark.parametrize("stack", STACKS)
def test_within_dashboard_limits(stack: str) -> None:
    plan = stack_plan(stack)
    (dashboard,) = plan.of_type(DASHBOARD)
    assert len(dashboard.inputs["dashboardBody"].encode()) < BODY_BUDGET_BYTES
    counts = [len(w["properties"]["metrics"]) for w in metric_widgets(body(plan))]
    assert max(counts) <= MAX_METRICS_PER_WIDGET
    assert sum(counts) <= MAX_METRICS_PER_DASHBOARD


@pytest.mark.parametrize("stack", STACKS)
def test_each_slo_has_its_row(stack: str) -> None:
    """CloudWatch SLIs: the SLI with a line at the bound or budget, then budget or burn;
    Prometheus SLIs: a text naming the recording rules."""
    config = stack_config(stack)
    widgets = body(stack_plan(stack))["widgets"]
    for slo, objective in config.slos.declarations():
        kind, source = SLI_KINDS[slo]
        mine = [w for w in widgets if (w["properties"].get("title") or w["properties"].get(
            "markdown", "")).lstrip("# ").startswith(f"{slo}:")]  # fmt: skip
        if source is SliSource.PROMETHEUS:
            (text,) = mine
            assert "slo:sli_error:ratio_rate" in text["properties"]["markdown"]
            assert "slo:period_error_budget_remaining:ratio" in text["properties"]["markdown"]
            continue
        sli, budget = sorted(mine, key=lambda w: w["x"])
        assert sli["y"] == budget["y"]
        (line,) = sli["properties"]["annotations"]["horizontal"]
        if kind in (SliKind.QUALITY, SliKind.CONSISTENCY):
            assert line["value"] == pytest.approx(1 - objective.target / 100)
            assert budget["properties"]["setPeriodToTimeRange"] is True
            assert budget["properties"]["start"] == f"-P{objective.window_days}D"
        else:
            bound = getattr(
                objective,
                {
                    SliKind.FRESHNESS: "max_lag_seconds",
                    SliKind.LATENCY: "threshold_microseconds",
                }.get(kind, ""),
                1,  # availability: a good minute has at least one primary per shard
            )
            assert line["value"] == bound
            assert "not computable exactly" in budget["properties"]["title"]
            burn = budget["properties"]["metrics"][-1][0]
            assert f"/ 1440 / {error_budget(objective.target)!r}" in burn["expression"]


def alarm_widget_names(document: dict[str, Any]) -> list[str]:
    (widget,) = [w for w in document["widgets"] if w["type"] == "alarm"]
    arns = widget["properties"]["alarms"]
    assert 1 <= len(arns) <= MAX_ALARMS_PER_ALARM_WIDGET
    names = []
    for arn in arns:
        match = re.fullmatch(r"arn:aws:cloudwatch:[a-z0-9-]+:\d{12}:alarm:(.+)", arn)
        assert match, arn
        names.append(match.group(1))
    return names


@pytest.mark.parametrize("stack", STACKS)
def test_alarm_widget_lists_the_planned_composites_by_arn(stack: str) -> None:
    """Built from the config as the component does, with the stack's account."""
    plan = stack_plan(stack)
    config = stack_config(stack)
    prefix = plan.of_type(DASHBOARD)[0].inputs["dashboardName"]
    _, composites = slo_alarm_specs(config.slos, SliContext(stack, prefix, (("n-001",),)))
    document = dashboard_document(
        region=config.aws.region,
        account_id=config.aws.account_id,
        slos=config.slos,
        alarms=(),
        composites=composites,
        full_name=lambda name: f"{prefix}-{name}",
    )
    planned = {c.inputs["alarmName"] for c in plan.of_type(COMPOSITE)}
    assert sorted(alarm_widget_names(document)) == sorted(planned)
    assert all(
        f":{config.aws.account_id}:" in a for a in document["widgets"][1]["properties"]["alarms"]
    )


@pytest.mark.parametrize("stack", STACKS)
def test_planned_alarm_widget_names_existing_composites(stack: str) -> None:
    plan = stack_plan(stack)
    planned = {c.inputs["alarmName"] for c in plan.of_type(COMPOSITE)}
    assert sorted(alarm_widget_names(body(plan))) == sorted(planned)


@pytest.mark.parametrize("stack", STACKS)
def test_rows_are_stacked_top_to_bottom(stack: str) -> None:
    ys = [w["y"] for w in body(stack_plan(stack))["widgets"]]
    assert all(a <= b for a, b in pairwise(ys))
