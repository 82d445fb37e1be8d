"""``blueprint audit`` judges exactly the account, region and scope it was given.

Through the CLI, against moto: the account and region come from a stack or from explicit
``--account``/``--region`` (never a default); a moto endpoint is told the account, a profile
must reach it; a check with nothing in scope, or not checked, fails unless allowed; a run
that judged nothing fails even then; a target that cannot be reached is exit 2.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pulumi
import pytest
import yaml
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from typer.testing import CliRunner

from blueprint.audit import command
from blueprint.audit.model import CHECKS
from blueprint.audit.runner import DEFAULT_SCOPE
from blueprint.cli import app
from tests.conftest import (
    PROJECT_DIR,
    free_port,
    moto_server,
    planned_resource,
    stack_document,
    synthetic_plan,
)

STACK = "dev"
ACCOUNT = "111111111111"  # the dev stack's accountId
REGION = "eu-west-1"  # not the CLI's old default, eu-central-1
OTHER_REGION = "eu-central-1"
REGIONAL_CHECKS = {
    check_id
    for check_id, check in CHECKS.items()
    if check.service
    in {
        "ec2",
        "eks",
        "kafka",
        "elasticache",
        "kms",
        "logs",
        "secretsmanager",
        "cloudwatch",
        "sns",
        "kafka, elasticache",
        "cloudwatch, aps",
    }
}
"""Checks whose resources live in one region (IAM is global; ListBuckets lists every region's
buckets). Importing the runner above registered every check."""

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def audit_json(*args: str, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "audit.json"
    code, output = invoke("audit", *args, "--json", str(path))
    return code, json.loads(path.read_text()), output


def judged_per_check(document: dict[str, Any]) -> dict[str, int]:
    return {check_id: counts["judged"] for check_id, counts in document["checks"].items()}


@dataclass(frozen=True)
class Deployed:
    endpoint: str
    project: Path
    code: int
    output: str
    audit: dict[str, Any]
    """What ``up``'s audit wrote with ``--json``."""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The dev stack moved to eu-west-1, deployed once by ``up --local`` into a moto server."""
    project = tmp_path_factory.mktemp("project")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, project / name)
    shutil.copytree(PROJECT_DIR / "tenants", project / "tenants")  # the feature teams too
    (project / "stacks").mkdir()
    document = stack_document(STACK)
    document["config"]["feature-platform:aws"]["region"] = REGION
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(document))
    findings = project / "up-audit.json"
    with moto_server() as endpoint:
        code, output = invoke(
            "up", STACK, "--local", "--endpoint", endpoint,
            "--project", str(project), "--json", str(findings),
        )  # fmt: skip
        yield Deployed(endpoint, project, code, output, json.loads(findings.read_text()))


# --- up --local audits the stack's own region and account ---------------------------------------


@pytest.mark.moto
def test_up_audits_the_stacks_own_region_and_account(deployed: Deployed) -> None:
    assert deployed.code == 0, deployed.output
    document = deployed.audit
    assert (document["account"], document["region"], document["stack"]) == (ACCOUNT, REGION, STACK)
    assert document["scope"] == {**DEFAULT_SCOPE, "environment": STACK}
    judged = judged_per_check(document)
    assert set(judged) == set(CHECKS)
    assert all(n > 0 for n in judged.values()), judged  # EC2, EKS, MSK, … all found in eu-west-1
    assert document["summary"]["fail"] == document["summary"]["not checked"] == 0
    assert document["not_applicable"] == {}  # the plan it deployed: every check applies
    assert f"in scope: account {ACCOUNT}, region {REGION} (stack {STACK})" in deployed.output


# --- the account and region come from a stack or explicit options ------------------------------


@pytest.mark.moto
def test_audit_of_a_stack_reads_its_account_region_and_environment(
    deployed: Deployed, tmp_path: Path
) -> None:
    code, document, output = audit_json(
        "--stack", STACK, "--endpoint", deployed.endpoint, "--project", str(deployed.project),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert code == 0, output
    assert judged_per_check(document) == judged_per_check(deployed.audit)
    assert (
        f"in scope: account {ACCOUNT}, region {REGION} (stack {STACK}); resources tagged "
        "project=feature-platform, environment=dev"
    ) in output
    assert "audit: " in output and "0 fail, 0 not checked" in output
    # The stack's plan, captured offline, selected the checks: every one applies to it.
    assert document["plan"] == f"feature-platform/{STACK}"
    assert document["not_applicable"] == {}
    assert f"judged by {len(CHECKS)} of {len(CHECKS)} checks" in output


@pytest.mark.moto
def test_a_stack_whose_plan_no_check_applies_to_judged_nothing(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = synthetic_plan(planned_resource("aws", "pulumi:providers:aws"))
    monkeypatch.setattr(command, "capture", lambda *_: empty)
    code, document, output = audit_json(
        STACK, "--endpoint", deployed.endpoint, "--project", str(deployed.project),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert code == 1, output
    assert document["checks"] == {} and set(document["not_applicable"]) == set(CHECKS)
    assert "no check applies to the plan of p/dev: the audit judged nothing" in output
    code, output = invoke(
        "audit", STACK, "--endpoint", deployed.endpoint, "--project", str(deployed.project),
        "--allow-not-checked",
    )  # fmt: skip
    assert code == 1, output


@pytest.mark.moto
def test_a_plan_that_cannot_be_captured_is_exit_2(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise pulumi.RunError("the program refused its config")

    monkeypatch.setattr(command, "capture", broken)
    code, output = invoke(
        "audit", STACK, "--endpoint", deployed.endpoint, "--project", str(deployed.project)
    )
    assert code == 2, output
    assert f"cannot capture stack {STACK}'s plan, which selects the checks that apply" in output
    assert "RunError: the program refused its config" in output


@pytest.mark.moto
def test_audit_with_an_explicit_account_and_region_sends_the_account(
    deployed: Deployed, tmp_path: Path
) -> None:
    code, document, output = audit_json(
        "--endpoint", deployed.endpoint, "--account", ACCOUNT, "--region", REGION,
        tmp_path=tmp_path,
    )  # fmt: skip
    assert code == 0, output
    assert (document["account"], document["region"], document["stack"]) == (ACCOUNT, REGION, None)
    assert document["scope"] == DEFAULT_SCOPE
    assert all(n > 0 for n in judged_per_check(document).values())


@pytest.mark.moto
def test_moto_s_default_account_holds_nothing_and_fails_even_when_allowed(
    deployed: Deployed, tmp_path: Path
) -> None:
    """The old `audit --endpoint URL` read moto's default account and passed, judging nothing."""
    args = ("--endpoint", deployed.endpoint, "--account", DEFAULT_ACCOUNT_ID, "--region", REGION)
    code, document, output = audit_json(*args, tmp_path=tmp_path)
    assert code == 1, output
    assert document["summary"]["judged"] == 0
    assert {f["detail"].split(":")[0] for f in document["findings"]} == {"nothing in scope"}

    code, output = invoke("audit", *args, "--allow-not-checked")
    assert code == 1, output
    assert "nothing could be judged" in output


@pytest.mark.moto
def test_another_region_fails_naming_the_checks_with_nothing_in_scope(
    deployed: Deployed, tmp_path: Path
) -> None:
    """`up` used to audit eu-central-1 whatever the stack's region: regional checks vanished."""
    args = ("--endpoint", deployed.endpoint, "--account", ACCOUNT, "--region", OTHER_REGION)
    code, document, output = audit_json(*args, tmp_path=tmp_path)
    assert code == 1, output
    nothing_in_scope = {
        f["check"] for f in document["findings"] if f["detail"].startswith("nothing in scope:")
    }
    assert nothing_in_scope == REGIONAL_CHECKS
    # The buckets are listed (ListBuckets is global), but their eu-west-1 key is not found here.
    assert {f["check"] for f in document["findings"] if f["result"] == "not checked"} == {
        *REGIONAL_CHECKS,
        "S3.ENCRYPTION",
    }
    assert all(judged_per_check(document)[c] == 0 for c in nothing_in_scope)
    assert "not checked is not a pass" in output

    code, output = invoke("audit", *args, "--allow-not-checked")
    assert code == 0, output  # IAM and S3 judged resources; the empty checks are allowed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--endpoint", "http://127.0.0.1:1"), "say which account and region to audit"),
        (
            ("--endpoint", "http://127.0.0.1:1", "--account", ACCOUNT),
            "say which account and region to audit",
        ),
        (
            (STACK, "--endpoint", "http://127.0.0.1:1", "--region", REGION),
            f"--region {REGION} contradicts stack {STACK}, which deploys to eu-central-1",
        ),
        (
            (STACK, "--endpoint", "http://127.0.0.1:1", "--account", DEFAULT_ACCOUNT_ID),
            f"--account {DEFAULT_ACCOUNT_ID} contradicts stack {STACK}, which deploys to {ACCOUNT}",
        ),
        (
            (STACK, "--stack", "prod", "--endpoint", "http://x:1"),
            "STACK dev and --stack prod differ",
        ),
        (("qa", "--endpoint", "http://x:1"), "stacks in this project: dev, prod, staging"),
        (
            ("--endpoint", "http://x:1", "--account", "1111", "--region", REGION),
            "is not an AWS account ID",
        ),
        (
            ("--endpoint", "http://x:1", "--account", ACCOUNT, "--region", "eu-wst-1"),
            "is not an AWS region",
        ),
    ],
)
def test_what_to_audit_must_be_said_and_consistent(args: tuple[str, ...], message: str) -> None:
    code, output = invoke("audit", *args, "--project", str(PROJECT_DIR))
    assert code == 2
    assert message in output


# --- a target that cannot be reached is exit 2, naming the fix -----------------------------------


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS config of our own: profile ``keys`` has (fake) keys, ``empty`` has none."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    config = tmp_path / "config"
    config.write_text(
        "[profile keys]\nregion = eu-central-1\n[profile empty]\nregion = eu-west-1\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text("[keys]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups
    return config


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--profile", "nosuchprofile"), "no AWS profile 'nosuchprofile': add it to ~/.aws/config"),
        (("--profile", "empty"), "no credentials for profile empty: log in"),
        (("--endpoint", f"http://127.0.0.1:{free_port()}"), "cannot reach http://127.0.0.1:"),
    ],
    ids=["unknown-profile", "no-credentials", "dead-endpoint"],
)
@pytest.mark.parametrize("what", [(STACK,), ("--account", ACCOUNT, "--region", REGION)])
def test_an_unreachable_target_is_exit_2_naming_the_fix(
    aws_config: Path, what: tuple[str, ...], args: tuple[str, ...], message: str
) -> None:
    """These used to exit 0: "0 pass, 0 fail, 15 not checked"."""
    code, output = invoke("audit", *what, *args, "--project", str(PROJECT_DIR))
    assert code == 2, output
    assert message in output


def _conformant_bucket(name: str) -> None:
    """A bucket every S3 check passes, and its rotating CMK (in moto's default account)."""
    kms: Any = boto3.client("kms", region_name=OTHER_REGION)
    key = kms.create_key(Tags=[{"TagKey": "project", "TagValue": "feature-platform"}])
    kms.enable_key_rotation(KeyId=key["KeyMetadata"]["KeyId"])
    s3: Any = boto3.client("s3", region_name=OTHER_REGION)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": OTHER_REGION})
    s3.put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": [{"Key": "project", "Value": "feature-platform"}]}
    )
    default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["KeyMetadata"]["Arn"]}
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
        },
    )
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    s3.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration=dict.fromkeys(flags, True)
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(
        Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    )


@pytest.mark.moto
def test_a_profile_must_reach_the_stacks_account(aws_config: Path) -> None:
    with mock_aws():  # the profile's calls go to moto, which answers as its default account
        code, output = invoke("audit", STACK, "--profile", "keys", "--project", str(PROJECT_DIR))
    assert code == 2, output
    assert f"profile keys reaches account {DEFAULT_ACCOUNT_ID}" in output
    assert f"the audit is of account {ACCOUNT} (stack {STACK}'s aws.accountId)" in output


@pytest.mark.moto
def test_a_profile_of_the_right_account_is_audited(
    aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    args = ("--profile", "keys", "--account", DEFAULT_ACCOUNT_ID, "--region", OTHER_REGION)
    with mock_aws():
        _conformant_bucket("conformant")
        code, output = invoke("audit", *args)
        allowed, allowed_output = invoke("audit", *args, "--allow-not-checked")
    assert code == 1, output  # judged the bucket and its key; nothing in scope elsewhere
    assert "not checked is not a pass" in output
    assert allowed == 0, allowed_output
    assert f"in scope: account {DEFAULT_ACCOUNT_ID}, region {OTHER_REGION}" in allowed_output
