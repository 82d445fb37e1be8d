"""``blueprint preflight``: prerequisites and quotas of an account against the stack's plan.

Run against moto, in-process (``mock_aws``) and through the CLI against a moto server. moto's
Service Quotas model knows the VPC quotas only and lacks GetAWSDefaultServiceQuota; the
``quotas`` fixture plants applied or default values in its backend where a test needs them.
Everywhere else a quota moto lacks is "not checked", and that fails unless allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.models import ServiceQuotasBackend
from moto.servicequotas.resources.default_quotas.vpc import VPC_DEFAULT_QUOTAS
from moto.servicequotas.responses import ServiceQuotasResponse
from typer.testing import CliRunner

from blueprint.audit.model import Status
from blueprint.capture import Plan, PlannedResource
from blueprint.cli import app
from blueprint.local.target import AwsTarget
from blueprint.preflight.docs import BLOCKS, RUNBOOK_PATH
from blueprint.preflight.model import RUNBOOK, Line, PreflightContext, PreflightReport
from blueprint.preflight.needs import PlanNeeds, plan_needs, reserved_concurrency
from blueprint.preflight.prerequisites import PREREQUISITES
from blueprint.preflight.quotas import QUOTAS
from blueprint.preflight.runner import run_preflight
from tests.conftest import (
    PROJECT_DIR,
    free_port,
    moto_server,
    stack_config,
    stack_document,
    stack_plan,
)

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
DEV_ACCOUNT = "111111111111"  # stacks/Pulumi.dev.yaml
MOTO_DEFAULT_ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEV_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
DEV_ROLES = ("feature-platform-deployer", "feature-platform-key-admin", "feature-platform-admin")
STATE_ALIAS = "alias/feature-platform-dev-pulumi-state"
# Realistic defaults (AWS's documented ones) for the quotas moto does not model.
AWS_DEFAULTS = {
    ("lambda", "L-B99A9384"): 1000.0,
    ("ec2", "L-0263D0A3"): 5.0,
    ("kafka", "L-EDD31C36"): 90.0,
    ("eks", "L-1194D53C"): 100.0,
    ("elasticache", "L-DFE45DF3"): 300.0,
}

runner = CliRunner()


@dataclass
class PlantedQuotas:
    """Values moto's Service Quotas backend answers with, on top of its own VPC defaults."""

    applied: dict[tuple[str, str], float] = field(default_factory=dict)
    default: dict[tuple[str, str], float] = field(default_factory=dict)


def _quota(service: str, code: str, value: float) -> dict[str, Any]:
    return {"ServiceCode": service, "QuotaCode": code, "QuotaName": code, "Value": value}


@pytest.fixture
def quotas(monkeypatch: pytest.MonkeyPatch) -> PlantedQuotas:
    planted = PlantedQuotas()
    original = ServiceQuotasBackend.get_service_quota

    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        if (service_code, quota_code) in planted.applied:
            value = planted.applied[(service_code, quota_code)]
            return _quota(service_code, quota_code, value)
        return original(self, service_code, quota_code)

    def get_aws_default_service_quota(self: ServiceQuotasResponse) -> str:
        # moto 5.2 has no handler for this call; AWS answers with the default value.
        params = json.loads(self.body)
        key = (str(params["ServiceCode"]), str(params["QuotaCode"]))
        vpc = {("vpc", str(q["QuotaCode"])): float(str(q["Value"])) for q in VPC_DEFAULT_QUOTAS}
        value = planted.default.get(key, vpc.get(key))
        if value is None:
            raise NoSuchResource
        return json.dumps({"Quota": _quota(*key, value)})

    monkeypatch.setattr(ServiceQuotasBackend, "get_service_quota", get_service_quota)
    monkeypatch.setattr(
        ServiceQuotasResponse,
        "get_aws_default_service_quota",
        get_aws_default_service_quota,
        raising=False,
    )
    return planted


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setenv("MOTO_ACCOUNT_ID", DEV_ACCOUNT)  # moto acts as the dev stack's account


@pytest.fixture
def account(moto_env: None) -> Iterator[None]:
    with mock_aws():
        yield


def bootstrap(endpoint: str | None = None, *, skip: tuple[str, ...] = ()) -> None:
    """What the runbook's step 1 creates for the dev stack (minus ``skip``)."""
    kw: dict[str, Any] = {"region_name": REGION, "endpoint_url": endpoint}
    iam = boto3.client("iam", **kw)
    for role in DEV_ROLES:
        if role not in skip:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    if "AWSServiceRoleForAutoScaling" not in skip:
        iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    if STATE_ALIAS not in skip:
        kms = boto3.client("kms", **kw)
        key = kms.create_key(Description="pulumi state")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=STATE_ALIAS, TargetKeyId=key)


def dev_context(needs: PlanNeeds | None = None) -> PreflightContext:
    return PreflightContext(
        target=AwsTarget(region=REGION),
        config=stack_config("dev"),
        needs=needs or plan_needs(stack_plan("dev")),
        account=DEV_ACCOUNT,
        secrets_provider=stack_document("dev")["secretsprovider"],
    )


def lines_by_check(report: PreflightReport) -> dict[str, Line]:
    lines = {line.check: line for line in report.lines}
    assert len(lines) == len(report.lines), "one line per check for the dev stack"
    return lines


# --- the plan's needs (no AWS) -----------------------------------------------------------


def _resource(type_: str, name: str, **inputs: Any) -> PlannedResource:
    return PlannedResource(
        urn=f"urn:pulumi:test::p::{type_}::{name}", type=type_, name=name, custom=True,
        parent="", provider="", inputs=inputs, secret_inputs=[], protect=False,
        retain_on_delete=False, depends_on=[], property_dependencies={},
    )  # fmt: skip


def test_reserved_concurrency_sums_positive_reservations_only() -> None:
    function = "aws:lambda/function:Function"
    plan = Plan(
        project="p",
        stack="test",
        resources=[
            _resource(function, "a", reservedConcurrentExecutions=7.0),
            _resource(function, "b", reservedConcurrentExecutions=-1.0),  # provider default
            _resource(function, "c", reservedConcurrentExecutions=0.0),  # throttled, reserves 0
            _resource(function, "d"),
        ],
        outputs={},
    )
    assert reserved_concurrency(plan) == 7


def test_prod_needs_count_what_the_plan_creates() -> None:
    needs = plan_needs(stack_plan("prod"))
    assert needs.vpcs == {"": 1}
    assert needs.elastic_ips == {"": 3}
    assert needs.nat_gateways_per_az == dict.fromkeys(
        ("eu-central-1a", "eu-central-1b", "eu-central-1c"), 1
    )
    assert list(needs.interface_endpoints_per_vpc.values()) == [7]
    assert needs.msk_brokers == {"": 3}
    assert needs.eks_clusters == {"": 1}
    assert needs.cache_nodes == {"": 9}  # 3 shards x (primary + 2 replicas)


# --- against moto, in-process ------------------------------------------------------------


def test_a_bootstrapped_account_passes(account: None, quotas: PlantedQuotas) -> None:
    quotas.default.update(AWS_DEFAULTS)
    bootstrap()
    report = run_preflight(dev_context(), "dev")
    lines = lines_by_check(report)
    expected = {p.id for p in PREREQUISITES if p.id} - {"PREREQ.PERMISSIONS_BOUNDARY"}
    assert set(lines) == expected | {q.id for q in QUOTAS}
    assert {c: line.status for c, line in lines.items()} == dict.fromkeys(lines, Status.PASS)
    assert "(AWS default)" in lines["QUOTA.EKS_CLUSTERS"].detail
    assert report.exit_code() == 0


def test_quotas_moto_lacks_are_not_checked_and_fail_unless_allowed(account: None) -> None:
    bootstrap()
    report = run_preflight(dev_context(), "dev")
    not_checked = {line.check for line in report.lines if line.status is Status.NOT_CHECKED}
    assert not_checked == {
        "QUOTA.ELASTIC_IPS",
        "QUOTA.MSK_BROKERS",
        "QUOTA.EKS_CLUSTERS",
        "QUOTA.CACHE_NODES",
    }
    assert report.count(Status.FAIL) == 0
    assert report.exit_code() == 1
    assert report.exit_code(allow_not_checked=True) == 0


SLR_FIX = "aws iam create-service-linked-role --aws-service-name autoscaling.amazonaws.com"
KEY_FIX = f"create a symmetric KMS key with {STATE_ALIAS} in {REGION}: see {RUNBOOK}"


@pytest.mark.parametrize(
    ("missing", "check", "fix"),
    [
        *((role, check, f"create role {role}: see {RUNBOOK}") for role, check in zip(
            DEV_ROLES,
            ("PREREQ.DEPLOYER_ROLE", "PREREQ.KEY_ADMIN_ROLE", "PREREQ.CLUSTER_ADMIN_ROLE"),
            strict=True,
        )),
        ("AWSServiceRoleForAutoScaling", "PREREQ.AUTOSCALING_SLR", SLR_FIX),
        (STATE_ALIAS, "PREREQ.STATE_KEY", KEY_FIX),
    ],
)  # fmt: skip
def test_a_missing_prerequisite_fails_naming_the_fix(
    account: None, quotas: PlantedQuotas, missing: str, check: str, fix: str
) -> None:
    quotas.default.update(AWS_DEFAULTS)
    bootstrap(skip=(missing,))
    report = run_preflight(dev_context(), "dev")
    failed = {line.check: line for line in report.lines if line.status is Status.FAIL}
    assert set(failed) == {check}
    assert failed[check].fix == fix
    assert report.exit_code(allow_not_checked=True) == 1


def test_a_disabled_state_key_fails(account: None) -> None:
    bootstrap()
    kms = boto3.client("kms", region_name=REGION)
    kms.disable_key(KeyId=kms.describe_key(KeyId=STATE_ALIAS)["KeyMetadata"]["KeyId"])
    line = lines_by_check(run_preflight(dev_context(), "dev"))["PREREQ.STATE_KEY"]
    assert line.status is Status.FAIL
    assert "is Disabled" in line.detail


def test_the_prod_boundary_policy_is_checked_when_the_stack_names_one(account: None) -> None:
    config = stack_config("prod")
    ctx = replace(dev_context(), config=config, account="333333333333")
    lines = [line for line in run_preflight(ctx, "prod").lines if "BOUNDARY" in line.check]
    assert [(line.subject, line.status) for line in lines] == [
        (config.identity.permissions_boundary_arn, Status.FAIL)
    ]
    assert "create policy feature-platform-workload-boundary" in lines[0].fix


def _reserve(concurrency: int) -> None:
    """A function already in the account, holding ``concurrency`` of the pool."""
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="other-team", AssumeRolePolicyDocument=TRUST
    )["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(
        FunctionName="other-team-fn", Runtime="python3.12", Role=role, Handler="h.h",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    lam.put_function_concurrency(
        FunctionName="other-team-fn", ReservedConcurrentExecutions=concurrency
    )


@pytest.mark.parametrize(
    "case",
    [
        # (applied quota, reserved by functions already there, reserved by the plan, result)
        (10.0, 0, 1, Status.FAIL),  # a new account: 10 < 100 unreserved, nothing to reserve
        (1000.0, 898, 2, Status.PASS),  # exactly 100 stay unreserved
        (1000.0, 898, 3, Status.FAIL),
        (10.0, 0, 0, Status.PASS),  # the plan reserves nothing: any quota will do
    ],
)
def test_lambda_reservations_leave_100_unreserved(
    account: None, quotas: PlantedQuotas, case: tuple[float, int, int, Status]
) -> None:
    applied, already_reserved, planned, status = case
    quotas.applied[("lambda", "L-B99A9384")] = applied
    if already_reserved:
        _reserve(already_reserved)
    needs = replace(plan_needs(stack_plan("dev")), reserved_concurrency={"": planned})
    line = lines_by_check(run_preflight(dev_context(needs), "dev"))["QUOTA.LAMBDA_CONCURRENCY"]
    assert line.status is status, line.detail
    if status is Status.FAIL:
        assert "L-B99A9384" in line.fix
        assert f"to at least {already_reserved + planned + 100}" in line.fix


def test_a_planted_small_vpc_quota_fails_naming_the_code(
    account: None, quotas: PlantedQuotas
) -> None:
    quotas.applied[("vpc", "L-F678F1CE")] = 1.0  # moto's default VPC already uses it
    line = lines_by_check(run_preflight(dev_context(), "dev"))["QUOTA.VPCS"]
    assert line.status is Status.FAIL
    assert "quota 1 (applied)" in line.detail and "1 in use + 1 planned" in line.detail
    assert "request a quota increase for L-F678F1CE" in line.fix and "to at least 2" in line.fix


def test_nat_gateways_count_per_availability_zone(account: None, quotas: PlantedQuotas) -> None:
    quotas.applied[("vpc", "L-FE5A380F")] = 1.0
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.99.1.0/24", AvailabilityZone="eu-central-1b"
    )
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_nat_gateway(SubnetId=subnet["Subnet"]["SubnetId"], AllocationId=eip)
    needs = plan_needs(stack_plan("prod"))  # one NAT gateway in each of 1a, 1b, 1c
    line = lines_by_check(run_preflight(dev_context(needs), "dev"))["QUOTA.NAT_GATEWAYS"]
    assert line.status is Status.FAIL
    assert "eu-central-1b: 1 in use + 1 planned" in line.detail
    assert "eu-central-1a: 0 in use + 1 planned" in line.detail


def test_a_verdict_that_judged_nothing_fails_even_when_not_checked_is_allowed() -> None:
    report = PreflightReport(
        stack="dev",
        account=DEV_ACCOUNT,
        region=REGION,
        lines=[Line("QUOTA.VPCS", "L-F678F1CE", Status.NOT_CHECKED, "AccessDenied")],
    )
    assert report.exit_code(allow_not_checked=True) == 1
    assert report.as_json()["summary"] == {
        "pass": 0, "fail": 0, "not checked": 1, "judged": 0, "exit_code": 1
    }  # fmt: skip


# --- through the CLI, against a moto server ----------------------------------------------


@pytest.fixture
def server(moto_env: None) -> Iterator[str]:
    # In this process, so the planted quotas and MOTO_ACCOUNT_ID apply to its answers.
    with moto_server() as url:
        yield url


def preflight(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["preflight", *args, "--project", str(PROJECT_DIR)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_cli_passes_a_bootstrapped_account_and_writes_the_lines(
    server: str, quotas: PlantedQuotas, tmp_path: Path
) -> None:
    quotas.default.update(AWS_DEFAULTS)
    bootstrap(server)
    out = tmp_path / "preflight.json"
    code, output = preflight("dev", "--endpoint", server, "--json", str(out))
    assert code == 0, output
    assert f"preflight of dev in account {DEV_ACCOUNT} ({REGION}): 13 of 13 lines judged" in output
    document = json.loads(out.read_text())
    assert (document["account"], document["region"]) == (DEV_ACCOUNT, REGION)
    assert {line["result"] for line in document["lines"]} == {"pass"}
    assert document["summary"]["exit_code"] == 0


def test_cli_not_checked_fails_unless_allowed(server: str) -> None:
    bootstrap(server)
    code, output = preflight("dev", "--endpoint", server)
    assert code == 1
    assert "not checked" in output and "L-EDD31C36" in output
    code, output = preflight("dev", "--endpoint", server, "--allow-not-checked")
    assert code == 0, output


def test_cli_missing_deployer_role_fails_naming_the_fix(server: str, tmp_path: Path) -> None:
    bootstrap(server, skip=("feature-platform-deployer",))
    out = tmp_path / "preflight.json"
    code, output = preflight("dev", "--endpoint", server, "--allow-not-checked", "--json", str(out))
    assert code == 1
    assert "1 fail" in output
    (failed,) = [line for line in json.loads(out.read_text())["lines"] if line["result"] == "fail"]
    assert failed["check"] == "PREREQ.DEPLOYER_ROLE"
    assert failed["fix"] == f"create role feature-platform-deployer: see {RUNBOOK}"


def test_cli_refuses_another_account(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", MOTO_DEFAULT_ACCOUNT)
    code, output = preflight("dev", "--endpoint", server)
    assert code == 2
    assert f"reach account {MOTO_DEFAULT_ACCOUNT}" in output and DEV_ACCOUNT in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dev",), "--profile NAME for a real account"),
        (("dev", "--endpoint", "http://127.0.0.1:1", "--profile", "p"), "exclude each other"),
        (("dev", "--endpoint", ""), "is not a URL"),
        (("dev", "--endpoint", "127.0.0.1:5000"), "is not a URL"),
        (("qa", "--endpoint", "http://127.0.0.1:1"), "stacks in this project: dev, prod, staging"),
        (("dev", "--profile", "no-such-profile-here"), "no AWS profile 'no-such-profile-here'"),
    ],
)
def test_cli_input_errors_exit_2_naming_the_fix(
    moto_env: None, args: tuple[str, ...], message: str
) -> None:
    code, output = preflight(*args)
    assert code == 2
    assert message in " ".join(output.split())


def test_cli_unreachable_endpoint_exits_2(moto_env: None) -> None:
    code, output = preflight("dev", "--endpoint", f"http://127.0.0.1:{free_port()}")
    assert code == 2
    assert "cannot reach" in output and "blueprint moto-server" in output


# --- the generated runbook table ---------------------------------------------------------


@pytest.mark.parametrize("marker", sorted(BLOCKS))
def test_runbook_shows_the_current_definitions(marker: str) -> None:
    assert BLOCKS[marker]() in RUNBOOK_PATH.read_text(), (
        "run `python -m blueprint.preflight.docs --write`"
    )
