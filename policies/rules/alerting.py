"""Alerting: every alarm reaches a person, through a topic only the platform can publish to,
and every stateful service and every SLO is watched.

All of these are stack policies: an alarm's meaning depends on other resources (a window
alarm is silent on purpose when a composite alarm names it; a topic's TLS rule lives in its
``TopicPolicy``; a cluster's health is judged by the alarms that read its metrics).

Alarms are linked by what CloudWatch links them by: a composite alarm's ``alarmRule`` names
metric alarms (``ALARM("<name>")``, or their ARN); a metric alarm reads a service's metrics
through ``metricQueries[].metric`` (or the single-metric ``namespace``/``metricName``/
``dimensions`` form), whose dimensions name the cluster, broker or cache node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ._base import (
    Config,
    PolicyResource,
    Severity,
    as_list,
    as_map,
    is_false,
    is_set,
    platform,
    resource_policy,
    stack_policy,
    statements,
)

Finding = tuple[str, str | None]

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
MSK_CLUSTER = "aws:msk/cluster:Cluster"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
RULE_GROUP_NAMESPACE = "aws:amp/ruleGroupNamespace:RuleGroupNamespace"

SLO_TAG = "slo"
SEVERITY_TAG = "severity"
WINDOW_SEVERITY = "window"
"""``severity`` of a window alarm: it only feeds a composite alarm."""

_RULE_REFERENCE = re.compile(
    r"\b(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:\"([^\"]+)\"|'([^']+)'|([^\s)]+))\s*\)"
)


def _of_type(resources: Iterable[PolicyResource], type_: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == type_]


def _label(resource: PolicyResource) -> str:
    return resource.urn.rsplit("::", 1)[-1]


def _tags(resource: PolicyResource) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_map(resource.props.get("tags")).items()}


def _has_actions(resource: PolicyResource) -> bool:
    return bool([a for a in as_list(resource.props.get("alarmActions")) if is_set(a)])


def referenced_alarms(rule: Any) -> set[str]:
    """Alarm names an ``alarmRule`` refers to (an ARN counts by its name)."""
    if not isinstance(rule, str):
        return set()
    names = set()
    for match in _RULE_REFERENCE.finditer(rule):
        name = next(group for group in match.groups() if group)
        names.add(name.split(":alarm:", 1)[-1] if name.startswith("arn:") else name)
    return names


# --- alarms-have-actions ---------------------------------------------------------------------


def _alarms_have_actions(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    composites = _of_type(resources, COMPOSITE_ALARM)
    fed = set().union(*(referenced_alarms(c.props.get("alarmRule")) for c in composites))
    for composite in composites:
        if not _has_actions(composite):
            yield "`alarmActions` is empty: the composite alarm notifies nobody", composite.urn
    for alarm in _of_type(resources, METRIC_ALARM):
        if _has_actions(alarm):
            continue
        name = alarm.props.get("name")
        if isinstance(name, str) and name in fed:
            continue  # a window alarm: the composite that names it notifies
        shown = repr(name) if isinstance(name, str) else "(unnamed)"
        yield (
            f"`alarmActions` is empty and no composite alarm's `alarmRule` names {shown}: "
            "the alarm changes state and notifies nobody",
            alarm.urn,
        )


stack_policy(
    "alarms-have-actions",
    description="Every CloudWatch alarm notifies someone: composite alarms and metric alarms "
    "have alarm actions, unless a metric alarm feeds a composite alarm that names it.",
    severity=Severity.HIGH,
    refs=(platform("ALERTS.ACTIONS"),),
    remediation="Set `alarm_actions=[<page or ticket topic>.arn]` (and `ok_actions`) on the "
    "`aws.cloudwatch.MetricAlarm` or `aws.cloudwatch.CompositeAlarm`; a window alarm without "
    'actions must be named in a composite alarm\'s `alarm_rule` (`ALARM("<name>")`), as '
    "`components/observability` builds them.",
    check=_alarms_have_actions,
)


# --- sns-topic-policy-tls-only ---------------------------------------------------------------

PUBLISH_ACTIONS = frozenset({"sns:publish", "sns:*", "*"})


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def _insecure_transport(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    for operator, block in condition.items():
        if str(operator).lower() != "bool" or not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            if str(key).lower() == "aws:securetransport" and any(
                is_false(v) for v in as_list(value)
            ):
                return True
    return False


def denies_plain_publish(policy: Any) -> bool:
    """The topic policy denies ``sns:Publish`` to everyone without TLS."""
    return any(
        s.get("Effect") == "Deny"
        and _everyone(s.get("Principal"))
        and bool({str(a).lower() for a in as_list(s.get("Action"))} & PUBLISH_ACTIONS)
        and _insecure_transport(s)
        for s in statements(policy)
    )


def _policies_of(topic: PolicyResource, policies: Sequence[PolicyResource]) -> list[Any]:
    """The topic's policy documents: its inline ``policy`` and every TopicPolicy whose ``arn``
    depends on it (or, without such a link, holds its ARN)."""
    documents = [topic.props["policy"]] if is_set(topic.props.get("policy")) else []
    arn = topic.props.get("arn")
    for policy in policies:
        linked = {d.urn for d in policy.property_dependencies.get("arn") or []}
        if topic.urn in linked or (is_set(arn) and policy.props.get("arn") == arn):
            documents.append(policy.props.get("policy"))
    return documents


def _topic_tls_only(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    policies = _of_type(resources, TOPIC_POLICY)
    for topic in _of_type(resources, TOPIC):
        documents = _policies_of(topic, policies)
        if not documents:
            yield (
                "no `policy` and no TopicPolicy's `arn` depends on this topic: publishes "
                "without TLS are not denied",
                topic.urn,
            )
        elif not any(denies_plain_publish(d) for d in documents):
            yield (
                'the topic policy has no Deny of `sns:Publish` to Principal "*" with condition '
                '`Bool` `aws:SecureTransport` = "false"',
                topic.urn,
            )


stack_policy(
    "sns-topic-policy-tls-only",
    description="SNS topics have a policy that denies publishing without TLS.",
    severity=Severity.HIGH,
    refs=(platform("ALERTS.TOPICS_ENCRYPTED"),),
    remediation="Attach an `aws.sns.TopicPolicy(arn=<topic>.arn, policy=...)` with a statement "
    '`{"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": <topic arn>, '
    '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}` (as '
    "`components/observability/topics.py` does). At rest, `sns-topic-kms` judges the key.",
    check=_topic_tls_only,
)


# --- stateful-services-health-alarms ---------------------------------------------------------

KAFKA = "AWS/Kafka"
ELASTICACHE = "AWS/ElastiCache"
KAFKA_CLUSTER_METRICS = ("OfflinePartitionsCount", "ActiveControllerCount")
"""Cluster-level MSK metrics (dimension ``Cluster Name``)."""
KAFKA_BROKER_METRICS = ("UnderReplicatedPartitions", "KafkaDataLogsDiskUsed")
"""Per-broker MSK metrics (``Cluster Name`` and ``Broker ID``): every broker is watched."""
CACHE_NODE_METRICS = (
    "EngineCPUUtilization",
    "DatabaseMemoryUsagePercentage",
    "Evictions",
    "CurrConnections",
)
CACHE_REPLICA_METRICS = ("ReplicationLag",)
"""Needed only when the group has replicas (a lone primary replicates to nobody)."""


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, str]


def alarm_metrics(props: Mapping[str, Any]) -> list[Metric]:
    """Every metric an alarm reads: its ``metricQueries[].metric`` or its single metric."""
    found = []
    queries = [as_map(q).get("metric") for q in as_list(props.get("metricQueries"))]
    single = {k: props.get(k) for k in ("namespace", "metricName", "dimensions")}
    for shape in (*queries, single):
        metric = as_map(shape)
        if isinstance(metric.get("namespace"), str) and isinstance(metric.get("metricName"), str):
            dimensions = {str(k): str(v) for k, v in as_map(metric.get("dimensions")).items()}
            found.append(Metric(metric["namespace"], metric["metricName"], dimensions))
    return found


def _count(value: Any, default: int) -> int:
    return (
        int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def _watched(metrics: Iterable[Metric], namespace: str, name: str, key: str) -> set[str]:
    """Values of dimension ``key`` in the metrics of ``namespace``/``name``."""
    return {
        m.dimensions[key]
        for m in metrics
        if (m.namespace, m.name) == (namespace, name)
        if key in m.dimensions
    }


def _kafka_gaps(cluster: PolicyResource, metrics: Sequence[Metric]) -> Iterator[str]:
    name = cluster.props.get("clusterName")
    if not isinstance(name, str) or not name:
        yield "`clusterName` is not set: no alarm can name the cluster"
        return
    own = [m for m in metrics if m.dimensions.get("Cluster Name") == name]
    for metric in KAFKA_CLUSTER_METRICS:
        if not any((m.namespace, m.name) == (KAFKA, metric) for m in own):
            yield f"no alarm reads {KAFKA} {metric} of cluster {name!r}"
    brokers = {str(b) for b in range(1, _count(cluster.props.get("numberOfBrokerNodes"), 1) + 1)}
    for metric in KAFKA_BROKER_METRICS:
        watched = _watched(own, KAFKA, metric, "Broker ID")
        if not watched:
            yield f"no alarm reads {KAFKA} {metric} of cluster {name!r}"
        elif missing := sorted(brokers - watched, key=int):
            yield f"no alarm reads {KAFKA} {metric} of broker(s) {', '.join(missing)} of {name!r}"


def cache_nodes(props: Mapping[str, Any]) -> tuple[set[str], bool]:
    """(node ids ElastiCache gives the group's members, whether it has replicas)."""
    group = str(props.get("replicationGroupId") or "")
    sharded = props.get("clusterMode") in ("enabled", "compatible") or props.get(
        "numNodeGroups"
    ) not in (None, 0)
    if sharded:
        shards = _count(props.get("numNodeGroups"), 1)
        per_shard = _count(props.get("replicasPerNodeGroup"), 0) + 1
        nodes = {
            f"{group}-{s:04d}-{n:03d}"
            for s in range(1, shards + 1)
            for n in range(1, per_shard + 1)
        }
        return nodes, per_shard > 1
    count = _count(props.get("numCacheClusters"), 1)
    return {f"{group}-{n:03d}" for n in range(1, count + 1)}, count > 1


def _cache_gaps(group: PolicyResource, metrics: Sequence[Metric]) -> Iterator[str]:
    name = group.props.get("replicationGroupId")
    if not isinstance(name, str) or not name:
        yield "`replicationGroupId` is not set: no alarm can name its nodes"
        return
    nodes, replicas = cache_nodes(group.props)
    required = CACHE_NODE_METRICS + (CACHE_REPLICA_METRICS if replicas else ())
    for metric in required:
        watched = _watched(metrics, ELASTICACHE, metric, "CacheClusterId") & nodes
        if not watched:
            yield f"no alarm reads {ELASTICACHE} {metric} of a node of {name!r}"
        elif missing := sorted(nodes - watched):
            yield f"no alarm reads {ELASTICACHE} {metric} of node(s) {', '.join(missing)}"


def _health_alarms(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    metrics = [m for a in _of_type(resources, METRIC_ALARM) for m in alarm_metrics(a.props)]
    for cluster in _of_type(resources, MSK_CLUSTER):
        for problem in _kafka_gaps(cluster, metrics):
            yield problem, cluster.urn
    for group in _of_type(resources, REPLICATION_GROUP):
        for problem in _cache_gaps(group, metrics):
            yield problem, group.urn


stack_policy(
    "stateful-services-health-alarms",
    description="MSK clusters and ElastiCache replication groups have a CloudWatch alarm on "
    "each of their health metrics, covering every broker and node.",
    severity=Severity.MEDIUM,
    refs=(platform("ALERTS.HEALTH"),),
    remediation="Add `aws.cloudwatch.MetricAlarm`s reading, for each MSK cluster, AWS/Kafka "
    "OfflinePartitionsCount and ActiveControllerCount (`Cluster Name`) and "
    "UnderReplicatedPartitions and KafkaDataLogsDiskUsed of every `Broker ID`; for each "
    "replication group, AWS/ElastiCache EngineCPUUtilization, DatabaseMemoryUsagePercentage, "
    "Evictions, CurrConnections (and ReplicationLag with replicas) of every `CacheClusterId` "
    "(`components/observability/health.py` builds them from the config).",
    check=_health_alarms,
)


# --- slo-burn-rate-alarms --------------------------------------------------------------------


def _slo_burn_rate_alarms(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    alerting = {
        _tags(c).get(SLO_TAG)
        for c in _of_type(resources, COMPOSITE_ALARM)
        if _has_actions(c) and _tags(c).get(SLO_TAG)
    }
    for alarm in _of_type(resources, METRIC_ALARM):
        slo = _tags(alarm).get(SLO_TAG)
        if slo and slo not in alerting:
            yield (
                f"SLO {slo!r} has window alarms but no composite alarm tagged slo={slo} with "
                "`alarmActions`: its budget can burn without an alert",
                alarm.urn,
            )


stack_policy(
    "slo-burn-rate-alarms",
    description="Every SLO with CloudWatch window alarms has a composite burn-rate alarm "
    "(tagged with the SLO) that notifies.",
    severity=Severity.HIGH,
    refs=(platform("ALERTS.SLO_BURN"),),
    remediation="For each `slo` tag on window alarms, add an `aws.cloudwatch.CompositeAlarm` "
    "tagged `slo=<name>` whose `alarm_rule` joins the window pairs and whose `alarm_actions` "
    "name the page or ticket topic (`components/observability/slo_alarms.py`).",
    check=_slo_burn_rate_alarms,
)


# --- slo-burn-rate-rules ---------------------------------------------------------------------

OBJECTIVE_RECORD = "slo:objective:ratio"


def rule_file_gaps(data: Any) -> list[str]:
    """Problems of a Prometheus rule file: SLOs with an objective and no alert labelled
    with them (an empty list: every SLO alerts)."""
    if not isinstance(data, str) or not data.strip():
        return ["`data` is empty: no rules"]
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        return [f"`data` is not YAML: {str(exc).splitlines()[0]}"]
    rules = [
        as_map(rule)
        for group in as_list(as_map(document).get("groups"))
        for rule in as_list(as_map(group).get("rules"))
    ]
    objectives = {
        str(as_map(r.get("labels")).get(SLO_TAG))
        for r in rules
        if r.get("record") == OBJECTIVE_RECORD and as_map(r.get("labels")).get(SLO_TAG)
    }
    alerted = {str(as_map(r.get("labels")).get(SLO_TAG)) for r in rules if r.get("alert")}
    return [
        f"SLO {slo!r} records `{OBJECTIVE_RECORD}` but no alert rule is labelled slo={slo}"
        for slo in sorted(objectives - alerted)
    ]


def _slo_burn_rate_rules(props: Mapping[str, Any], config: Config) -> Iterator[str]:
    yield from rule_file_gaps(props.get("data"))


resource_policy(
    "slo-burn-rate-rules",
    description="In managed Prometheus rule group namespaces, every SLO with an objective "
    "(`slo:objective:ratio`) has a burn-rate alert rule labelled with it.",
    severity=Severity.HIGH,
    refs=(platform("ALERTS.SLO_BURN"),),
    remediation="Add an alert rule (`alert: <Slo>BudgetBurn`, labels `slo: <name>` and "
    "`severity: page|ticket`) for the SLO to the namespace's `data`; "
    "`components/slos/prometheus.py::rules_yaml` writes one per severity the SLO declares.",
    types=(RULE_GROUP_NAMESPACE,),
    check=_slo_burn_rate_rules,
)
