"""checkov on the translated plan, run from its own environment as ``blueprint check`` runs it.

One scan covers the deliberately insecure program and the custom checks' fixtures; the
stacks are judged end to end. Suppressions and the verdict are tested without checkov.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import shutil
import subprocess
import typing
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from typer.testing import CliRunner

from blueprint.capture import capture, capture_program
from blueprint.check.errors import CheckError
from blueprint.check.judge import build_verdict, judge_stack, write_scan_inputs
from blueprint.check.report import CheckReport
from blueprint.check.verdict import CHECKOV
from blueprint.checkov import manifests as k8s
from blueprint.checkov import scan, suppressions, tfplan
from blueprint.cli import app
from blueprint.tool_env import STAMP
from tests.conftest import PROJECT_DIR, STACKS, bootstrap_plan, stack_plan
from tests.fixtures.checkov.insecure import program as insecure_program

CUSTOM = PROJECT_DIR / "tests" / "fixtures" / "checkov" / "custom"
runner = CliRunner()

INSECURE_FAILS = {
    ("CKV2_AWS_6", "aws_s3_bucket.open_bucket"),  # graph: no public access block
    ("CKV_AWS_24", "aws_security_group.world_admin"),
    ("CKV_AWS_25", "aws_security_group.world_admin"),
    ("CKV_AWS_7", "aws_kms_key.no_rotation"),
    ("CKV_AWS_158", "aws_cloudwatch_log_group.plain_logs"),
    ("CKV_AWS_79", "aws_launch_template.imds_v1"),
    ("CKV_FP_AWS_3", "aws_launch_template.imds_v1"),
    ("CKV_AWS_29", "aws_elasticache_replication_group.plain_cache"),
    ("CKV_AWS_30", "aws_elasticache_replication_group.plain_cache"),
    ("CKV_FP_AWS_2", "aws_elasticache_replication_group.plain_cache"),
    ("CKV_FP_K8S_1", "Namespace.default.lax"),
}
CUSTOM_CHECKS = ("CKV_FP_AWS_1", "CKV_FP_AWS_2", "CKV_FP_AWS_3", "CKV_FP_AWS_4", "CKV_FP_K8S_1")


@pytest.fixture(scope="module")
def fixture_scan(tmp_path_factory: pytest.TempPathFactory) -> scan.CheckovReport:
    """One checkov run over the insecure program and the custom checks' fixtures."""
    root = tmp_path_factory.mktemp("checkov")
    plan = capture_program(insecure_program, stack="insecure")
    write_scan_inputs(PROJECT_DIR, tfplan.translate(plan), k8s.render(plan), root / "insecure")
    shutil.copytree(CUSTOM, root / "custom")
    with scan.session(PROJECT_DIR) as checkov:
        return checkov.scan(root, root / "out", PROJECT_DIR / scan.CHECKS_DIR)


def _outcomes(report: scan.CheckovReport, result: str, part: str) -> set[tuple[str, str]]:
    return {
        (r.check_id, r.resource)
        for r in report.records
        if r.result == result and f"/{part}/" in f"/{r.file_path.lstrip('/')}"
    }


@pytest.mark.checkov
def test_insecure_program_gets_the_expected_checkov_ids(fixture_scan: scan.CheckovReport) -> None:
    failed = _outcomes(fixture_scan, "FAILED", "insecure")
    assert failed >= INSECURE_FAILS, INSECURE_FAILS - failed
    passed = _outcomes(fixture_scan, "PASSED", "insecure")
    # The graph check sees the bucket's public access block through the reference.
    assert ("CKV2_AWS_6", "aws_s3_bucket.good_bucket") in passed
    assert ("CKV2_AWS_6", "aws_s3_bucket.good_bucket") not in failed


@pytest.mark.checkov
@pytest.mark.parametrize("check_id", CUSTOM_CHECKS)
def test_custom_checks_pass_and_fail_their_fixtures(
    fixture_scan: scan.CheckovReport, check_id: str
) -> None:
    mine = [r for r in fixture_scan.records if r.check_id == check_id and "custom" in r.file_path]
    passed = {r.resource.rsplit(".", 1)[-1] for r in mine if r.result == "PASSED"}
    failed = {r.resource.rsplit(".", 1)[-1] for r in mine if r.result == "FAILED"}
    assert passed and failed
    assert all(name.startswith(("pass_", "pass-")) for name in passed), passed
    assert all(name.startswith(("fail_", "fail-")) for name in failed), failed
    assert {r.severity for r in mine if r.result == "FAILED"} <= {"high", "critical"}


@pytest.mark.checkov
def test_checkov_knows_every_mapped_type_but_the_newest(fixture_scan: scan.CheckovReport) -> None:
    unknown = set(tfplan.TYPE_MAP.values()) - fixture_scan.known_aws_types
    # aws_msk_topic is newer than checkov's type list: translated, reported in the notes.
    assert unknown == {"aws_msk_topic"}


@pytest.mark.checkov
@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_has_zero_unsuppressed_checkov_failures(stack: str) -> None:
    judgement = judge_stack(PROJECT_DIR, stack, capture_plan=lambda _d, s: stack_plan(s))
    verdict = judgement.verdict
    failing = [(r.rule_id, r.address) for r in verdict.failures]
    assert verdict.passed and failing == [], failing
    checkov = [r for r in verdict.results if r.source == CHECKOV]
    assert checkov and all(r.suppressed for r in checkov)
    assert not [n for n in verdict.notes if "matched nothing" in n]
    assert judgement.checkov is not None and len(judgement.checkov.records) > 300
    # The plan, the manifests and the pull-request workflow were all judged.
    frameworks = {r.framework for r in judgement.checkov.records}
    assert frameworks == {"terraform_plan", "kubernetes", "github_actions"}


@pytest.mark.checkov
@pytest.mark.parametrize("stack", STACKS)
def test_every_bootstrap_stack_passes_the_repositorys_governance(stack: str) -> None:
    """The bootstrap is judged like the platform: the pack (with its own enforcement) and
    checkov, with only its own project's suppressions, and none of the platform's reported
    as unused in it."""
    bootstrap = PROJECT_DIR / "bootstrap"
    judgement = judge_stack(bootstrap, stack, capture_plan=lambda _d, s: bootstrap_plan(s))
    verdict = judgement.verdict
    failing = [(r.rule_id, r.address) for r in verdict.failures]
    assert verdict.passed and failing == [], failing
    assert verdict.project == "feature-platform-bootstrap"
    assert not [n for n in verdict.notes if "matched nothing" in n]
    suppressed = {r.rule_id for r in verdict.results if r.source == CHECKOV and r.suppressed}
    # Only the entries written for the bootstrap (or for both projects) apply to it.
    assert suppressed <= {"CKV_AWS_61", "CKV2_AWS_62", "CKV_AWS_144", "CKV_AWS_145"}
    assert judgement.checkov is not None and len(judgement.checkov.records) > 100


@pytest.mark.checkov
def test_cli_writes_reports_and_exports_that_rescan_to_the_same_result(tmp_path: Path) -> None:
    files = {
        "--sarif": tmp_path / "check.sarif",
        "--junit": tmp_path / "check.xml",
        "--markdown": tmp_path / "check.md",
        "--json": tmp_path / "check.json",
        "--export-tfplan": tmp_path / "export" / "tfplan.json",
        "--export-manifests": tmp_path / "export" / "manifests",
    }
    args = [item for option, path in files.items() for item in (option, str(path))]
    result = runner.invoke(app, ["check", "dev", "--project", str(PROJECT_DIR), *args])
    assert result.exit_code == 0, result.output
    assert "check passed" in result.output
    sarif = json.loads(files["--sarif"].read_text())
    assert sarif["version"] == "2.1.0"
    assert {run["tool"]["driver"]["name"] for run in sarif["runs"]} >= {"checkov"}
    verdict = json.loads(files["--json"].read_text())["verdict"]
    judged = {(r["rule"], r["address"]) for r in verdict["results"] if r["source"] == CHECKOV}
    assert judged and files["--markdown"].read_text().startswith("#")
    # Re-run checkov by hand on the exports (beside the repository's workflows, as the check
    # lays them out): the same failures, no more, no fewer.
    shutil.copytree(PROJECT_DIR / ".github", tmp_path / "export" / ".github")
    out = tmp_path / "rerun"
    argv = scan.checkov_argv(tmp_path / "export", out, PROJECT_DIR / scan.CHECKS_DIR)
    python = scan.CheckovEnvironment(PROJECT_DIR).python
    subprocess.run(
        [str(python), "-m", "checkov.main", *argv], check=True, capture_output=True, cwd=tmp_path
    )
    rerun = scan.parse_report(json.loads((out / "results_json.json").read_text()))
    assert {(r.check_id, r.resource) for r in rerun if r.result == "FAILED"} == judged


# --- suppressions and the verdict, without checkov -----------------------------------------


def _suppressions(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suppressions.yaml"
    path.write_text(text)
    return path


REASON = "a reason long enough to say why it is acceptable"
BAD_FILES = [
    ("suppressions:\n  - check: CKV_AWS_1\n    resource: a.b\n", "suppression #1, key 'reason'"),
    (
        "suppressions:\n  - check: CKV_AWS_1\n    resource: a.b\n    reason: fp\n",
        "at least 20 characters",
    ),
    (f"suppressions:\n  - check: AWS_1\n    resource: a.b\n    reason: {REASON}\n", "'check'"),
    (
        f"suppressions:\n  - check: CKV_AWS_1\n    resource: a.b\n    reason: {REASON}\n"
        "    expires: someday\n",
        "'expires'",
    ),
    (  # PyYAML itself raised a bare ValueError here: a traceback, naming no entry
        f"suppressions:\n  - check: CKV_AWS_1\n    resource: a.b\n    reason: {REASON}\n"
        "    expires: 2027-13-45\n",
        "suppression #1, key 'expires': Input should be a valid date or datetime, month value "
        "is outside expected range of 1-12 (got '2027-13-45'); write the date as YYYY-MM-DD",
    ),
    (
        f"suppressions:\n  - check: CKV_AWS_1\n    resource: a.b\n    reason: {REASON}\n"
        "    expires: 2027-02-30\n",
        "key 'expires': Input should be a valid date or datetime, day value is outside",
    ),
    (
        f"suppressions:\n  - check: CKV_AWS_1\n    resource: '*'\n    reason: {REASON}\n",
        "could match any resource: name the type",
    ),
    (
        f"suppressions:\n  - check: CKV_AWS_1\n    resource: aws_*.x\n    reason: {REASON}\n",
        "could match any resource",
    ),
    (
        "suppressions:\n" + f"  - check: CKV_AWS_1\n    resource: a.b\n    reason: {REASON}\n" * 16,
        "16 suppressions exceed the budget of 15",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_suppression_files_name_the_entry_key_and_rule(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _suppressions(tmp_path, text)
    with pytest.raises(CheckError) as error:
        suppressions.load(path)
    assert str(path) in str(error.value) and message in str(error.value)


def _record(check_id: str, resource: str, severity: str = "high") -> scan.CheckRecord:
    return scan.CheckRecord(check_id, "name", "FAILED", "terraform_plan", resource, "/p", severity)


def _verdict(
    tmp_path: Path, text: str, records: list[scan.CheckRecord], threshold: str = "low"
) -> tuple[object, list[str], list[str], list[str]]:
    plan = capture_program(insecure_program, stack="dev")
    report = scan.CheckovReport(version="3", records=records)
    verdict = build_verdict(
        plan,
        CheckReport(project=plan.project, stack="dev"),
        tfplan.translate(plan),
        k8s.Manifests(),
        report,
        suppressions.load(_suppressions(tmp_path, text)),
        threshold=threshold,
        today=datetime.date(2026, 11, 25),
    )
    return verdict.passed, [r.rule_id for r in verdict.failures], verdict.errors, verdict.notes


def test_a_matching_suppression_accepts_the_failure_and_others_still_fail(tmp_path: Path) -> None:
    text = (
        f"suppressions:\n  - check: CKV_AWS_7\n    resource: aws_kms_key.*\n    reason: {REASON}\n"
    )
    records = [_record("CKV_AWS_7", "aws_kms_key.no_rotation")]
    assert _verdict(tmp_path, text, records) == (True, [], [], [])
    records.append(_record("CKV_AWS_158", "aws_cloudwatch_log_group.plain_logs"))
    assert _verdict(tmp_path, text, records)[:2] == (False, ["CKV_AWS_158"])


def test_suppressions_apply_only_to_their_stacks(tmp_path: Path) -> None:
    text = (
        f"suppressions:\n  - check: CKV_AWS_7\n    resource: aws_kms_key.*\n"
        f"    stacks: [prod]\n    reason: {REASON}\n"
    )
    assert _verdict(tmp_path, text, [_record("CKV_AWS_7", "aws_kms_key.no_rotation")])[:2] == (
        False,
        ["CKV_AWS_7"],
    )


def test_an_expired_suppression_fails_the_check(tmp_path: Path) -> None:
    text = (
        f"suppressions:\n  - check: CKV_AWS_7\n    resource: aws_kms_key.*\n"
        f"    reason: {REASON}\n    expires: 2026-11-24\n"
    )
    passed, failures, errors, _ = _verdict(
        tmp_path, text, [_record("CKV_AWS_7", "aws_kms_key.no_rotation")]
    )
    assert not passed and failures == []
    assert len(errors) == 1 and "expired on 2026-11-24" in errors[0]
    renewed = text.replace("2026-11-24", "2026-11-25")  # valid through its expiry day
    assert _verdict(tmp_path, renewed, [_record("CKV_AWS_7", "aws_kms_key.no_rotation")])[0]


def test_an_unused_suppression_is_reported(tmp_path: Path) -> None:
    text = (
        f"suppressions:\n  - check: CKV_AWS_7\n    resource: aws_kms_key.*\n    reason: {REASON}\n"
    )
    passed, _, _, notes = _verdict(tmp_path, text, [])
    assert passed and any("#1 (CKV_AWS_7 on aws_kms_key.*) matched nothing" in n for n in notes)


def test_the_threshold_decides_which_severities_fail(tmp_path: Path) -> None:
    records = [
        _record("CKV_AWS_7", "aws_kms_key.no_rotation", "high"),
        _record("CKV_FP_AWS_2", "aws_elasticache_replication_group.plain_cache", "critical"),
    ]
    assert _verdict(tmp_path, "", records, "high")[1] == ["CKV_AWS_7", "CKV_FP_AWS_2"]
    assert _verdict(tmp_path, "", records, "critical")[1] == ["CKV_FP_AWS_2"]
    assert _verdict(tmp_path, "", records[:1], "critical")[0] is True


def test_unrated_checkov_failures_count_as_high() -> None:
    document = {
        "check_type": "terraform_plan",
        "results": {
            "failed_checks": [{"check_id": "CKV_AWS_7", "resource": "a.b", "severity": None}]
        },
    }
    (record,) = scan.parse_report(document)
    assert record.severity == scan.DEFAULT_SEVERITY == "high"


def test_governance_doc_names_every_suppression_and_custom_check() -> None:
    doc = (PROJECT_DIR / "docs" / "governance.md").read_text()
    accepted = suppressions.load(PROJECT_DIR / suppressions.SUPPRESSIONS_FILE)
    assert [s.check for s in accepted.entries if s.check not in doc] == []
    assert f"Today there are {len(accepted.entries)}," in doc
    checks = sorted((PROJECT_DIR / scan.CHECKS_DIR).glob("fp_*.py"))
    ids = [i for p in checks for i in re.findall(r'id="(CKV_FP_\w+)"', p.read_text())]
    assert len(ids) == len(CUSTOM_CHECKS) and set(ids) == set(CUSTOM_CHECKS)
    assert [i for i in CUSTOM_CHECKS if f"| {i} |" not in doc] == []


def test_workflows_add_the_github_actions_framework(tmp_path: Path) -> None:
    assert "github_actions" not in scan.checkov_argv(tmp_path, tmp_path / "out", None)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    argv = scan.checkov_argv(tmp_path, tmp_path / "out", None)
    assert argv[argv.index("--framework") + 1 :][:3] == [
        "terraform_plan",
        "kubernetes",
        "github_actions",
    ]
    assert "--skip-download" in argv and "--external-checks-dir" not in argv


def _open_kafka(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult | None:
    """A regression: Kafka clients without authentication, in plain text."""
    if args.type_ != "aws:msk/cluster:Cluster":
        return None
    props = dict(args.props)
    props["client_authentication"] = {"unauthenticated": True, "sasl": {"iam": True}}
    encryption = typing.cast(aws.msk.ClusterEncryptionInfoArgs, props["encryption_info"])
    props["encryption_info"] = {
        "encryption_at_rest_kms_key_arn": encryption.encryption_at_rest_kms_key_arn,
        "encryption_in_transit": {"client_broker": "TLS_PLAINTEXT", "in_cluster": True},
    }
    return pulumi.ResourceTransformationResult(props, args.opts)


@pytest.mark.checkov
def test_a_regression_fails_naming_the_check_and_the_pulumi_resource() -> None:
    mutated = functools.partial(capture, preview=True, transformations=[_open_kafka])
    judgement = judge_stack(PROJECT_DIR, "prod", capture_plan=mutated, threshold="critical")
    verdict = judgement.verdict
    assert not verdict.passed
    failing = {(r.source, r.rule_id, r.resource_name) for r in verdict.failures}
    # checkov's own checks count as high: under a critical threshold only our custom check
    # fails of checkov's; the pack's violations are mandatory and fail at any threshold.
    cluster = "feature-platform-streaming-cluster"
    assert {r for r in failing if r[0] == CHECKOV} == {(CHECKOV, "CKV_FP_AWS_1", cluster)}
    below = {r.rule_id for r in verdict.results if r.blocking and not r.counts_at("critical")}
    assert "CKV_AWS_81" in below  # MSK data in transit: checkov's, high
    pack = {r[1] for r in failing if r[0] == "policy-pack"}
    assert {"msk-tls-in-transit", "msk-iam-auth-only"} <= pack, pack


def _start_fake_runner(tmp_path: Path, script: str) -> tuple[scan.CheckovSession, str]:
    """A stand-in for checkov's interpreter; the error ready() raises for it."""
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\n{script}\n")
    python.chmod(0o755)
    checkov = scan.CheckovSession(python, tmp_path)
    try:
        with pytest.raises(CheckError) as error:
            checkov.ready()
    finally:
        checkov.close()
    return checkov, str(error.value)


def test_checkov_that_dies_at_start_reports_why(tmp_path: Path) -> None:
    _, error = _start_fake_runner(tmp_path, "echo 'ModuleNotFoundError: checkov' >&2\nexit 3")
    assert "checkov exited with 3 (starting)" in error
    assert "ModuleNotFoundError: checkov" in error


def test_the_environment_is_stale_when_the_lock_changes(tmp_path: Path) -> None:
    environment = scan.CheckovEnvironment(tmp_path)
    environment.lock.parent.mkdir(parents=True)
    environment.lock.write_text("checkov==1\n")
    assert not environment.is_current()  # nothing installed
    environment.python.parent.mkdir(parents=True)
    environment.python.touch()
    (environment.directory / STAMP).write_text(environment.lock_hash() + "\n")
    assert environment.is_current()
    environment.lock.write_text("checkov==2\n")
    assert not environment.is_current()


def test_cli_names_a_bad_suppression_file_and_exits_2(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns(".venv", ".tools", ".git", "node_modules", "tests"),
    )
    (project / suppressions.SUPPRESSIONS_FILE).write_text(
        "suppressions:\n  - check: CKV_AWS_7\n    resource: aws_kms_key.*\n"
    )
    result = runner.invoke(app, ["check", "dev", "--no-checkov", "--project", str(project)])
    assert result.exit_code == 2, result.output
    assert "suppressions.yaml: suppression #1, key 'reason'" in result.output


def test_a_scan_that_judged_nothing_cannot_pass() -> None:
    def report(summaries: dict[str, dict[str, int]], ids: list[str]) -> scan.CheckovReport:
        records = [_record(i, "a.b") for i in ids]
        return scan.CheckovReport(version="3", records=records, summaries=summaries)

    expected = {"terraform_plan": 150, "kubernetes": 30}
    good = {"terraform_plan": {"resource_count": 150}, "kubernetes": {"resource_count": 30}}
    assert report(good, ["CKV_FP_AWS_1"]).problems(expected, custom_checks=True) == []
    # checkov skipped the plan (no terraform_version, say): zero resources, zero failures.
    skipped = {**good, "terraform_plan": {"resource_count": 0}}
    (problem,) = report(skipped, ["CKV_FP_AWS_1"]).problems(expected, custom_checks=True)
    assert "judged none of the 150 terraform_plan resources" in problem
    broken = {**good, "kubernetes": {"resource_count": 30, "parsing_errors": 2}}
    (problem,) = report(broken, ["CKV_FP_AWS_1"]).problems(expected, custom_checks=True)
    assert problem == "checkov could not parse 2 kubernetes file(s)"
    (problem,) = report(good, ["CKV_AWS_7"]).problems(expected, custom_checks=True)
    assert "no CKV_FP_* check ran" in problem


def test_a_runner_that_breaks_the_protocol_is_an_error(tmp_path: Path) -> None:
    checkov, error = _start_fake_runner(tmp_path, "echo 'Loading checks...'\nsleep 5")
    assert "wrote 'Loading checks...' (starting), not its protocol" in error
    assert checkov.popen.returncode is not None  # stopped, not left running
