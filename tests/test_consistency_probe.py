"""The consistency probe: its SLI arithmetic, what it publishes, and how it runs."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from blueprint.capture import Plan
from components.consistency_probe import ACTIVE_DEADLINE_SECONDS
from functions.consistency_probe.probe import (
    CHECKED,
    MISMATCHES,
    NAMESPACE,
    Result,
    compare,
    metric_data,
    publish,
)
from tests.conftest import stack_config

CRON_JOB = "kubernetes:batch/v1:CronJob"


def test_equal_stores_have_no_mismatch() -> None:
    rows = {"user:1": {"ctr_7d": "0.12", "age": "34"}, "user:2": {"ctr_7d": "0.01"}}
    assert compare(rows, rows) == Result(checked=3, mismatches=0)


def test_a_differing_or_missing_online_value_is_a_mismatch() -> None:
    offline = {"user:1": {"ctr_7d": "0.12", "age": "34"}, "user:2": {"ctr_7d": "0.01"}}
    online = {"user:1": {"ctr_7d": "0.13", "age": "34"}}
    result = compare(online, offline)
    assert (result.checked, result.mismatches) == (3, 2)
    assert result.examples == (("user:1", "ctr_7d"), ("user:2", "ctr_7d"))
    assert result.ratio == pytest.approx(2 / 3)


def test_a_feature_absent_from_both_stores_is_not_compared() -> None:
    assert compare({"u": {"f": None}}, {"u": {"f": None}}) == Result(0, 0)


def test_a_run_that_compared_nothing_publishes_nothing() -> None:
    # "0 of 0 differ" is no evidence; the alarms treat a missing window as no evidence too.
    assert metric_data("prod", Result(0, 0)) == []


def test_publish_writes_both_counts_to_the_platform_namespace() -> None:
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="eu-central-1")
        assert publish(cloudwatch, "prod", Result(checked=1000, mismatches=3)) == 2
        listed = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in listed} == {CHECKED, MISMATCHES}
    for metric in listed:
        assert metric["Dimensions"] == [{"Name": "Environment", "Value": "prod"}]


def _container(plan: Plan) -> dict[str, Any]:
    (job,) = plan.of_type(CRON_JOB)
    pod = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == "consistency-probe"
    return dict(container)


def test_the_probe_runs_on_schedule_in_materialization_one_run_at_a_time(plan: Plan) -> None:
    (job,) = plan.of_type(CRON_JOB)
    settings = stack_config(plan.stack).alerting.consistency_probe
    assert job.inputs["metadata"]["namespace"] == "materialization"
    spec = job.inputs["spec"]
    assert spec["schedule"] == settings.schedule
    assert spec["concurrencyPolicy"] == "Forbid"
    # A run ends before the next is due (every 5 minutes by default).
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == ACTIVE_DEADLINE_SECONDS < 300
    assert _container(plan)["image"] == settings.image


def test_the_probe_container_meets_the_restricted_pod_security_standard(plan: Plan) -> None:
    context = _container(plan)["securityContext"]
    assert context == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_the_probe_publishes_to_the_namespace_its_role_allows(plan: Plan) -> None:
    env = {e["name"]: e["value"] for e in _container(plan)["env"]}
    assert env["METRICS_NAMESPACE"] == NAMESPACE
    assert env["ENVIRONMENT"] == plan.stack
