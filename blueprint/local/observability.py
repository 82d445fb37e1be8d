"""Alerting: SNS topics and their policies, CloudWatch alarms and dashboards, EventBridge
rules and targets, managed Prometheus workspaces, rule groups and alert manager definitions.

Each translator makes the calls the Terraform provider makes, in its order (an SNS topic is
created with only ``FifoTopic``, every other attribute is a SetTopicAttributes; a workspace's
logging configuration is a second call after the workspace). PutCompositeAlarm and the alert
manager definition exist only through the models (:mod:`blueprint.local.models`), which also
refuse what AWS refuses where moto would not.
"""

from __future__ import annotations

from typing import Any

from blueprint.local.registry import Created, Ctx, translates

TOPIC_ATTRIBUTES = (
    # Pulumi input -> SNS attribute, as the provider's topicAttributeMap (sns/topic.go).
    ("kmsMasterKeyId", "KmsMasterKeyId"),
    ("signatureVersion", "SignatureVersion"),
    ("displayName", "DisplayName"),
    ("deliveryPolicy", "DeliveryPolicy"),
    ("tracingConfig", "TracingConfig"),
    ("policy", "Policy"),
)


@translates("aws:sns/topic:Topic")
def sns_topic(ctx: Ctx) -> Created:
    sns = ctx.client("sns")
    fifo = bool(ctx.inputs.get("fifoTopic"))
    name = ctx.physical_name()
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"  # the bridge's auto-name for a FIFO topic
    # The provider passes only FifoTopic to CreateTopic; the rest are SetTopicAttributes.
    arn = sns.create_topic(
        Name=name,
        Attributes={"FifoTopic": "true"} if fifo else {},
        Tags=ctx.tag_list(),
    )["TopicArn"]
    for prop, attribute in TOPIC_ATTRIBUTES:
        value = ctx.inputs.get(prop)
        if value not in (None, ""):
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName=attribute, AttributeValue=str(value)
            )
    return Created(arn, {"arn": arn, "name": name, "owner": ctx.account})


@translates("aws:sns/topicPolicy:TopicPolicy")
def sns_topic_policy(ctx: Ctx) -> Created:
    arn = ctx.inputs["arn"]
    ctx.client("sns").set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=ctx.inputs["policy"]
    )
    return Created(arn, {"owner": ctx.account})


def _metric_query(query: dict[str, Any]) -> dict[str, Any]:
    """One ``metricQueries`` element as a MetricDataQuery (provider: expandMetricAlarmMetrics)."""
    out: dict[str, Any] = {"Id": query["id"], "ReturnData": bool(query.get("returnData", False))}
    for prop, key in (("expression", "Expression"), ("label", "Label"), ("period", "Period"),
                      ("accountId", "AccountId")):  # fmt: skip
        if query.get(prop) not in (None, ""):
            out[key] = query[prop]
    metric = query.get("metric")
    if metric:
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": [
                    {"Name": k, "Value": v} for k, v in (metric.get("dimensions") or {}).items()
                ],
            },
            "Period": metric["period"],
            "Stat": metric["stat"],
        }
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        out["MetricStat"] = stat
    return out


@translates("aws:cloudwatch/metricAlarm:MetricAlarm")
def metric_alarm(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    inputs = ctx.inputs
    request: dict[str, Any] = {
        "AlarmName": name,
        "ComparisonOperator": inputs["comparisonOperator"],
        "EvaluationPeriods": inputs["evaluationPeriods"],
        "ActionsEnabled": bool(inputs.get("actionsEnabled", True)),
        "AlarmActions": inputs.get("alarmActions") or [],
        "OKActions": inputs.get("okActions") or [],
        "InsufficientDataActions": inputs.get("insufficientDataActions") or [],
        "TreatMissingData": inputs.get("treatMissingData", "missing"),
        "Tags": ctx.tag_list(),
    }
    for key, api in (
        ("threshold", "Threshold"),
        ("thresholdMetricId", "ThresholdMetricId"),
        ("metricName", "MetricName"),
        ("namespace", "Namespace"),
        ("statistic", "Statistic"),
        ("extendedStatistic", "ExtendedStatistic"),
        ("period", "Period"),
        ("unit", "Unit"),
        ("alarmDescription", "AlarmDescription"),
        ("datapointsToAlarm", "DatapointsToAlarm"),
        ("evaluateLowSampleCountPercentiles", "EvaluateLowSampleCountPercentile"),
    ):
        if inputs.get(key) is not None:
            request[api] = float(inputs[key]) if api == "Threshold" else inputs[key]
    if inputs.get("dimensions"):
        request["Dimensions"] = [{"Name": k, "Value": v} for k, v in inputs["dimensions"].items()]
    if inputs.get("metricQueries"):
        request["Metrics"] = [_metric_query(q) for q in inputs["metricQueries"]]
    ctx.client("cloudwatch").put_metric_alarm(**request)
    return Created(
        name, {"name": name, "arn": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{name}"}
    )


@translates("aws:cloudwatch/compositeAlarm:CompositeAlarm")
def composite_alarm(ctx: Ctx) -> Created:
    inputs = ctx.inputs
    name = inputs["alarmName"]
    request: dict[str, Any] = {
        "AlarmName": name,
        "AlarmRule": inputs["alarmRule"],
        "ActionsEnabled": bool(inputs.get("actionsEnabled", True)),
        "AlarmActions": inputs.get("alarmActions") or [],
        "OKActions": inputs.get("okActions") or [],
        "InsufficientDataActions": inputs.get("insufficientDataActions") or [],
        "Tags": ctx.tag_list(),
    }
    if inputs.get("alarmDescription"):
        request["AlarmDescription"] = inputs["alarmDescription"]
    unapplied = ["actionsSuppressor"] if inputs.get("actionsSuppressor") else []
    ctx.client("cloudwatch").put_composite_alarm(**request)
    arn = f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{name}"
    return Created(name, {"arn": arn}, unapplied=unapplied)


@translates("aws:cloudwatch/dashboard:Dashboard")
def dashboard(ctx: Ctx) -> Created:
    name = ctx.inputs["dashboardName"]
    ctx.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=ctx.inputs["dashboardBody"]
    )
    # Dashboards are global: no region in the ARN.
    return Created(name, {"dashboardArn": f"arn:aws:cloudwatch::{ctx.account}:dashboard/{name}"})


@translates("aws:cloudwatch/eventRule:EventRule")
def event_rule(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    inputs = ctx.inputs
    request: dict[str, Any] = {"Name": name, "Tags": ctx.tag_list()}
    for prop, key in (
        ("description", "Description"),
        ("eventBusName", "EventBusName"),
        ("eventPattern", "EventPattern"),
        ("roleArn", "RoleArn"),
        ("scheduleExpression", "ScheduleExpression"),
        ("state", "State"),
    ):
        if inputs.get(prop) not in (None, ""):
            request[key] = inputs[prop]
    if "state" not in inputs and inputs.get("isEnabled") is not None:
        request["State"] = "ENABLED" if inputs["isEnabled"] else "DISABLED"
    arn = ctx.client("events").put_rule(**request)["RuleArn"]
    return Created(name, {"arn": arn, "name": name})


@translates("aws:cloudwatch/eventTarget:EventTarget")
def event_target(ctx: Ctx) -> Created:
    inputs = ctx.inputs
    target_id = ctx.physical_name("targetId")
    target: dict[str, Any] = {"Id": target_id, "Arn": inputs["arn"]}
    for prop, key in (("roleArn", "RoleArn"), ("input", "Input"), ("inputPath", "InputPath")):
        if inputs.get(prop) not in (None, ""):
            target[key] = inputs[prop]
    request: dict[str, Any] = {"Rule": inputs["rule"], "Targets": [target]}
    if inputs.get("eventBusName"):
        request["EventBusName"] = inputs["eventBusName"]
    response = ctx.client("events").put_targets(**request)
    if response.get("FailedEntryCount"):
        # The provider fails the create on any failed entry (putTargetsError).
        raise RuntimeError(f"PutTargets failed: {response['FailedEntries']}")
    modelled = {"roleArn", "input", "inputPath", "rule", "arn", "targetId", "eventBusName",
                "forceDestroy", "region"}  # fmt: skip
    unapplied = sorted(k for k, v in inputs.items() if v and k not in modelled)
    return Created(f"{inputs['rule']}-{target_id}", {"targetId": target_id}, unapplied=unapplied)


@translates("aws:amp/workspace:Workspace")
def prometheus_workspace(ctx: Ctx) -> Created:
    amp = ctx.client("amp")
    request: dict[str, Any] = {"tags": ctx.tags}
    if ctx.inputs.get("alias"):
        request["alias"] = ctx.inputs["alias"]
    if ctx.inputs.get("kmsKeyArn"):
        request["kmsKeyArn"] = ctx.inputs["kmsKeyArn"]
    workspace_id = amp.create_workspace(**request)["workspaceId"]
    logging = ctx.inputs.get("loggingConfiguration") or {}
    if logging.get("logGroupArn"):
        # A second call after the workspace is ACTIVE, as the provider makes it.
        amp.create_logging_configuration(
            workspaceId=workspace_id, logGroupArn=logging["logGroupArn"]
        )
    described = amp.describe_workspace(workspaceId=workspace_id)["workspace"]
    return Created(
        workspace_id,
        {"arn": described["arn"], "prometheusEndpoint": described["prometheusEndpoint"]},
    )


@translates("aws:amp/ruleGroupNamespace:RuleGroupNamespace")
def rule_group_namespace(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    arn = ctx.client("amp").create_rule_groups_namespace(
        workspaceId=ctx.inputs["workspaceId"],
        name=name,
        data=ctx.inputs["data"].encode(),
        tags=ctx.tags,
    )["arn"]
    return Created(arn, {"arn": arn, "name": name})


@translates("aws:amp/alertManagerDefinition:AlertManagerDefinition")
def alert_manager_definition(ctx: Ctx) -> Created:
    workspace_id = ctx.inputs["workspaceId"]
    ctx.client("amp").create_alert_manager_definition(
        workspaceId=workspace_id, data=ctx.inputs["definition"].encode()
    )
    return Created(workspace_id)


@translates("aws:budgets/budget:Budget")
def budget(ctx: Ctx) -> Created:
    """CreateBudget, then one CreateNotification per notification with its subscribers, as
    the provider does (budgets/budget.go). Budgets are global: the ARN carries no region."""
    budgets = ctx.client("budgets")
    name = ctx.physical_name()
    inputs = ctx.inputs
    cost_filters = {f["name"]: list(f["values"]) for f in inputs.get("costFilters") or []}
    budgets.create_budget(
        AccountId=ctx.account,
        Budget={
            "BudgetName": name,
            "BudgetType": inputs["budgetType"],
            "TimeUnit": inputs["timeUnit"],
            "BudgetLimit": {"Amount": inputs["limitAmount"], "Unit": inputs["limitUnit"]},
            "CostFilters": cost_filters,
        },
    )
    for notification in inputs.get("notifications") or []:
        budgets.create_notification(
            AccountId=ctx.account,
            BudgetName=name,
            Notification={
                "NotificationType": notification["notificationType"],
                "ComparisonOperator": notification["comparisonOperator"],
                "Threshold": float(notification["threshold"]),
                "ThresholdType": notification["thresholdType"],
            },
            Subscribers=[
                {"SubscriptionType": "EMAIL", "Address": address}
                for address in notification.get("subscriberEmailAddresses") or []
            ],
        )
    arn = f"arn:aws:budgets::{ctx.account}:budget/{name}"
    # moto does not keep budget tags; the provider sends them with CreateBudget.
    return Created(
        f"{ctx.account}:{name}", {"arn": arn, "name": name, "accountId": ctx.account}, ["tags"]
    )
