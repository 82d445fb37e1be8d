"""Inputs the Terraform provider (or AWS, where it defers) rejects fail offline, naming the
resource, the property, the value and the rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pulumi_aws as aws
import pytest

from blueprint.capture import ResourceError, capture_program
from blueprint.fidelity import check_inputs, physical_id

RG = "aws:elasticache/replicationGroup:ReplicationGroup"
ROLE_ARN = "arn:aws:iam::123456789012:role/r"


def group(**overrides: Any) -> Callable[[], None]:
    def program() -> None:
        args: dict[str, Any] = {
            "replication_group_id": "store",
            "description": "d",
            "node_type": "cache.r7g.large",
            "engine": "valkey",
            "engine_version": "8.0",
            **overrides,
        }
        aws.elasticache.ReplicationGroup("store", **args)

    return program


def message_of(program: Callable[[], None]) -> str:
    with pytest.raises(ResourceError) as caught:
        capture_program(program)
    return str(caught.value)


def test_a_valid_replication_group_passes() -> None:
    capture_program(
        group(transit_encryption_mode="required", maintenance_window="sun:03:00-sun:04:00")
    )


@pytest.mark.parametrize(
    ("overrides", "prop", "rule"),
    [
        ({"transit_encryption_mode": "sometimes"}, "transitEncryptionMode", "one of preferred"),
        ({"node_type": "r7g.large"}, "nodeType", "cache.<family>.<size>"),
        ({"engine": "memcached"}, "engine", "one of redis, valkey"),
        ({"engine_version": "6.2"}, "engineVersion", "valkey major.minor"),
        ({"snapshot_retention_limit": 40}, "snapshotRetentionLimit", "0..35"),
        ({"maintenance_window": "sunday 3am"}, "maintenanceWindow", "must match"),
        (
            {
                "log_delivery_configurations": [
                    {
                        "log_type": "audit-log",
                        "log_format": "json",
                        "destination_type": "cloudwatch-logs",
                        "destination": "/aws/x",
                    }
                ]
            },
            "logDeliveryConfigurations[].logType",
            "slow-log",
        ),
    ],
)
def test_replication_group_inputs_the_provider_rejects(
    overrides: dict[str, Any], prop: str, rule: str
) -> None:
    message = message_of(group(**overrides))
    assert f"{RG}::store" in message and f"'{prop}'" in message and rule in message


def test_secret_values_are_never_printed() -> None:
    message = message_of(group(auth_token="short"))
    assert "'authToken' = <secret>" in message and "short" not in message


@pytest.mark.parametrize(
    ("build", "prop", "rule"),
    [
        (
            lambda: aws.msk.Cluster(
                "k",
                kafka_version="3.8",
                number_of_broker_nodes=3,
                broker_node_group_info=cast(
                    Any,
                    {
                        "instance_type": "kafka.m7g.large",
                        "client_subnets": ["s"],
                    },
                ),
            ),
            "kafkaVersion",
            "3.8.x",
        ),
        (
            lambda: aws.msk.Cluster(
                "k",
                kafka_version="3.8.x",
                number_of_broker_nodes=3,
                broker_node_group_info=cast(
                    Any, {"instance_type": "m7g.large", "client_subnets": ["s"]}
                ),
            ),
            "brokerNodeGroupInfo.instanceType",
            "kafka.<family>.<size>",
        ),
        (
            lambda: aws.eks.Addon(
                "a", cluster_name="c", addon_name="coredns", addon_version="1.11.4"
            ),
            "addonVersion",
            "eksbuild",
        ),
        (
            lambda: aws.eks.Cluster(
                "e", name="e", version="v1.33", role_arn=ROLE_ARN, vpc_config={"subnet_ids": []}
            ),
            "version",
            "major.minor",
        ),
        (
            lambda: aws.iam.Role("r", assume_role_policy="{}", max_session_duration=60),
            "maxSessionDuration",
            "3600..43200",
        ),
        (
            lambda: aws.cloudwatch.LogGroup("l", retention_in_days=42),
            "retentionInDays",
            "must be one of",
        ),
        (
            lambda: aws.secretsmanager.Secret("s", recovery_window_in_days=3),
            "recoveryWindowInDays",
            "7..30",
        ),
        (lambda: aws.elasticache.ParameterGroup("p", family="valkey9"), "family", "valkey8"),
        (
            lambda: aws.lambda_.Function(
                "f", role=ROLE_ARN, runtime="python2.7", handler="h.h", code=None
            ),
            "runtime",
            "python3.13",
        ),
        (lambda: aws.kms.Key("k", deletion_window_in_days=3), "deletionWindowInDays", "7..30"),
    ],
)
def test_inputs_the_provider_rejects_fail_with_property_and_rule(
    build: Callable[[], Any], prop: str, rule: str
) -> None:
    message = message_of(build)
    assert "urn:pulumi:" in message and f"'{prop}'" in message and rule in message


def test_the_same_families_pass_with_valid_values() -> None:
    def program() -> None:
        aws.eks.Addon(
            "a", cluster_name="c", addon_name="coredns", addon_version="v1.11.4-eksbuild.2"
        )
        aws.cloudwatch.LogGroup("l", retention_in_days=30)
        aws.secretsmanager.Secret("s", recovery_window_in_days=0)
        aws.elasticache.ParameterGroup("p", family="valkey8")
        aws.kms.Key("k", deletion_window_in_days=7)

    assert len(capture_program(program).resources) == 5


def test_list_paths_check_every_element() -> None:
    taints = [{"key": "a", "value": "b", "effect": "NO_SCHEDULE"}, {"key": "a", "effect": "NEVER"}]
    problems = check_inputs("aws:eks/nodeGroup:NodeGroup", {"taints": taints})
    assert len(problems) == 1 and "'taints[].effect' = 'NEVER'" in problems[0]


def test_unknown_values_in_preview_are_not_judged() -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert check_inputs(RG, {"nodeType": unknown}) == []


# --- alerting: CloudWatch alarms and dashboards, EventBridge, SNS, managed Prometheus -------

TOPIC_ARN = "arn:aws:sns:eu-central-1:123456789012:alerts"


def _query(id_: str, period: int = 60, *, returns: bool = False) -> dict[str, Any]:
    metric = {"namespace": "AWS/Kafka", "metric_name": "Lag", "stat": "Maximum", "period": period}
    return {"id": id_, "metric": metric, "return_data": returns}


def metric_alarm(**overrides: Any) -> Callable[[], None]:
    def program() -> None:
        args: dict[str, Any] = {
            "name": "feature-platform-dev-slo-freshness-1h5m-long",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 1,
            "evaluation_periods": 60,
            "datapoints_to_alarm": 2,
            "metric_queries": [_query("lag", returns=True)],
            "alarm_actions": [TOPIC_ARN],
            **overrides,
        }
        aws.cloudwatch.MetricAlarm("alarm", **args)

    return program


def test_a_valid_metric_math_alarm_passes() -> None:
    capture_program(metric_alarm())
    # The longest ranges AWS accepts: a day of minutes, seven days of hours.
    capture_program(metric_alarm(evaluation_periods=1440, datapoints_to_alarm=15))
    capture_program(
        metric_alarm(evaluation_periods=168, metric_queries=[_query("h", 3600, returns=True)])
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # PutMetricAlarm: under a one-hour period the range is at most one day ...
        ({"evaluation_periods": 1441}, "60 x 1441 = 86460 s exceeds 86400 s"),
        # ... and at most seven days otherwise.
        (
            {"evaluation_periods": 3, "metric_queries": [_query("w", 259_200, returns=True)]},
            "exceeds 604800 s",
        ),
        ({"evaluation_periods": 3, "datapoints_to_alarm": 4}, "DatapointsToAlarm (4)"),
        ({"alarm_actions": [TOPIC_ARN] * 6}, "'alarmActions'"),
        ({"ok_actions": [TOPIC_ARN] * 6}, "'okActions'"),
        ({"name": "a" * 256}, "'name'"),
        ({"metric_queries": [_query("lag", 90, returns=True)]}, "multiple of 60"),
        (
            {"metric_queries": [_query("a", returns=True), _query("b", returns=True)]},
            "exactly one metric query must set ReturnData",
        ),
        ({"metric_queries": [_query("a")]}, "exactly one metric query must set ReturnData"),
        (
            {
                "metric_queries": [
                    *[_query(f"m{i}") for i in range(11)],
                    {"id": "e", "expression": "MAX([m0])", "return_data": True},
                ]
            },
            "11 metrics in one alarm",
        ),
        (
            {
                "metric_queries": [
                    _query("m"),
                    {"id": "e", "expression": "m" + " + m" * 400, "return_data": True},
                ]
            },
            "'metricQueries[].expression'",
        ),
        ({"metric_queries": [_query("Lag", returns=True)]}, "'metricQueries[].id'"),
    ],
)
def test_metric_alarm_inputs_aws_or_the_provider_refuse(
    overrides: dict[str, Any], expected: str
) -> None:
    message = message_of(metric_alarm(**overrides))
    assert "aws:cloudwatch/metricAlarm:MetricAlarm::alarm" in message and expected in message


@pytest.mark.parametrize(
    ("build", "prop"),
    [
        (
            lambda: aws.cloudwatch.CompositeAlarm(
                "c", alarm_name="c", alarm_rule="ALARM(a) OR " * 1000 + "ALARM(a)"
            ),
            "alarmRule",
        ),
        (
            lambda: aws.cloudwatch.CompositeAlarm(
                "c", alarm_name="c", alarm_rule="ALARM(a)", alarm_actions=[TOPIC_ARN] * 6
            ),
            "alarmActions",
        ),
        (
            lambda: aws.cloudwatch.Dashboard(
                "d", dashboard_name="feature platform", dashboard_body="{}"
            ),
            "dashboardName",
        ),
        (lambda: aws.sns.Topic("t", name="alerts.page"), "name"),
        (lambda: aws.sns.Topic("t", name="alerts", fifo_topic=True), "name"),
        (lambda: aws.cloudwatch.EventRule("r", name="r" * 65, event_pattern="{}"), "name"),
        (
            # No target_id: the bridge's auto-name (255) passes, Terraform's 64 does not.
            lambda: aws.cloudwatch.EventTarget("t" * 60, rule="r", arn=TOPIC_ARN),
            "targetId",
        ),
        (
            lambda: aws.amp.Workspace(
                "w", kms_key_arn="arn:aws:kms:eu-central-1:123456789012:alias/data"
            ),
            "kmsKeyArn",
        ),
        (
            lambda: aws.amp.Workspace(
                "w",
                logging_configuration={
                    "log_group_arn": "arn:aws:logs:eu-central-1:123456789012:log-group:/x"
                },
            ),
            "loggingConfiguration.logGroupArn",
        ),
        (
            lambda: aws.amp.RuleGroupNamespace(
                "n", name="n" * 129, workspace_id="ws-1", data="groups: []"
            ),
            "name",
        ),
        (
            lambda: aws.amp.AlertManagerDefinition(
                "a", workspace_id="ws-1", definition="route:\n  receiver: x\n"
            ),
            "definition",
        ),
    ],
)
def test_alerting_inputs_the_provider_or_aws_refuse(build: Callable[[], Any], prop: str) -> None:
    message = message_of(build)
    assert "urn:pulumi:" in message and f"'{prop}'" in message


def test_the_same_alerting_types_pass_with_valid_values() -> None:
    def program() -> None:
        aws.cloudwatch.CompositeAlarm("c", alarm_name="c", alarm_rule="ALARM(a) AND ALARM(b)")
        aws.cloudwatch.Dashboard("d", dashboard_name="feature-platform-dev", dashboard_body="{}")
        aws.sns.Topic("t", name="alerts-page")
        aws.sns.Topic("f", name="alerts.fifo", fifo_topic=True)
        aws.cloudwatch.EventTarget("rotation-failed-ticket", rule="r", arn=TOPIC_ARN)
        aws.amp.Workspace(
            "w", kms_key_arn=f"arn:aws:kms:eu-central-1:123456789012:key/{'0a1b2c3d' * 4}"
        )

    assert len(capture_program(program).resources) == 6


# --- ElastiCache RBAC: users and user groups -------------------------------------------------

USER = "aws:elasticache/user:User"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
PASSWORD = "p" * 16


def cache_user(**overrides: Any) -> Callable[[], None]:
    def program() -> None:
        args: dict[str, Any] = {
            "user_id": "fp-dev-search-0123456789",
            "user_name": "fp-dev-search-0123456789",
            "engine": "valkey",
            "access_string": "on resetchannels ~search:a:* -@all +@read -@dangerous",
            "authentication_mode": {"type": "iam"},
            **overrides,
        }
        aws.elasticache.User("u", **args)

    return program


def test_valid_cache_users_and_group_pass() -> None:
    def program() -> None:
        cache_user()()
        aws.elasticache.User(
            "d",
            user_id="fp-dev-default",
            user_name="default",
            engine="valkey",
            access_string="on ~* &* +@all -@dangerous",
            passwords_wo=PASSWORD,
            passwords_wo_version=1,
        )
        aws.elasticache.UserGroup(
            "g", user_group_id="fp-dev-online", engine="valkey", user_ids=["fp-dev-default"]
        )

    assert len(capture_program(program).resources) == 3


@pytest.mark.parametrize(
    ("overrides", "prop", "rule"),
    [
        ({"user_id": "1fp-dev"}, "userId", "must match"),
        ({"user_id": "fp_dev_x"}, "userId", "must match"),
        ({"engine": "memcached"}, "engine", "one of redis, valkey"),
        ({"authentication_mode": {"type": "token"}}, "authenticationMode.type", "iam"),
        ({"access_string": "   "}, "accessString", "not blank"),
        ({"access_string": "on reset ~a:* +@read"}, "accessString", "`reset`"),
        ({"access_string": "on >secretsecret ~a:*"}, "accessString", "passwords cannot"),
        (
            {"authentication_mode": None, "passwords": [PASSWORD, PASSWORD + "x", PASSWORD + "y"]},
            "passwords",
            "at most 2",
        ),
        ({"authentication_mode": None, "passwords": []}, "passwords", "at least 1"),
        ({"authentication_mode": None, "passwords": ["short"]}, "passwords[]", "16..128"),
        (
            {"authentication_mode": None, "passwords_wo": "x" * 129, "passwords_wo_version": 1},
            "passwordsWo",
            "16..128",
        ),
    ],
)
def test_cache_user_inputs_the_provider_or_aws_refuse(
    overrides: dict[str, Any], prop: str, rule: str
) -> None:
    message = message_of(cache_user(**overrides))
    assert "urn:pulumi:" in message and f"'{prop}'" in message and rule in message


def test_a_refused_password_is_never_printed() -> None:
    message = message_of(
        cache_user(authentication_mode=None, passwords_wo="tooshort", passwords_wo_version=1)
    )
    assert "tooshort" not in message and "<secret>" in message


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"passwords_wo": PASSWORD}, "'passwordsWo' requires 'passwordsWoVersion'"),
        (
            {"passwords_wo": PASSWORD, "passwords_wo_version": 1},
            "'passwordsWo' conflicts with 'authenticationMode'",
        ),
        (
            {
                "authentication_mode": None,
                "passwords": [PASSWORD],
                "passwords_wo": PASSWORD,
                "passwords_wo_version": 1,
            },
            "'passwordsWo' conflicts with 'passwords'",
        ),
    ],
)
def test_write_only_password_conflicts_like_the_provider(
    overrides: dict[str, Any], problem: str
) -> None:
    assert problem in message_of(cache_user(**overrides))


@pytest.mark.parametrize(
    ("inputs", "prop", "rule"),
    [
        ({"userGroupId": "fp_dev", "engine": "valkey"}, "userGroupId", "must match"),
        ({"userGroupId": "g", "engine": "VALKEY8"}, "engine", "one of redis, valkey"),
        ({"userGroupId": "g", "engine": "valkey", "userIds": []}, "userIds", "at least 1"),
        ({"userGroupId": "g", "engine": "valkey", "userIds": ["a", "b c"]}, "userIds[]", "match"),
    ],
)
def test_user_group_inputs_aws_refuses(inputs: dict[str, Any], prop: str, rule: str) -> None:
    problems = check_inputs(USER_GROUP, inputs)
    assert len(problems) == 1 and f"'{prop}'" in problems[0] and rule in problems[0]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {"user_group_ids": ["a", "b"], "auth_token_update_strategy": "DELETE"},
            "2 items; at most 1",
        ),
        (
            {"user_group_ids": ["g"], "auth_token": "t" * 20},
            "'authToken' conflicts with 'userGroupIds'",
        ),
        (
            {
                "auth_token_wo": "t" * 20,
                "auth_token_wo_version": 1,
                "auth_token_update_strategy": "DELETE",
            },
            "must not be specified when 'authTokenUpdateStrategy' is DELETE",
        ),
        (
            {"user_group_ids": ["g"], "auth_token_update_strategy": "ROTATE"},
            "'authTokenUpdateStrategy' ROTATE requires",
        ),
    ],
)
def test_replication_group_rbac_inputs_the_provider_refuses(
    overrides: dict[str, Any], problem: str
) -> None:
    assert problem in message_of(group(transit_encryption_enabled=True, **overrides))


def test_replication_group_moving_to_rbac_passes() -> None:
    capture_program(group(user_group_ids=["fp-dev-online"], auth_token_update_strategy="DELETE"))


def test_aws_stores_rbac_ids_in_lower_case() -> None:
    assert physical_id(USER, {"userId": "FP-Dev-X"}) == "fp-dev-x"
    assert physical_id(USER_GROUP, {"userGroupId": "FP-Dev-Online"}) == "fp-dev-online"
    assert physical_id(RG, {"replicationGroupId": "x"}) is None
