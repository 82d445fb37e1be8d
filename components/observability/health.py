"""Resource health alarms: what breaks the SLOs first, one alarm per failure mode.

Per-broker and per-node metrics are read with one metric each and reduced with metric math
(``MAX``/``SUM`` over the members), so one alarm covers the whole cluster and names the
worst member's value. Thresholds come from ``feature-platform:alerting.health``
(:mod:`components.config.alerting`); periods and the minutes a condition must last are
fixed here, each with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.config.alerting import HealthThresholds
from components.observability.slo_alarms import (
    CONSISTENCY_CHECKED,
    MAX_METRICS_PER_ALARM,
    MINUTE,
    RECORDS_VALIDATED,
)
from components.observability.specs import (
    PLATFORM_NAMESPACE,
    AlarmSpec,
    MetricQuery,
    describe,
)
from components.slos.burn_rate import Severity

FIVE_MINUTES = 300


@dataclass(frozen=True)
class HealthContext:
    """The members whose metrics the health alarms read."""

    kafka_cluster_name: str
    broker_count: int
    cache_nodes: tuple[str, ...]
    cache_replicas: bool
    nat_gateway_ids: Sequence[pulumi.Input[str]]
    rotation_function_name: pulumi.Input[str]
    environment: str
    """The ``Environment`` dimension of the platform's custom metrics."""


def health_alarm_specs(thresholds: HealthThresholds, ctx: HealthContext) -> tuple[AlarmSpec, ...]:
    """Every health alarm of the environment: MSK, ElastiCache, NAT, the rotation function."""
    return (
        *_kafka(thresholds, ctx),
        *_cache(thresholds, ctx),
        *_nat(thresholds, ctx),
        _rotation_errors(ctx),
        *_silent_slis(ctx),
    )


def _alarm(
    name: str,
    summary: str,
    severity: Severity,
    queries: tuple[MetricQuery, ...],
    *,
    threshold: float,
    comparison: str = "GreaterThanThreshold",
    minutes: int = 1,
    missing: str = "notBreaching",
) -> AlarmSpec:
    runbook = f"health-{name}.md"
    period = next(q.period for q in queries if not q.is_expression)
    periods = max(1, minutes * MINUTE // period)
    return AlarmSpec(
        name=f"health-{name}",
        description=describe(summary, runbook),
        runbook=runbook,
        severity=severity,
        queries=queries,
        comparison=comparison,
        threshold=threshold,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing_data=missing,
        tags={"component": name.split("-", maxsplit=1)[0]},
    )


def _members(
    namespace: str,
    metric: str,
    stat: str,
    dimensions: Sequence[Mapping[str, pulumi.Input[str]]],
    *,
    reduce: str,
    label: str,
    period: int = MINUTE,
) -> tuple[MetricQuery, ...]:
    """One metric per member and ``reduce([...])`` over them, the query that returns data."""
    if len(dimensions) > MAX_METRICS_PER_ALARM:
        raise ValueError(
            f"{len(dimensions)} members of {metric}; a metric-math alarm reads at most "
            f"{MAX_METRICS_PER_ALARM} metrics"
        )
    metrics = tuple(
        MetricQuery(f"m{i}", namespace, metric, dims, stat, period)
        for i, dims in enumerate(dimensions, start=1)
    )
    # FILL: a member that reports nothing must not blank out the others.
    expression = f"{reduce}([{', '.join(f'FILL({q.id}, 0)' for q in metrics)}])"
    return (*metrics, MetricQuery("worst", expression=expression, label=label, return_data=True))


def _kafka(t: HealthThresholds, ctx: HealthContext) -> tuple[AlarmSpec, ...]:
    cluster = {"Cluster Name": ctx.kafka_cluster_name}
    brokers = [{**cluster, "Broker ID": str(b)} for b in range(1, ctx.broker_count + 1)]
    return (
        _alarm(
            "kafka-offline-partitions",
            "MSK: partitions without an active leader; producers and the materializer stall.",
            Severity.PAGE,
            (
                MetricQuery(
                    "m1",
                    "AWS/Kafka",
                    "OfflinePartitionsCount",
                    cluster,
                    "Maximum",
                    MINUTE,
                    return_data=True,
                ),
            ),
            threshold=0,
            minutes=1,
        ),
        _alarm(
            "kafka-active-controller",
            "MSK: the cluster does not have exactly one active controller.",
            Severity.PAGE,
            (
                MetricQuery("m1", "AWS/Kafka", "ActiveControllerCount", cluster, "Sum", MINUTE),
                MetricQuery(
                    "off",
                    expression="ABS(FILL(m1, 0) - 1)",
                    label="controllers away from 1",
                    return_data=True,
                ),
            ),
            threshold=0,
            minutes=5,
            missing="breaching",
        ),
        _alarm(
            "kafka-under-replicated",
            "MSK: partitions below their replication factor for 15 minutes (longer than a "
            "rolling patch takes per broker).",
            Severity.TICKET,
            _members(
                "AWS/Kafka",
                "UnderReplicatedPartitions",
                "Maximum",
                brokers,
                reduce="SUM",
                label="under-replicated partitions",
            ),
            threshold=0,
            minutes=15,
        ),
        _alarm(
            "kafka-disk-used",
            f"MSK: a broker's data volume is over {t.kafka_disk_used_percent:g} % used.",
            Severity.TICKET,
            _members(
                "AWS/Kafka",
                "KafkaDataLogsDiskUsed",
                "Maximum",
                brokers,
                reduce="MAX",
                label="fullest broker (%)",
            ),
            threshold=t.kafka_disk_used_percent,
            minutes=15,
        ),
    )


def _cache(t: HealthThresholds, ctx: HealthContext) -> tuple[AlarmSpec, ...]:
    nodes = [{"CacheClusterId": node} for node in ctx.cache_nodes]
    alarms = [
        _alarm(
            "cache-engine-cpu",
            f"Online store: a node's engine thread is over {t.cache_engine_cpu_percent:g} % busy.",
            Severity.TICKET,
            _members(
                "AWS/ElastiCache",
                "EngineCPUUtilization",
                "Average",
                nodes,
                reduce="MAX",
                label="busiest node (%)",
            ),
            threshold=t.cache_engine_cpu_percent,
            minutes=15,
        ),
        _alarm(
            "cache-memory",
            f"Online store: a node's memory is over {t.cache_memory_percent:g} % used.",
            Severity.TICKET,
            _members(
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                "Maximum",
                nodes,
                reduce="MAX",
                label="fullest node (%)",
            ),
            threshold=t.cache_memory_percent,
            minutes=15,
        ),
        _alarm(
            "cache-evictions",
            f"Online store: more than {t.cache_evictions} keys evicted in 5 minutes; an "
            "evicted feature is served as missing.",
            Severity.TICKET,
            _members(
                "AWS/ElastiCache",
                "Evictions",
                "Sum",
                nodes,
                reduce="SUM",
                label="evictions",
                period=FIVE_MINUTES,
            ),
            threshold=t.cache_evictions,
            minutes=5,
        ),
        _alarm(
            "cache-connections",
            f"Online store: a node holds more than {t.cache_connections} connections.",
            Severity.TICKET,
            _members(
                "AWS/ElastiCache",
                "CurrConnections",
                "Maximum",
                nodes,
                reduce="MAX",
                label="most connections on a node",
            ),
            threshold=t.cache_connections,
            minutes=5,
        ),
    ]
    if ctx.cache_replicas:
        alarms.append(
            _alarm(
                "cache-replication-lag",
                f"Online store: a replica lags its primary by over "
                f"{t.cache_replication_lag_seconds:g} s; a failover would lose writes.",
                Severity.TICKET,
                _members(
                    "AWS/ElastiCache",
                    "ReplicationLag",
                    "Maximum",
                    nodes,
                    reduce="MAX",
                    label="most lagging replica (s)",
                ),
                threshold=t.cache_replication_lag_seconds,
                minutes=5,
            )
        )
    return tuple(alarms)


def _nat(t: HealthThresholds, ctx: HealthContext) -> tuple[AlarmSpec, ...]:
    gateways = [{"NatGatewayId": gateway} for gateway in ctx.nat_gateway_ids]
    return (
        _alarm(
            "nat-port-allocation",
            f"NAT: more than {t.nat_port_allocation_errors} connections refused a source port "
            "in 5 minutes; workloads lose connections to AWS APIs outside the VPC endpoints.",
            Severity.TICKET,
            _members(
                "AWS/NATGateway",
                "ErrorPortAllocation",
                "Sum",
                gateways,
                reduce="SUM",
                label="port allocation errors",
                period=FIVE_MINUTES,
            ),
            threshold=t.nat_port_allocation_errors,
            minutes=5,
        ),
    )


def _rotation_errors(ctx: HealthContext) -> AlarmSpec:
    return _alarm(
        "rotation-errors",
        "The online-store password rotation function failed; Secrets Manager retries, and "
        "the new password stays AWSPENDING until a rotation completes.",
        Severity.TICKET,
        (
            MetricQuery(
                "m1",
                "AWS/Lambda",
                "Errors",
                {"FunctionName": ctx.rotation_function_name},
                "Sum",
                FIVE_MINUTES,
                return_data=True,
            ),
        ),
        threshold=0,
        minutes=5,
    )


SILENCE_PERIOD = 900
"""A quarter hour: three runs of the probe (every 5 minutes) or minutes of materialization."""


def _silent_slis(ctx: HealthContext) -> tuple[AlarmSpec, ...]:
    """The event-ratio SLOs treat a window without records as no evidence (not breaching), so
    a publisher that stops would leave them green: these alarms say when one has gone quiet."""
    dims = {"Environment": ctx.environment}
    return tuple(
        _alarm(
            name,
            f"No {metric} published for 30 minutes: the {slo} SLO is blind until it is.",
            Severity.TICKET,
            (
                MetricQuery(
                    "m1",
                    PLATFORM_NAMESPACE,
                    metric,
                    dims,
                    "SampleCount",
                    SILENCE_PERIOD,
                    return_data=True,
                ),
            ),
            threshold=1,
            comparison="LessThanThreshold",
            minutes=30,
            missing="breaching",
        )
        for name, metric, slo in (
            ("quality-silent", RECORDS_VALIDATED, "data-quality"),
            ("probe-silent", CONSISTENCY_CHECKED, "consistency"),
        )
    )
