"""The environment's CloudWatch dashboard: each SLO against its target, its error budget, the
burn-rate alarms' state and the health alarms' metrics.

Every metric on it is read by an alarm of the stack: the widgets reuse the alarm specs'
queries (same namespace, metric, dimensions and statistic), so the dashboard shows only
metrics AWS publishes for these resources or the platform emits, and a chart and the alarm
it explains cannot drift apart. Expressions added here (budget, burn) only combine them.

Body format: "Dashboard Body Structure and Syntax" (CloudWatch API reference,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).
Dashboards are global, so every metric widget names its region; the alarm status widget
takes alarm ARNs, not names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pulumi

from components.config.slos import (
    SLI_KINDS,
    ObjectiveSettings,
    SliKind,
    SliSource,
    SloSettings,
)
from components.observability.specs import AlarmSpec, CompositeSpec, MetricQuery
from components.slos.burn_rate import Severity, burn_rate_alerts, error_budget
from components.slos.prometheus import ERROR_RATIO

GRID_COLUMNS = 24
"""The dashboard grid is 24 columns wide (x 0-23, width 1-24)."""
MAX_WIDGET_HEIGHT = 1000
MAX_WIDGETS = 500
"""Dashboard Body Structure: "an array of between 0 and 500 widget objects"."""
MAX_METRICS_PER_WIDGET = 500
MAX_METRICS_PER_DASHBOARD = 2500
"""CloudWatch quotas, "Dashboards": up to 500 metrics per widget and 2500 per dashboard,
metrics read only by metric math included; the quotas cannot be changed."""
MAX_ALARMS_PER_ALARM_WIDGET = 100
"""Alarm status widget: "an array of alarm ARNs ... 1-100 ARNs"."""

SLI_CHART_WINDOW = timedelta(hours=1)
"""The SLI chart uses the queries of the shortest window alarm of at least an hour: a ratio
of event counts per five minutes is mostly noise, and good-minute SLIs read the same
per-minute series in every window."""
BURN_WINDOW = timedelta(days=1)
"""Good-minute SLIs: the budget burn shown is the 1-day window's (see ``_burn_widget``)."""
MINUTES_PER_DAY = 1440

HEADER_HEIGHT = 2
ROW_HEIGHT = 6
HEALTH_COLUMNS = 3
PROMETHEUS_ROW_HEIGHT = 3
PROMETHEUS_RECORDINGS = (f"{ERROR_RATIO}*", "slo:period_error_budget_remaining:ratio")
"""What the managed Prometheus workspace records per serving SLO (components/slos/prometheus.py);
CloudWatch dashboards cannot chart AMP, so the widget names them for Grafana or the AMP API."""


def dashboard_body(
    *,
    region: str,
    slos: SloSettings,
    alarms: Sequence[AlarmSpec],
    composites: Sequence[CompositeSpec],
    full_name: Callable[[str], str],
    account_id: str,
) -> pulumi.Output[str]:
    """The dashboard body as JSON, once every dimension value (NAT gateway ids, the rotation
    function's name) is known. ``account_id`` builds the composite alarms' ARNs: the alarm
    status widget takes ARNs, not names."""
    values = [value for spec in alarms for q in spec.queries for value in q.dimensions.values()]

    def render(resolved: list[Any]) -> str:
        document = dashboard_document(
            region=region,
            account_id=account_id,
            slos=slos,
            alarms=_with_dimension_values(alarms, iter(resolved)),
            composites=composites,
            full_name=full_name,
        )
        return json.dumps(document)

    return pulumi.Output.all(*values).apply(render)


def _with_dimension_values(
    alarms: Sequence[AlarmSpec], resolved: Iterator[Any]
) -> tuple[AlarmSpec, ...]:
    """The specs with each dimension value replaced by its resolved string, in the order
    ``dashboard_body`` listed them."""
    return tuple(
        replace(
            spec,
            queries=tuple(
                replace(q, dimensions={k: str(next(resolved)) for k in q.dimensions})
                for q in spec.queries
            ),
        )
        for spec in alarms
    )


def dashboard_document(
    *,
    region: str,
    account_id: str,
    slos: SloSettings,
    alarms: Sequence[AlarmSpec],
    composites: Sequence[CompositeSpec],
    full_name: Callable[[str], str],
) -> dict[str, Any]:
    """The dashboard body (dimension values already plain strings)."""
    grid = _Grid()
    grid.row(_text(GRID_COLUMNS, HEADER_HEIGHT, _header(full_name)))
    grid.row(_alarm_status(region, account_id, composites, full_name))
    for slo, objective in slos.declarations():
        kind, source = SLI_KINDS[slo]
        if source is SliSource.PROMETHEUS:
            grid.row(_text(GRID_COLUMNS, PROMETHEUS_ROW_HEIGHT, _prometheus_note(slo, objective)))
            continue
        windows = [a for a in alarms if a.severity is None and a.tags.get("slo") == slo]
        if not windows:
            continue
        chart = _chart_alarm(windows)
        budget = (
            _budget_widget(region, slo, objective, chart)
            if kind in (SliKind.QUALITY, SliKind.CONSISTENCY)
            else _burn_widget(region, slo, objective, chart)
        )
        grid.row(_sli_widget(region, slo, objective, kind, chart), budget)
    health = [a for a in alarms if a.severity is not None]
    if health:
        grid.row(_text(GRID_COLUMNS, 1, "## Resource health (one chart per health alarm)"))
        for start in range(0, len(health), HEALTH_COLUMNS):
            grid.row(*(_health_widget(region, a) for a in health[start : start + HEALTH_COLUMNS]))
    return {"start": "-PT12H", "periodOverride": "inherit", "widgets": grid.widgets}


@dataclass
class _Grid:
    """Places widgets left to right, row under row, on the 24-column grid."""

    widgets: list[dict[str, Any]] = field(default_factory=list)
    y: int = 0

    def row(self, *widgets: _Widget) -> None:
        x = 0
        for widget in widgets:
            if x + widget.width > GRID_COLUMNS:
                raise ValueError(f"row wider than {GRID_COLUMNS} columns")
            self.widgets.append(
                {"type": widget.type, "x": x, "y": self.y, "width": widget.width,
                 "height": widget.height, "properties": widget.properties}
            )  # fmt: skip
            x += widget.width
        self.y += max(w.height for w in widgets)


@dataclass(frozen=True)
class _Widget:
    type: str
    width: int
    height: int
    properties: dict[str, Any]


def _text(width: int, height: int, markdown: str) -> _Widget:
    return _Widget("text", width, height, {"markdown": markdown})


def _header(full_name: Callable[[str], str]) -> str:
    prefix = full_name("").rstrip("-")
    return (
        f"# {prefix}: service level objectives and health\n"
        "Built by Pulumi (`components/observability/dashboard.py`): console edits are "
        "overwritten on the next deployment. SLOs and burn-rate alerts: `docs/slos.md`; "
        "what to do when an alarm fires: `docs/runbooks/`."
    )


def _alarm_status(
    region: str,
    account_id: str,
    composites: Sequence[CompositeSpec],
    full_name: Callable[[str], str],
) -> _Widget:
    names = [full_name(c.name) for c in composites]
    title = "SLO burn-rate alarms (composite: long AND short window)"
    if len(names) > MAX_ALARMS_PER_ALARM_WIDGET:
        raise ValueError(f"{len(names)} composite alarms; one widget shows at most 100")
    if not names:
        listed = "\n".join(f"- `{name}`" for name in names) or "- none"
        return _text(GRID_COLUMNS, 4, f"## {title}\n{listed}")
    arns = [f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}" for name in names]
    return _Widget(
        "alarm", GRID_COLUMNS, 4,
        {"title": title, "alarms": arns, "sortBy": "stateUpdatedTimestamp"},
    )  # fmt: skip


def _prometheus_note(slo: str, objective: ObjectiveSettings) -> str:
    rules = ", ".join(f"`{rule}`" for rule in PROMETHEUS_RECORDINGS)
    return (
        f"## {slo}: {objective.target} % over {objective.window_days} d (Prometheus)\n"
        f"Measured in the managed Prometheus workspace, which CloudWatch cannot chart: query "
        f'{rules} with `slo="{slo}"` (Grafana or the AMP query API). Alerts: '
        f"`{slo}` rule groups, routed to the alert topics by severity."
    )


def _window(spec: AlarmSpec) -> timedelta:
    return timedelta(seconds=spec.period * spec.evaluation_periods)


def _chart_alarm(windows: Sequence[AlarmSpec]) -> AlarmSpec:
    long_enough = [a for a in windows if _window(a) >= SLI_CHART_WINDOW]
    return min(long_enough or windows, key=_window)


def _returned(spec: AlarmSpec) -> MetricQuery:
    return next(q for q in spec.queries if q.return_data)


def _metric_entries(
    queries: Sequence[MetricQuery], *, with_period: bool = True, show: bool = True
) -> list[list[Any]]:
    """The ``metrics`` array: a metric is ``[namespace, name, dim, value, ..., options]``,
    an expression ``[{"expression": ..., "label": ..., "id": ...}]``. Only the query the
    alarm evaluates is drawn (unless ``show`` is False); the others feed it."""
    entries: list[list[Any]] = []
    for q in queries:
        visible = show and q.return_data
        if q.is_expression:
            entries.append(
                [{"expression": q.expression, "label": q.label or q.id, "id": q.id,
                  "visible": visible}]
            )  # fmt: skip
            continue
        options: dict[str, Any] = {"id": q.id, "stat": q.stat, "visible": visible}
        if with_period:
            options["period"] = q.period
        if q.label:
            options["label"] = q.label
        dimensions = [part for name, value in q.dimensions.items() for part in (name, value)]
        entries.append([q.namespace, q.metric_name, *dimensions, options])
    return entries


def _metric_widget(width: int, properties: dict[str, Any]) -> _Widget:
    return _Widget("metric", width, ROW_HEIGHT, properties)


def _sli_widget(
    region: str, slo: str, objective: ObjectiveSettings, kind: SliKind, chart: AlarmSpec
) -> _Widget:
    returned = _returned(chart)
    if kind in (SliKind.QUALITY, SliKind.CONSISTENCY):
        budget = error_budget(objective.target)
        title = (
            f"{slo}: error ratio per {chart.period // 3600} h against the budget "
            f"(target {objective.target} %)"
        )
        line = {"label": f"error budget {budget:.4g} (target {objective.target} %)",
                "value": budget, "color": "#d62728"}  # fmt: skip
    else:
        good = "at least" if chart.comparison.startswith("Less") else "at most"
        title = (
            f"{slo}: {returned.label or returned.id} per minute; a good minute is {good} "
            f"{chart.threshold:g} (target {objective.target} % of minutes)"
        )
        line = {"label": f"good minute: {good} {chart.threshold:g}", "value": chart.threshold,
                "color": "#d62728"}  # fmt: skip
    return _metric_widget(
        16,
        {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "period": chart.period,
            "metrics": _metric_entries(chart.queries),
            "annotations": {"horizontal": [line]},
        },
    )


def _budget_widget(
    region: str, slo: str, objective: ObjectiveSettings, chart: AlarmSpec
) -> _Widget:
    """Event ratios: the budget left over the whole SLO period, exactly. The widget's range
    is the period and ``setPeriodToTimeRange`` makes each metric one Sum over all of it, so
    the value is 1 - (bad / total) / budget for the rolling period ending now."""
    budget = error_budget(objective.target)
    metrics = [q for q in chart.queries if not q.is_expression]
    remaining = MetricQuery(
        "remaining",
        expression=f"100 * (1 - IF(total > 0, bad / total, 0) / {budget!r})",
        label="error budget remaining (%)",
        return_data=True,
    )
    return _metric_widget(
        8,
        {
            "title": f"{slo}: error budget remaining over the {objective.window_days}-day period",
            "region": region,
            "view": "singleValue",
            "start": f"-P{objective.window_days}D",
            "setPeriodToTimeRange": True,
            "metrics": _metric_entries((*metrics, remaining), with_period=False),
        },
    )


def _burn_widget(region: str, slo: str, objective: ObjectiveSettings, chart: AlarmSpec) -> _Widget:
    """Good minutes: the period's budget is not computable exactly in CloudWatch (a minute's
    goodness must be judged per minute, and one-minute data is kept only 15 days), so this
    shows the burn rate of the last day: bad minutes in it / 1440 / budget, the quantity the
    1-day ticket window alarms on (1 = spending the budget exactly over the period)."""
    budget = error_budget(objective.target)
    returned = _returned(chart)
    breaching = chart.treat_missing_data == "breaching"
    if chart.comparison.startswith("Greater"):
        fill = chart.threshold + 1 if breaching else chart.threshold
        bad = f"IF(FILL({returned.id}, {fill!r}) > {chart.threshold!r}, 1, 0)"
    else:
        fill = chart.threshold - 1 if breaching else chart.threshold
        bad = f"IF(FILL({returned.id}, {fill!r}) < {chart.threshold!r}, 1, 0)"
    factor = next(
        a.factor
        for a in burn_rate_alerts(objective.target, objective.window_days)
        if a.window.long == BURN_WINDOW
    )
    queries = (
        *(replace(q, return_data=False) for q in chart.queries),
        MetricQuery("badminute", expression=bad, label="bad minute (1) or good (0)"),
        MetricQuery(
            "burn",
            expression=f"RUNNING_SUM(badminute) / {MINUTES_PER_DAY} / {budget!r}",
            label="1-day burn rate (x budget)",
            return_data=True,
        ),
    )
    return _metric_widget(
        8,
        {
            "title": (
                f"{slo}: budget burn of the last 1 d (x; {Severity.TICKET.value} at "
                f"{factor:g}x). The {objective.window_days}-day budget remaining is not "
                "computable exactly in CloudWatch"
            ),
            "region": region,
            "view": "singleValue",
            "start": "-P1D",
            "period": chart.period,
            "metrics": _metric_entries(queries),
        },
    )


def _health_widget(region: str, spec: AlarmSpec) -> _Widget:
    returned = _returned(spec)
    above = "above" if spec.comparison.startswith("Greater") else "below"
    return _metric_widget(
        GRID_COLUMNS // HEALTH_COLUMNS,
        {
            "title": f"{spec.name}: {returned.label or returned.metric_name}",
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "period": spec.period,
            "metrics": _metric_entries(spec.queries),
            "annotations": {
                "horizontal": [
                    {
                        "label": f"alarm {above} {spec.threshold:g} ({spec.severity})",
                        "value": spec.threshold,
                        "color": "#d62728",
                    }
                ]
            },
        },
    )
