"""The audit judges what the stack's plan deploys.

Every check names the Pulumi types it judges; a check applies to a plan holding any of them.
The platform's stacks get every check; the bootstrap project only the S3, KMS and IAM ones,
the others reported as not applicable (never dropped silently); a plan to which no check
applies judged nothing, and fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from rich.console import Console
from typer.testing import CliRunner

from blueprint.audit.applicability import applicability
from blueprint.audit.command import Where, judge, show, verdict_line
from blueprint.audit.model import CHECKS, AuditContext, check
from blueprint.audit.runner import DEFAULT_SCOPE, run_audit
from blueprint.cli import app
from blueprint.fidelity.facts import known_types
from blueprint.local.target import MOTO_CONFIG, AwsTarget
from tests.conftest import (
    BOOTSTRAP_DIR,
    STACKS,
    bootstrap_plan,
    planned_resource,
    stack_plan,
    synthetic_plan,
)

BOOTSTRAP_CHECKS = {
    "S3.ENCRYPTION",
    "S3.PUBLIC_ACCESS_BLOCK",
    "S3.VERSIONING",
    "S3.TLS_ONLY",
    "KMS.ROTATION",
    "IAM.NO_ADMIN_WILDCARDS",
}
"""What the bootstrap deploys (state bucket and its log bucket, the state key, the roles)."""
REGION = "eu-central-1"


# --- every check names real types ---------------------------------------------------------------


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_every_check_judges_types_the_provider_facts_know(check_id: str) -> None:
    types = CHECKS[check_id].types
    assert types
    # A platform component's token (featureplatform:tenant:Tenant) is what some plan holds.
    components = {
        r.type for r in stack_plan("dev").resources if r.type.startswith("featureplatform:")
    }
    assert set(types) <= known_types() | components, set(types) - known_types() - components


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ((), "names no resource type it judges"),
        (("aws:s3/Bucket",), "aws:s3/Bucket is not an aws type token"),
        (("s3:Bucket",), "s3:Bucket is not an aws type token"),
    ],
)
def test_a_check_without_valid_types_is_refused_at_registration(
    types: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check("TEST.NO_TYPES", "t", service="s3", permissions=(), types=types)(lambda _: [])
    assert "TEST.NO_TYPES" not in CHECKS


def test_types_are_a_required_argument() -> None:
    with pytest.raises(TypeError, match="types"):
        check("TEST.NO_TYPES", "t", service="s3", permissions=())  # type: ignore[call-arg]
    assert "TEST.NO_TYPES" not in CHECKS


# --- which checks apply -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_check_applies_to_the_platforms_stacks(stack: str) -> None:
    applies = applicability(stack_plan(stack))
    assert applies.applicable == tuple(CHECKS)
    assert applies.not_applicable == {}


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_s3_kms_and_iam_checks_apply_to_the_bootstrap(stack: str) -> None:
    applies = applicability(bootstrap_plan(stack))
    assert set(applies.applicable) == BOOTSTRAP_CHECKS
    assert set(applies.not_applicable) == set(CHECKS) - BOOTSTRAP_CHECKS
    plan = f"feature-platform-bootstrap/{stack}"
    assert applies.plan == plan
    assert applies.not_applicable["EKS.PRIVATE_ENCRYPTED_LOGGED"] == (
        f"the plan of {plan} has no aws:eks/cluster:Cluster"
    )
    assert applies.not_applicable["ALERTS.HEALTH"] == (
        f"the plan of {plan} has no aws:msk/cluster:Cluster or "
        "aws:elasticache/replicationGroup:ReplicationGroup"
    )


def test_a_check_applies_when_any_of_its_types_is_planned() -> None:
    plan = synthetic_plan(planned_resource("w", "aws:amp/workspace:Workspace"))
    assert applicability(plan).applicable == ("ALERTS.SLO_BURN",)


# --- a plan to which no check applies judged nothing ------------------------------------------


@pytest.fixture
def moto_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws(config=MOTO_CONFIG):
        yield AwsTarget(region=REGION)


def test_an_empty_selection_runs_no_check(moto_target: AwsTarget) -> None:
    report = run_audit(AuditContext(target=moto_target), only=set())
    assert report.checks == [] and report.findings == []


@pytest.mark.moto
def test_a_plan_without_aws_resources_fails_judging_nothing(moto_target: AwsTarget) -> None:
    plan = synthetic_plan(
        planned_resource("aws", "pulumi:providers:aws"),
        planned_resource("password", "random:index/randomPassword:RandomPassword"),
    )
    where = Where("123456789012", REGION, dict(DEFAULT_SCOPE), "dev")
    report = judge(moto_target, where, applicability(plan))
    assert report.checks == [] and report.findings == []
    assert report.exit_code() == 1
    assert report.exit_code(allow_not_checked=True) == 1
    document = report.as_json()
    assert document["plan"] == "p/dev"
    not_applicable = document["not_applicable"]
    assert isinstance(not_applicable, dict) and set(not_applicable) == set(CHECKS)
    line = verdict_line(report, allow_not_checked=False)
    assert f"judged by 0 of {len(CHECKS)} checks" in line
    assert "no check applies to the plan of p/dev: the audit judged nothing" in line
    console = Console(record=True, width=1000)
    show(report, console, "t", allow_not_checked=False)
    assert "EKS.PRIVATE_ENCRYPTED_LOGGED not applicable: the plan of p/dev has no" in (
        console.export_text()
    )


# --- up --local of the bootstrap ------------------------------------------------------------


@pytest.mark.moto
def test_up_of_the_bootstrap_passes_the_checks_that_apply(tmp_path: Path) -> None:
    """It used to fail: the platform's checks found nothing in an account of the bootstrap."""
    findings = tmp_path / "audit.json"
    result = CliRunner().invoke(
        app, ["up", "dev", "--local", "--project", str(BOOTSTRAP_DIR), "--json", str(findings)]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    plan = "feature-platform-bootstrap/dev"
    for check_id in sorted(set(CHECKS) - BOOTSTRAP_CHECKS):
        assert f"{check_id} not applicable: the plan of {plan} has no " in result.output
    assert f"judged by 6 of {len(CHECKS)} checks (the others not applicable): pass" in (
        result.output
    )
    document = json.loads(findings.read_text())
    assert document["plan"] == plan
    assert set(document["checks"]) == BOOTSTRAP_CHECKS
    assert all(counts["judged"] > 0 for counts in document["checks"].values())
    assert set(document["not_applicable"]) == set(CHECKS) - BOOTSTRAP_CHECKS
    assert document["summary"]["fail"] == document["summary"]["not checked"] == 0
