"""Alerting checks: alarms notify, alert topics are encrypted and TLS-only, the stateful
services have their health alarms, every SLO has a burn-rate alert.

The live counterparts of the pack's alerting policies (``policies/rules/alerting.py``); the
metric lists are the pack's (a test keeps them equal: the pack cannot import the program).

Composite alarms are read with ``DescribeAlarms(AlarmTypes=["CompositeAlarm"])``. An endpoint
that cannot answer that (moto before its composite-alarm model, which raises
``NotImplementedError`` in-process and ``NotImplemented`` over HTTP) leaves every verdict that
depends on composites "not checked": a window alarm is silent by design only when a composite
names it, so without the composites nothing proves it is fed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from botocore.exceptions import ClientError

from blueprint.audit.model import (
    AuditContext,
    Finding,
    Status,
    check,
    customer_managed,
    error_code,
    tag_dict,
    verdict,
)
from policies.rules.alerting import (  # the pack's lists: one definition, two judges
    CACHE_NODE_METRICS,
    CACHE_REPLICA_METRICS,
    ELASTICACHE,
    KAFKA,
    KAFKA_BROKER_METRICS,
    KAFKA_CLUSTER_METRICS,
    OBJECTIVE_RECORD,
    SLO_TAG,
    referenced_alarms,
)

NOT_IMPLEMENTED = frozenset({"NotImplemented", "InvalidAction", "UnsupportedOperation"})
"""Error codes of an endpoint that does not know an operation (moto's server, LocalStack)."""


ALARM_PERMISSIONS = ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource")


class CompositesUnreadableError(Exception):
    """The endpoint cannot list composite alarms."""


# --- reading alarms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, str]


@dataclass(frozen=True)
class Alarm:
    name: str
    arn: str
    tags: dict[str, str]
    actions: tuple[str, ...]
    """Alarm actions, empty when there are none or actions are disabled."""
    rule: str = ""
    metrics: tuple[Metric, ...] = field(default=())


def _actions(alarm: Mapping[str, Any]) -> tuple[str, ...]:
    if alarm.get("ActionsEnabled") is False:
        return ()
    return tuple(str(a) for a in alarm.get("AlarmActions") or [] if a)


def _metrics(alarm: Mapping[str, Any]) -> tuple[Metric, ...]:
    shapes = [q.get("MetricStat", {}).get("Metric", {}) for q in alarm.get("Metrics") or []]
    shapes.append(alarm)  # the single-metric form: Namespace, MetricName, Dimensions
    return tuple(
        Metric(m["Namespace"], m["MetricName"], tag_dict(m.get("Dimensions"), "Name", "Value"))
        for m in shapes
        if m.get("Namespace") and m.get("MetricName")
    )


def _alarms(ctx: AuditContext, kind: str) -> list[Alarm]:
    """In-scope alarms of ``kind`` (``MetricAlarm`` or ``CompositeAlarm``)."""
    cloudwatch = ctx.client("cloudwatch")
    found = []
    key = f"{kind}s"
    # Read only the requested kind's list: moto ignores AlarmTypes and fills both.
    for alarm in ctx.pages("cloudwatch", "describe_alarms", key, AlarmTypes=[kind]):
        arn = alarm["AlarmArn"]
        tags = tag_dict(cloudwatch.list_tags_for_resource(ResourceARN=arn).get("Tags"))
        if not ctx.in_scope(tags):
            continue
        found.append(
            Alarm(
                name=alarm["AlarmName"],
                arn=arn,
                tags=tags,
                actions=_actions(alarm),
                rule=str(alarm.get("AlarmRule") or ""),
                metrics=_metrics(alarm),
            )
        )
    return found


def _composites(ctx: AuditContext) -> list[Alarm]:
    try:
        return _alarms(ctx, "CompositeAlarm")
    except NotImplementedError as exc:  # moto in-process
        raise CompositesUnreadableError(str(exc) or "not implemented") from exc
    except ClientError as exc:
        if error_code(exc) in NOT_IMPLEMENTED:
            raise CompositesUnreadableError(f"{error_code(exc)}: {exc}") from exc
        raise


def _unreadable(check_id: str, exc: CompositesUnreadableError, what: str) -> Finding:
    return Finding(
        check_id,
        "*",
        Status.NOT_CHECKED,
        f"composite alarms could not be read (DescribeAlarms AlarmTypes=CompositeAlarm: "
        f"{exc}); {what}",
    )


# --- ALERTS.ACTIONS ------------------------------------------------------------------------------


@check(
    "ALERTS.ACTIONS",
    "Alarms notify: alarm actions, or (window alarms) named by a composite alarm that has them",
    service="cloudwatch",
    permissions=ALARM_PERMISSIONS,
    types=(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/compositeAlarm:CompositeAlarm",
    ),
)
def alarm_actions(ctx: AuditContext) -> Iterable[Finding]:
    check_id = "ALERTS.ACTIONS"
    metric_alarms = _alarms(ctx, "MetricAlarm")
    try:
        composites = _composites(ctx)
    except CompositesUnreadableError as exc:
        yield _unreadable(check_id, exc, "alarms without actions are not judged")
        for alarm in metric_alarms:
            if alarm.actions:
                yield verdict(check_id, alarm.arn, [])
            else:
                detail = "no alarm actions; whether a composite alarm names it is unknown"
                yield Finding(check_id, alarm.arn, Status.NOT_CHECKED, detail)
        return
    feeding: dict[str, list[str]] = {}
    for composite in composites:
        for name in referenced_alarms(composite.rule):
            feeding.setdefault(name, []).append(composite.name)
        problems = [] if composite.actions else ["composite alarm without alarm actions"]
        yield verdict(check_id, composite.arn, problems)
    for alarm in metric_alarms:
        if alarm.actions:
            yield verdict(check_id, alarm.arn, [])
        elif alarm.name in feeding:
            detail = f"window alarm of {', '.join(sorted(feeding[alarm.name]))}"
            yield Finding(check_id, alarm.arn, Status.PASS, detail)
        else:
            yield verdict(check_id, alarm.arn, ["no alarm actions and no composite alarm names it"])


# --- ALERTS.TOPICS_ENCRYPTED --------------------------------------------------------------------

PUBLISH_ACTIONS = frozenset({"sns:publish", "sns:*", "*"})


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _insecure_transport(statement: Mapping[str, Any]) -> bool:
    for operator, block in (statement.get("Condition") or {}).items():
        if operator.lower() != "bool" or not isinstance(block, dict):
            continue
        for key, value in block.items():
            if key.lower() == "aws:securetransport" and any(
                str(v).lower() == "false" for v in _as_list(value)
            ):
                return True
    return False


def denies_plain_publish(policy: str | None) -> bool:
    """The topic policy denies ``sns:Publish`` to everyone without TLS."""
    try:
        document = json.loads(policy or "{}")
    except ValueError:
        return False
    for statement in _as_list(document.get("Statement")):
        principal = statement.get("Principal")
        everyone = principal == "*" or (
            isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))
        )
        actions = {str(a).lower() for a in _as_list(statement.get("Action"))}
        if (
            statement.get("Effect") == "Deny"
            and everyone
            and actions & PUBLISH_ACTIONS
            and _insecure_transport(statement)
        ):
            return True
    return False


@check(
    "ALERTS.TOPICS_ENCRYPTED",
    "SNS topics: encrypted with a customer-managed key, policy denies publishing without TLS",
    service="sns",
    permissions=(
        "sns:ListTopics",
        "sns:ListTagsForResource",
        "sns:GetTopicAttributes",
        "kms:DescribeKey",
    ),
    types=("aws:sns/topic:Topic",),
)
def alert_topics(ctx: AuditContext) -> Iterable[Finding]:
    sns = ctx.client("sns")
    for topic in ctx.pages("sns", "list_topics", "Topics"):
        arn = topic["TopicArn"]
        tags = tag_dict(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))
        if not ctx.in_scope(tags):
            continue
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        problems = []
        key = attributes.get("KmsMasterKeyId")
        if not key:
            problems.append("not encrypted at rest")
        elif key.startswith("alias/aws/") or not customer_managed(ctx, key):
            problems.append(f"encrypted with the AWS-managed key {key}")
        if not denies_plain_publish(attributes.get("Policy")):
            problems.append("policy does not deny sns:Publish without TLS")
        yield verdict("ALERTS.TOPICS_ENCRYPTED", arn, problems)


# --- ALERTS.HEALTH -------------------------------------------------------------------------------


def _watched(metrics: Iterable[Metric], namespace: str, name: str, key: str) -> set[str]:
    return {
        m.dimensions[key]
        for m in metrics
        if (m.namespace, m.name) == (namespace, name) and key in m.dimensions
    }


def kafka_gaps(cluster: Mapping[str, Any], metrics: Sequence[Metric]) -> list[str]:
    name = cluster["ClusterName"]
    own = [m for m in metrics if m.dimensions.get("Cluster Name") == name]
    problems = [
        f"no alarm on {KAFKA} {metric}"
        for metric in KAFKA_CLUSTER_METRICS
        if not _watched(own, KAFKA, metric, "Cluster Name")
    ]
    brokers = {str(b) for b in range(1, int(cluster.get("NumberOfBrokerNodes") or 1) + 1)}
    for metric in KAFKA_BROKER_METRICS:
        watched = _watched(own, KAFKA, metric, "Broker ID")
        if not watched:
            problems.append(f"no alarm on {KAFKA} {metric}")
        elif missing := sorted(brokers - watched, key=int):
            problems.append(f"no alarm on {KAFKA} {metric} of broker {', '.join(missing)}")
    return problems


def cache_gaps(group: Mapping[str, Any], metrics: Sequence[Metric]) -> list[str]:
    nodes = set(group.get("MemberClusters") or [])
    replicas = any(len(g.get("NodeGroupMembers") or []) > 1 for g in group.get("NodeGroups") or [])
    required = CACHE_NODE_METRICS + (CACHE_REPLICA_METRICS if replicas else ())
    problems = []
    for metric in required:
        watched = _watched(metrics, ELASTICACHE, metric, "CacheClusterId") & nodes
        if not watched:
            problems.append(f"no alarm on {ELASTICACHE} {metric}")
        elif missing := sorted(nodes - watched):
            problems.append(f"no alarm on {ELASTICACHE} {metric} of {', '.join(missing)}")
    return problems


@check(
    "ALERTS.HEALTH",
    "MSK clusters and replication groups have alarms on each health metric, every broker and node",
    service="kafka, elasticache",
    permissions=(
        *ALARM_PERMISSIONS,
        "kafka:ListClusters",
        "kafka:DescribeCluster",
        "elasticache:DescribeReplicationGroups",
        "elasticache:ListTagsForResource",
    ),
    types=("aws:msk/cluster:Cluster", "aws:elasticache/replicationGroup:ReplicationGroup"),
)
def health_alarms(ctx: AuditContext) -> Iterable[Finding]:
    kafka = ctx.client("kafka")
    # DescribeCluster, not the listing: moto's ListClusters leaves out the tags.
    described = (
        kafka.describe_cluster(ClusterArn=summary["ClusterArn"])["ClusterInfo"]
        for summary in ctx.pages("kafka", "list_clusters", "ClusterInfoList")
    )
    clusters = [info for info in described if ctx.in_scope(info.get("Tags", {}))]
    elasticache = ctx.client("elasticache")
    groups = [
        group
        for group in ctx.pages("elasticache", "describe_replication_groups", "ReplicationGroups")
        if ctx.in_scope(
            tag_dict(elasticache.list_tags_for_resource(ResourceName=group["ARN"]).get("TagList"))
        )
    ]
    if not (clusters or groups):
        return
    metrics = [m for alarm in _alarms(ctx, "MetricAlarm") for m in alarm.metrics]
    for cluster in clusters:
        yield verdict("ALERTS.HEALTH", cluster["ClusterArn"], kafka_gaps(cluster, metrics))
    for group in groups:
        yield verdict("ALERTS.HEALTH", group["ARN"], cache_gaps(group, metrics))


# --- ALERTS.SLO_BURN -----------------------------------------------------------------------------


def rule_file_slos(data: bytes | str) -> tuple[set[str], set[str]]:
    """(SLOs with an objective recorded, SLOs with an alert rule) of a Prometheus rule file."""
    text = data.decode() if isinstance(data, bytes) else data
    document = yaml.safe_load(text) or {}
    rules = [
        rule
        for group in (document.get("groups") or [] if isinstance(document, dict) else [])
        for rule in (group.get("rules") or [] if isinstance(group, dict) else [])
        if isinstance(rule, dict)
    ]

    def slo(rule: dict[str, Any]) -> str:
        labels = rule.get("labels")
        return str(labels.get(SLO_TAG) or "") if isinstance(labels, dict) else ""

    objectives = {slo(r) for r in rules if r.get("record") == OBJECTIVE_RECORD} - {""}
    alerted = {slo(r) for r in rules if r.get("alert")} - {""}
    return objectives, alerted


def _workspace_verdict(ctx: AuditContext, workspace: Mapping[str, Any]) -> Finding:
    amp = ctx.client("amp")
    workspace_id = workspace["workspaceId"]
    objectives: set[str] = set()
    alerted: set[str] = set()
    problems: list[str] = []
    names = [
        ns["name"]
        for ns in ctx.pages(
            "amp", "list_rule_groups_namespaces", "ruleGroupsNamespaces", workspaceId=workspace_id
        )
    ]
    for name in names:
        data = amp.describe_rule_groups_namespace(workspaceId=workspace_id, name=name)[
            "ruleGroupsNamespace"
        ]["data"]
        try:
            recorded, alerts = rule_file_slos(data)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"namespace {name} is not a rule file: {str(exc).splitlines()[0]}")
            continue
        objectives |= recorded
        alerted |= alerts
    if not names:
        problems.append("no rule group namespace")
    elif not objectives and not problems:
        # Every environment's workspace carries the serving SLOs' rules; none means the rules
        # were never loaded (or replaced), not that there is nothing to alert on.
        problems.append(f"no namespace records an SLO objective ({OBJECTIVE_RECORD})")
    problems += [
        f"SLO {slo} has an objective and no alert rule labelled slo={slo}"
        for slo in sorted(objectives - alerted)
    ]
    return verdict("ALERTS.SLO_BURN", workspace["arn"], problems)


@check(
    "ALERTS.SLO_BURN",
    "Every SLO alerts: window alarms' SLOs have a composite alarm with actions; the "
    "Prometheus workspace has an alert rule per SLO objective",
    service="cloudwatch, aps",
    permissions=(
        *ALARM_PERMISSIONS,
        "aps:ListWorkspaces",
        "aps:ListRuleGroupsNamespaces",
        "aps:DescribeRuleGroupsNamespace",
    ),
    types=("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:amp/workspace:Workspace"),
)
def slo_burn(ctx: AuditContext) -> Iterator[Finding]:
    check_id = "ALERTS.SLO_BURN"
    windows = [a for a in _alarms(ctx, "MetricAlarm") if a.tags.get(SLO_TAG)]
    if windows:
        try:
            composites = _composites(ctx)
        except CompositesUnreadableError as exc:
            yield _unreadable(check_id, exc, "no SLO's burn-rate alarm is judged")
        else:
            alerting: dict[str, list[str]] = {}
            for composite in composites:
                if composite.actions and composite.tags.get(SLO_TAG):
                    alerting.setdefault(composite.tags[SLO_TAG], []).append(composite.name)
            for alarm in windows:
                slo = alarm.tags[SLO_TAG]
                if slo in alerting:
                    detail = f"SLO {slo}: {', '.join(sorted(alerting[slo]))}"
                    yield Finding(check_id, alarm.arn, Status.PASS, detail)
                else:
                    problem = f"no composite alarm tagged slo={slo} has alarm actions"
                    yield verdict(check_id, alarm.arn, [problem])
    for workspace in ctx.pages("amp", "list_workspaces", "workspaces"):
        if ctx.in_scope(workspace.get("tags") or {}):
            yield _workspace_verdict(ctx, workspace)
