"""Alerting deployed into moto: alarms, composites, topics, dashboard, EventBridge and managed
Prometheus exist and read back as the program built them; the models refuse what AWS refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pulumi_aws as aws
import pytest
import yaml
from moto import mock_aws

from blueprint.capture import RecordingMonitor, ResourceError, capture_program
from blueprint.local.engine import LocalDeploy, MotoMocks, deploy
from blueprint.local.models import installed
from blueprint.local.models.cloudwatch import composite_problem, rule_alarms
from blueprint.local.target import MOTO_CONFIG, AwsTarget
from components.config.slos import SLI_KINDS, SliSource
from tests.conftest import PROJECT_DIR, stack_config

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
STACK = "prod"
PREFIX = f"feature-platform-{STACK}"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"


@pytest.fixture(scope="module")
def deployed() -> Iterator[LocalDeploy]:
    with mock_aws(config=MOTO_CONFIG):
        deployed = deploy(PROJECT_DIR, STACK, AwsTarget(region=REGION))
        # Read back as AWS would answer: through the same models the deploy ran under.
        with installed(deployed.models):
            yield deployed


def _client(deployed: LocalDeploy, service: str) -> Any:
    return deployed.target.client(service, REGION)


def _topics(deployed: LocalDeploy) -> dict[str, str]:
    """severity tag -> topic ARN, from the plan."""
    return {r.inputs["tags"]["severity"]: r.outputs["arn"] for r in deployed.plan.of_type(TOPIC)}


def test_every_alerting_resource_was_created_in_moto(deployed: LocalDeploy) -> None:
    created = {t for t, _ in deployed.outcome.created}
    assert {
        METRIC_ALARM,
        COMPOSITE,
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        TOPIC,
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:amp/workspace:Workspace",
        "aws:amp/ruleGroupNamespace:RuleGroupNamespace",
        "aws:amp/alertManagerDefinition:AlertManagerDefinition",
    } <= created


def test_composite_alarms_read_back_with_their_actions_and_existing_members(
    deployed: LocalDeploy,
) -> None:
    cloudwatch = _client(deployed, "cloudwatch")
    composites = cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    planned = {r.inputs["alarmName"]: r for r in deployed.plan.of_type(COMPOSITE)}
    assert {c["AlarmName"] for c in composites} == set(planned) and planned
    metric_names = {
        a["AlarmName"]
        for a in cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    }
    topics = set(_topics(deployed).values())
    for composite in composites:
        (action,) = composite["AlarmActions"]
        assert action in topics and composite["OKActions"] == [action]
        members = rule_alarms(composite["AlarmRule"])
        assert members and set(members) <= metric_names, composite["AlarmName"]
        severity = planned[composite["AlarmName"]].inputs["tags"]["severity"]
        assert composite["AlarmName"].endswith(f"-{severity}")


def test_describe_alarms_without_alarm_types_returns_only_metric_alarms(
    deployed: LocalDeploy,
) -> None:
    answer = _client(deployed, "cloudwatch").describe_alarms()
    assert answer["CompositeAlarms"] == [] and answer["MetricAlarms"]


def test_metric_alarms_are_metric_math_with_one_returned_series(deployed: LocalDeploy) -> None:
    cloudwatch = _client(deployed, "cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX, AlarmTypes=["MetricAlarm"])[
        "MetricAlarms"
    ]
    assert len(alarms) == len(deployed.plan.of_type(METRIC_ALARM))
    for alarm in alarms:
        returned = [q["Id"] for q in alarm["Metrics"] if q.get("ReturnData")]
        assert len(returned) == 1, alarm["AlarmName"]
        periods = [q["MetricStat"]["Period"] for q in alarm["Metrics"] if "MetricStat" in q]
        limit = 86_400 if max(periods) < 3600 else 604_800
        assert max(periods) * alarm["EvaluationPeriods"] <= limit, alarm["AlarmName"]


def test_topics_are_encrypted_with_the_alerts_key_and_carry_their_policy(
    deployed: LocalDeploy,
) -> None:
    sns = _client(deployed, "sns")
    key_arn = deployed.plan.named("aws:kms/key:Key", "-kms-alerts").outputs["arn"]
    for severity, arn in _topics(deployed).items():
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        assert attributes["KmsMasterKeyId"] == key_arn, severity
        policy = json.loads(attributes["Policy"])
        sids = {s["Sid"] for s in policy["Statement"]}
        assert {"TlsOnly", "CloudWatchAlarms", "PrometheusAlertManager"} <= sids
        assert ("EventBridgeRules" in sids) == (severity == "ticket")


def test_the_rule_group_namespace_holds_an_alert_for_every_prometheus_slo(
    deployed: LocalDeploy,
) -> None:
    amp = _client(deployed, "amp")
    (workspace,) = amp.list_workspaces()["workspaces"]
    namespace = amp.describe_rule_groups_namespace(
        workspaceId=workspace["workspaceId"], name="feature-platform"
    )["ruleGroupsNamespace"]
    rules = [r for g in yaml.safe_load(namespace["data"])["groups"] for r in g["rules"]]
    alerted = {r["labels"]["slo"] for r in rules if "alert" in r and "slo" in r.get("labels", {})}
    expected = {
        slo
        for slo, objective in stack_config(STACK).slos.declarations()
        if SLI_KINDS[slo][1] is SliSource.PROMETHEUS and (objective.page or objective.ticket)
    }
    assert expected and expected <= alerted


def test_the_workspace_is_encrypted_logs_and_routes_alerts_to_both_topics(
    deployed: LocalDeploy,
) -> None:
    amp = _client(deployed, "amp")
    (summary,) = amp.list_workspaces()["workspaces"]
    workspace_id = summary["workspaceId"]
    workspace = amp.describe_workspace(workspaceId=workspace_id)["workspace"]
    data_key = deployed.plan.named("aws:kms/key:Key", "-kms-data").outputs["arn"]
    assert workspace["kmsKeyArn"] == data_key and workspace["alias"] == PREFIX
    logging = amp.describe_logging_configuration(workspaceId=workspace_id)["loggingConfiguration"]
    assert logging["logGroupArn"].endswith(":*")
    definition = amp.describe_alert_manager_definition(workspaceId=workspace_id)[
        "alertManagerDefinition"
    ]
    config = yaml.safe_load(yaml.safe_load(definition["data"])["alertmanager_config"])
    routed = {c["topic_arn"] for r in config["receivers"] for c in r["sns_configs"]}
    assert routed == set(_topics(deployed).values())


def test_rotation_failures_reach_the_ticket_topic(deployed: LocalDeploy) -> None:
    events = _client(deployed, "events")
    (rule,) = [r for r in events.list_rules()["Rules"] if "rotation-failed" in r["Name"]]
    assert json.loads(rule["EventPattern"])["source"] == ["aws.secretsmanager"]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == _topics(deployed)["ticket"]


def test_the_dashboard_exists(deployed: LocalDeploy) -> None:
    cloudwatch = _client(deployed, "cloudwatch")
    body = json.loads(cloudwatch.get_dashboard(DashboardName=PREFIX)["DashboardBody"])
    assert body["widgets"]


# --- the models ------------------------------------------------------------------------------


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws(), installed():
        yield boto3.client("cloudwatch", region_name=REGION)


def _alarm(cloudwatch: Any, name: str, *, period: int = 60, periods: int = 5, **extra: Any) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=periods,
        Threshold=1.0,
        Metrics=[
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {"Namespace": "FeaturePlatform", "MetricName": "Lag"},
                    "Period": period,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        **extra,
    )


def test_put_composite_alarm_refuses_a_rule_naming_a_missing_alarm(cloudwatch: Any) -> None:
    _alarm(cloudwatch, "long")
    with pytest.raises(cloudwatch.exceptions.ClientError) as caught:
        cloudwatch.put_composite_alarm(
            AlarmName="page", AlarmRule='ALARM("long") AND ALARM("short")'
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert (
        "Could not save the composite alarm as alarms [short] in the alarm rule do not exist"
        in (caught.value.response["Error"]["Message"])
    )
    _alarm(cloudwatch, "short")
    cloudwatch.put_composite_alarm(AlarmName="page", AlarmRule='ALARM("long") AND ALARM("short")')
    (composite,) = cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert composite["AlarmRule"] == 'ALARM("long") AND ALARM("short")'


@pytest.mark.parametrize(
    ("period", "periods", "accepted"),
    [
        (60, 1440, True),  # one day of minutes: the longest range under a one-hour period
        (60, 1441, False),
        (3600, 168, True),  # seven days of hours
        (3600, 169, False),
        (259_200, 2, True),  # two three-day periods: six days
        (259_200, 3, False),
    ],
)
def test_put_metric_alarm_refuses_an_evaluation_range_aws_refuses(
    cloudwatch: Any, period: int, periods: int, accepted: bool
) -> None:
    if accepted:
        _alarm(cloudwatch, "a", period=period, periods=periods)
        return
    with pytest.raises(cloudwatch.exceptions.ClientError) as caught:
        _alarm(cloudwatch, "a", period=period, periods=periods)
    assert "EvaluationPeriods" in caught.value.response["Error"]["Message"]


def test_put_metric_alarm_refuses_m_above_n_and_six_actions(cloudwatch: Any) -> None:
    with pytest.raises(cloudwatch.exceptions.ClientError, match="DatapointsToAlarm"):
        _alarm(cloudwatch, "a", periods=3, DatapointsToAlarm=4)
    topic = f"arn:aws:sns:{REGION}:123456789012:t"
    with pytest.raises(cloudwatch.exceptions.ClientError, match="at most 5"):
        _alarm(cloudwatch, "a", AlarmActions=[f"{topic}{i}" for i in range(6)])


def test_composite_rule_parsing_takes_quoted_and_bare_names_and_arns() -> None:
    rule = 'ALARM("a b") OR (OK(c) AND INSUFFICIENT_DATA(arn:aws:cloudwatch:r:1:alarm:d))'
    assert rule_alarms(rule) == ["a b", "c", "arn:aws:cloudwatch:r:1:alarm:d"]
    assert composite_problem(" ALARM(c)", {"c"}) is not None  # leading whitespace


def test_alert_manager_definitions_are_one_per_workspace_and_validated() -> None:
    good = b"alertmanager_config: |\n  route:\n    receiver: t\n  receivers:\n    - name: t\n"
    with mock_aws(), installed():
        amp = boto3.client("amp", region_name=REGION)
        workspace_id = amp.create_workspace(alias="w")["workspaceId"]
        with pytest.raises(amp.exceptions.ValidationException, match="undefined receiver"):
            amp.create_alert_manager_definition(
                workspaceId=workspace_id,
                data=b"alertmanager_config: |\n  route:\n    receiver: x\n",
            )
        amp.create_alert_manager_definition(workspaceId=workspace_id, data=good)
        with pytest.raises(amp.exceptions.ConflictException):
            amp.create_alert_manager_definition(workspaceId=workspace_id, data=good)
        described = amp.describe_alert_manager_definition(workspaceId=workspace_id)
        assert described["alertManagerDefinition"]["data"] == good
        amp.delete_alert_manager_definition(workspaceId=workspace_id)
        with pytest.raises(amp.exceptions.ResourceNotFoundException):
            amp.describe_alert_manager_definition(workspaceId=workspace_id)


def test_a_workspace_key_must_be_a_key_arn_and_its_log_group_must_exist() -> None:
    with mock_aws(), installed():
        amp = boto3.client("amp", region_name=REGION)
        with pytest.raises(amp.exceptions.ValidationException, match="not a KMS key ARN"):
            amp.create_workspace(kmsKeyArn=f"arn:aws:kms:{REGION}:123456789012:alias/alerts")
        workspace_id = amp.create_workspace()["workspaceId"]
        missing = f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/vendedlogs/prometheus/x"
        with pytest.raises(amp.exceptions.ValidationException, match="ending in :\\*"):
            amp.create_logging_configuration(workspaceId=workspace_id, logGroupArn=missing)
        with pytest.raises(amp.exceptions.ValidationException, match="does not exist"):
            amp.create_logging_configuration(workspaceId=workspace_id, logGroupArn=f"{missing}:*")


def test_a_local_deploy_of_a_composite_naming_a_missing_alarm_fails_with_its_urn() -> None:
    def program() -> None:
        aws.cloudwatch.CompositeAlarm(
            "page", alarm_name="page", alarm_rule='ALARM("never-created")'
        )

    with mock_aws(config=MOTO_CONFIG), installed():
        mocks = MotoMocks(AwsTarget(region=REGION), "test")
        with pytest.raises(ResourceError) as caught:
            capture_program(program, monitor=RecordingMonitor(mocks))
    assert f"{COMPOSITE}::page" in str(caught.value)
    assert "[never-created]" in str(caught.value)


def test_the_local_deploy_applies_the_provider_facts_before_any_aws_call() -> None:
    def program() -> None:
        aws.cloudwatch.Dashboard("d", dashboard_name="has spaces", dashboard_body="{}")

    with mock_aws(config=MOTO_CONFIG), installed():
        target = AwsTarget(region=REGION)
        mocks = MotoMocks(target, "test")
        with pytest.raises(ResourceError, match="dashboardName"):
            capture_program(program, monitor=RecordingMonitor(mocks))
        assert target.client("cloudwatch").list_dashboards()["DashboardEntries"] == []
