"""CloudWatch burn-rate alarms for the SLIs CloudWatch measures, from the SLO config.

Each window of a workbook pair is one metric alarm; a composite alarm per severity is
ALARM when, for any of its pairs, the long AND the short window are both in ALARM
(:mod:`components.slos.burn_rate` derives every threshold from the target).

Two kinds of SLI, two shapes of window alarm:

* **Good minutes** (freshness, online-store availability and latency): a per-minute series
  (period 60 s) is bad or good; the window alarm is "M out of N": N is the window in minutes
  and M the fewest bad minutes whose ratio exceeds the threshold, ``floor(threshold x N) + 1``.
* **Event ratios** (data quality, consistency): the period is the window itself and the
  expression is bad / total over it; alarms evaluate a sliding window by default
  (``EvaluationWindow``).

The 3d/6h ticket pair is not built in CloudWatch. A period is at most one day (CloudWatch
quotas: "Period: Maximum value is one day (86,400 seconds)"), an alarm with a period under an
hour evaluates at most one day (PutMetricAlarm), and metric math has no function that sums
across periods: no alarm can hold a three-day ratio. The 1d/2h pair tickets, the dashboard
shows the budget, and the Prometheus SLIs keep all four pairs (ADR 0020).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from components.config.models import MAX_ALARM_METRICS
from components.config.slos import (
    SLI_KINDS,
    FreshnessObjective,
    ObjectiveSettings,
    OnlineStoreLatencyObjective,
    SliKind,
    SliSource,
    SloSettings,
)
from components.observability.specs import (
    PLATFORM_NAMESPACE,
    AlarmSpec,
    CompositeSpec,
    MetricQuery,
    describe,
)
from components.slos.burn_rate import BurnRateAlert, Severity, burn_rate_alerts, promql_duration

MINUTE = 60
MAX_WINDOW = timedelta(days=1)
"""The longest window an alarm can hold: a period is at most a day (CloudWatch quotas), and
with 60-second periods the evaluation range is at most a day (PutMetricAlarm)."""
MAX_METRICS_PER_ALARM = MAX_ALARM_METRICS
"""Metrics one metric-math alarm may read; the config refuses more nodes or brokers."""

FEATURE_EVENTS_TOPIC = "feature-events"
MATERIALIZER_GROUP = "materializer"

# The platform's custom metrics (namespace ``FeaturePlatform``, dimension ``Environment``):
# the materializer counts records it validates and rejects against the data contract, the
# consistency probe the features it compares and finds different.
RECORDS_VALIDATED = "RecordsValidated"
RECORDS_REJECTED = "RecordsRejected"
CONSISTENCY_CHECKED = "ConsistencyChecked"
CONSISTENCY_MISMATCHES = "ConsistencyMismatches"


@dataclass(frozen=True)
class SliContext:
    """Where the CloudWatch SLIs are published for one environment."""

    environment: str
    kafka_cluster_name: str
    cache_nodes_by_shard: tuple[tuple[str, ...], ...]
    """The online store's node ids (CacheClusterId), shard by shard."""

    @property
    def cache_nodes(self) -> tuple[str, ...]:
        return tuple(node for shard in self.cache_nodes_by_shard for node in shard)


def cache_node_ids(
    replication_group_id: str, *, cluster_mode: bool, shards: int, replicas_per_shard: int
) -> tuple[tuple[str, ...], ...]:
    """Node ids ElastiCache gives a replication group's members: ``<group>-0001-001`` with
    cluster mode (shard, then node), ``<group>-001`` without."""
    per_shard = replicas_per_shard + 1
    if not cluster_mode:
        return (tuple(f"{replication_group_id}-{n:03d}" for n in range(1, per_shard + 1)),)
    return tuple(
        tuple(f"{replication_group_id}-{s:04d}-{n:03d}" for n in range(1, per_shard + 1))
        for s in range(1, shards + 1)
    )


def window_supported(window: timedelta) -> bool:
    return window <= MAX_WINDOW


def bad_minutes_to_alarm(threshold: float, window: timedelta) -> int:
    """Fewest bad minutes in ``window`` whose share exceeds ``threshold`` (strictly, as the
    Prometheus rules compare): ``floor(threshold x minutes) + 1``."""
    minutes = Decimal(int(window.total_seconds()) // MINUTE)
    return int((Decimal(str(threshold)) * minutes).to_integral_value(ROUND_FLOOR)) + 1


def slo_alarm_specs(
    slos: SloSettings, context: SliContext
) -> tuple[tuple[AlarmSpec, ...], tuple[CompositeSpec, ...]]:
    """Window alarms and composite alarms of every CloudWatch SLO, page before ticket."""
    alarms: list[AlarmSpec] = []
    composites: list[CompositeSpec] = []
    for slo, objective in slos.declarations():
        kind, source = SLI_KINDS[slo]
        if source is not SliSource.CLOUDWATCH:
            continue
        for severity in _severities(objective):
            pairs = []
            for alert in burn_rate_alerts(objective.target, objective.window_days):
                if alert.window.severity is not severity:
                    continue
                built = _window_pair(slo, kind, objective, alert, context)
                if built is None:
                    continue
                alarms.extend(built)
                pairs.append((built[0].name, built[1].name))
            composites.append(
                CompositeSpec(
                    name=f"slo-{slo}-{severity.value}",
                    description=describe(
                        f"SLO {slo} ({objective.target} % over {objective.window_days} d) is "
                        f"burning its error budget fast enough to {severity.value}; "
                        f"owner {objective.owner}.",
                        f"slo-{slo}.md",
                    ),
                    runbook=f"slo-{slo}.md",
                    severity=severity,
                    slo=slo,
                    pairs=tuple(pairs),
                )
            )
    return tuple(alarms), tuple(composites)


def _severities(objective: ObjectiveSettings) -> Iterator[Severity]:
    if objective.page:
        yield Severity.PAGE
    if objective.ticket:
        yield Severity.TICKET


def _window_pair(
    slo: str, kind: SliKind, objective: ObjectiveSettings, alert: BurnRateAlert, ctx: SliContext
) -> tuple[AlarmSpec, AlarmSpec] | None:
    window = alert.window
    if not window_supported(window.long):
        return None
    pair = f"{promql_duration(window.long)}{promql_duration(window.short)}"
    specs = []
    for role, length in (("long", window.long), ("short", window.short)):
        name = f"slo-{slo}-{pair}-{role}"
        summary = (
            f"SLO {slo}: error ratio over {promql_duration(length)} above {alert.threshold:.6g} "
            f"({alert.factor:.4g}x the budget); feeds slo-{slo}-{window.severity.value}."
        )
        if kind in (SliKind.QUALITY, SliKind.CONSISTENCY):
            specs.append(
                _ratio_alarm(
                    name,
                    summary,
                    slo=slo,
                    kind=kind,
                    threshold=alert.threshold,
                    window=length,
                    ctx=ctx,
                )
            )
        else:
            specs.append(
                _good_minutes_alarm(
                    name,
                    summary,
                    slo=slo,
                    kind=kind,
                    objective=objective,
                    threshold=alert.threshold,
                    window=length,
                    ctx=ctx,
                )
            )
    return specs[0], specs[1]


def _ratio_alarm(
    name: str,
    summary: str,
    *,
    slo: str,
    kind: SliKind,
    threshold: float,
    window: timedelta,
    ctx: SliContext,
) -> AlarmSpec:
    bad, total = (
        (RECORDS_REJECTED, RECORDS_VALIDATED)
        if kind is SliKind.QUALITY
        else (CONSISTENCY_MISMATCHES, CONSISTENCY_CHECKED)
    )
    period = int(window.total_seconds())
    dims = {"Environment": ctx.environment}
    return AlarmSpec(
        name=name,
        description=describe(summary, f"slo-{slo}.md"),
        runbook=f"slo-{slo}.md",
        severity=None,
        queries=(
            MetricQuery("bad", PLATFORM_NAMESPACE, bad, dims, "Sum", period),
            MetricQuery("total", PLATFORM_NAMESPACE, total, dims, "Sum", period),
            MetricQuery(
                "ratio",
                expression="IF(total > 0, bad / total, 0)",
                label=f"{slo} error ratio",
                return_data=True,
            ),
        ),
        comparison="GreaterThanThreshold",
        threshold=threshold,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        # No records in a window is no evidence of bad ones.
        treat_missing_data="notBreaching",
        tags={"slo": slo},
    )


def _good_minutes_alarm(
    name: str,
    summary: str,
    *,
    slo: str,
    kind: SliKind,
    objective: ObjectiveSettings,
    threshold: float,
    window: timedelta,
    ctx: SliContext,
) -> AlarmSpec:
    queries, comparison, bound, missing = _minute_series(kind, objective, ctx)
    minutes = int(window.total_seconds()) // MINUTE
    return AlarmSpec(
        name=name,
        description=describe(summary, f"slo-{slo}.md"),
        runbook=f"slo-{slo}.md",
        severity=None,
        queries=queries,
        comparison=comparison,
        threshold=bound,
        evaluation_periods=minutes,
        datapoints_to_alarm=bad_minutes_to_alarm(threshold, window),
        treat_missing_data=missing,
        tags={"slo": slo},
    )


def _minute_series(
    kind: SliKind, objective: ObjectiveSettings, ctx: SliContext
) -> tuple[tuple[MetricQuery, ...], str, float, str]:
    """(queries, comparison, bound, missing data) of the per-minute good/bad series."""
    if kind is SliKind.FRESHNESS and isinstance(objective, FreshnessObjective):
        lag = MetricQuery(
            "lag",
            "AWS/Kafka",
            "EstimatedMaxTimeLag",
            {
                "Cluster Name": ctx.kafka_cluster_name,
                "Consumer Group": MATERIALIZER_GROUP,
                "Topic": FEATURE_EVENTS_TOPIC,
            },
            "Maximum",
            MINUTE,
            label="materializer lag (s)",
            return_data=True,
        )
        # A minute without a lag datapoint is a materializer that is not consuming: bad.
        return (lag,), "GreaterThanThreshold", float(objective.max_lag_seconds), "breaching"
    if kind is SliKind.LATENCY and isinstance(objective, OnlineStoreLatencyObjective):
        nodes = _per_node("SuccessfulReadRequestLatency", "Average", ctx.cache_nodes)
        slowest = MetricQuery(
            "slowest",
            expression=f"MAX([{', '.join(q.id for q in nodes)}])",
            label="slowest node read latency (us)",
            return_data=True,
        )
        bound = float(objective.threshold_microseconds)
        # No reads in a minute is no slow read.
        return (*nodes, slowest), "GreaterThanThreshold", bound, "notBreaching"
    if kind is SliKind.AVAILABILITY:
        # A good minute: every shard reports a primary. A shard's primary count is the most
        # IsMaster of its nodes (a node that reports nothing counts as 0).
        nodes = _per_node("IsMaster", "Maximum", ctx.cache_nodes)
        by_id = dict(zip(ctx.cache_nodes, nodes, strict=True))
        shards = tuple(
            MetricQuery(
                f"shard{i}",
                expression=f"MAX([{', '.join(f'FILL({by_id[n].id}, 0)' for n in shard)}])",
            )
            for i, shard in enumerate(ctx.cache_nodes_by_shard, start=1)
        )
        worst = MetricQuery(
            "primaries",
            expression=f"MIN([{', '.join(s.id for s in shards)}])",
            label="shards with a primary (min)",
            return_data=True,
        )
        return (*nodes, *shards, worst), "LessThanThreshold", 1.0, "breaching"
    raise ValueError(f"no CloudWatch good-minutes SLI for kind {kind}")


def _per_node(metric: str, stat: str, nodes: tuple[str, ...]) -> tuple[MetricQuery, ...]:
    if len(nodes) > MAX_METRICS_PER_ALARM:
        raise ValueError(
            f"{len(nodes)} cache nodes; a metric-math alarm reads at most "
            f"{MAX_METRICS_PER_ALARM} metrics"
        )
    return tuple(
        MetricQuery(f"n{i}", "AWS/ElastiCache", metric, {"CacheClusterId": node}, stat, MINUTE)
        for i, node in enumerate(nodes, start=1)
    )
