"""Observability: the SLO burn-rate alarms, health alarms, alert topics, managed Prometheus
workspace and dashboard of one environment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config.alerting import HealthThresholds
from components.config.slos import SloSettings
from components.observability.dashboard import dashboard_body
from components.observability.health import HealthContext, health_alarm_specs
from components.observability.kube_rules import kube_health_group
from components.observability.prometheus import PrometheusWorkspace
from components.observability.slo_alarms import SliContext, slo_alarm_specs
from components.observability.specs import AlarmSpec, CompositeSpec, describe
from components.observability.topics import Publishers, alert_topics, attach_policies
from components.options import child
from components.slos.burn_rate import Severity
from components.slos.prometheus import rules_yaml

ROTATION_FAILURE_EVENTS = ("RotationFailed", "TestRotationFailed", "RotationAbandoned")
"""Secrets Manager's rotation outcomes that need a person (CloudTrail service events): a
rotation or a test rotation that failed, and one abandoned for a manually written version,
after which the default user may still hold the abandoned password (the rotation runbook
retires it)."""


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs:
    prefix: str
    """``feature-platform-<env>``: alarm names, the workspace alias and the dashboard name."""
    account_id: str
    region: str
    slos: SloSettings
    thresholds: HealthThresholds
    sli: SliContext
    health: HealthContext
    alerts_key_arn: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    protect: bool


def _rule(spec: CompositeSpec, names: dict[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    """The composite's rule over the window alarms' name outputs (so it waits for them)."""
    return pulumi.Output.all(**names).apply(spec.rule)


class Observability(pulumi.ComponentResource):
    """Alarms and alert routing: CloudWatch for AWS and custom metrics, Prometheus in-cluster."""

    page_topic_arn: pulumi.Output[str]
    ticket_topic_arn: pulumi.Output[str]
    prometheus_workspace_arn: pulumi.Output[str]
    prometheus_endpoint: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    alarm_names: list[str]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:observability:Observability", name, None, opts)
        self._name, self._args = name, args
        self.topics = alert_topics(f"{name}-alerts", self, key_arn=args.alerts_key_arn)
        self.window_specs, self.composite_specs = slo_alarm_specs(args.slos, args.sli)
        self.health_specs = health_alarm_specs(args.thresholds, args.health)
        self._slo_alarms()
        self._health_alarms()
        rule = self._rotation_failures()
        prometheus = self._prometheus()
        self._topic_policies(rule, prometheus.workspace)
        dashboard = self._dashboard()

        self.page_topic_arn = self.topics[Severity.PAGE].arn
        self.ticket_topic_arn = self.topics[Severity.TICKET].arn
        self.prometheus_workspace_arn = prometheus.workspace.arn
        self.prometheus_endpoint = prometheus.workspace.prometheus_endpoint
        self.dashboard_name = dashboard.dashboard_name
        self.alarm_names = [self.full_name(s.name) for s in self.specs()]
        self.register_outputs(
            {
                "page_topic_arn": self.page_topic_arn,
                "ticket_topic_arn": self.ticket_topic_arn,
                "prometheus_workspace_arn": self.prometheus_workspace_arn,
                "prometheus_endpoint": self.prometheus_endpoint,
                "dashboard_name": self.dashboard_name,
            }
        )

    def specs(self) -> tuple[AlarmSpec | CompositeSpec, ...]:
        return (*self.window_specs, *self.composite_specs, *self.health_specs)

    def full_name(self, spec_name: str) -> str:
        return f"{self._args.prefix}-{spec_name}"

    def _routed(self, severity: Severity) -> Severity:
        # An environment that never pages sends what would page to its ticket queue.
        pages = any(objective.page for _, objective in self._args.slos.declarations())
        return severity if pages else Severity.TICKET

    def _topic_for(self, severity: Severity) -> aws.sns.Topic:
        return self.topics[self._routed(severity)]

    def _metric_alarm(self, spec: AlarmSpec) -> aws.cloudwatch.MetricAlarm:
        actions = [] if spec.severity is None else [self._topic_for(spec.severity).arn]
        # The tag says where the alarm really goes, so the audit and the pack judge that.
        severity = self._routed(spec.severity).value if spec.severity else "window"
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{spec.name}",
            name=self.full_name(spec.name),
            alarm_description=spec.description,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            treat_missing_data=spec.treat_missing_data,
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=q.id,
                    expression=q.expression or None,
                    label=q.label or None,
                    return_data=q.return_data,
                    metric=None
                    if q.is_expression
                    else aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=q.namespace,
                        metric_name=q.metric_name,
                        dimensions=dict(q.dimensions),
                        stat=q.stat,
                        period=q.period,
                    ),
                )
                for q in spec.queries
            ],
            alarm_actions=actions,
            ok_actions=actions,
            tags={"severity": severity, **spec.tags},
            opts=child(self),
        )

    def _slo_alarms(self) -> None:
        windows = {spec.name: self._metric_alarm(spec) for spec in self.window_specs}
        for spec in self.composite_specs:
            topic = self._topic_for(spec.severity).arn
            members = [name for pair in spec.pairs for name in pair]
            # The rule names the window alarms through their outputs, so the composite is
            # created after them: CloudWatch refuses a rule naming an alarm that does not exist.
            aws.cloudwatch.CompositeAlarm(
                f"{self._name}-{spec.name}",
                alarm_name=self.full_name(spec.name),
                alarm_description=spec.description,
                alarm_rule=_rule(spec, {m: windows[m].name for m in members}),
                alarm_actions=[topic],
                ok_actions=[topic],
                tags={"severity": spec.severity.value, "slo": spec.slo},
                opts=child(self),
            )

    def _health_alarms(self) -> None:
        for spec in self.health_specs:
            self._metric_alarm(spec)

    def _rotation_failures(self) -> aws.cloudwatch.EventRule:
        name = f"{self._name}-rotation-failed"
        rule = aws.cloudwatch.EventRule(
            name,
            name=self.full_name("rotation-failed"),
            description=describe(
                "Secrets Manager could not rotate the online-store password.",
                "health-rotation-failed.md",
            ),
            # The account holds one environment, so every rotation failure in it is ours;
            # the events carry the secret's ARN in fields AWS does not document as stable,
            # and a filter on the wrong one would never match (a silent alert).
            event_pattern=json.dumps(
                {
                    "source": ["aws.secretsmanager"],
                    "detail-type": ["AWS Service Event via CloudTrail"],
                    "detail": {"eventName": list(ROTATION_FAILURE_EVENTS)},
                }
            ),
            opts=child(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-ticket",
            rule=rule.name,
            arn=self.topics[Severity.TICKET].arn,
            opts=child(self),
        )
        return rule

    def _prometheus(self) -> PrometheusWorkspace:
        args = self._args
        return PrometheusWorkspace(
            f"{self._name}-prometheus",
            self,
            alias=args.prefix,
            region=args.region,
            data_key_arn=args.data_key_arn,
            logs_key_arn=args.logs_key_arn,
            log_retention_days=args.log_retention_days,
            protect=args.protect,
            rules=rules_yaml(args.slos, (kube_health_group(args.thresholds),)),
            topics=self.topics,
        )

    def _topic_policies(self, rule: aws.cloudwatch.EventRule, workspace: aws.amp.Workspace) -> None:
        args = self._args
        alarms = f"arn:aws:cloudwatch:{args.region}:{args.account_id}:alarm:{args.prefix}-*"
        publishers = {
            severity: Publishers(
                account_id=args.account_id,
                alarm_arn_pattern=alarms,
                event_rule_arns=(rule.arn,) if severity is Severity.TICKET else (),
                prometheus_workspace_arn=workspace.arn,
            )
            for severity in Severity
        }
        attach_policies(f"{self._name}-alerts", self, self.topics, publishers)

    def _dashboard(self) -> aws.cloudwatch.Dashboard:
        args = self._args
        body: Sequence[AlarmSpec] = (*self.window_specs, *self.health_specs)
        return aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=args.prefix,
            dashboard_body=dashboard_body(
                region=args.region,
                slos=args.slos,
                alarms=body,
                composites=self.composite_specs,
                full_name=self.full_name,
                account_id=args.account_id,
            ),
            opts=child(self),
        )
