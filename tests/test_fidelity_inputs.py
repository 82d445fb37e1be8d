"""Inputs the Terraform provider (or AWS, where it defers) rejects fail offline, naming the
resource, the property, the value and the rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pulumi_aws as aws
import pytest

from blueprint.capture import ResourceError, capture_program
from blueprint.fidelity import check_inputs

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
