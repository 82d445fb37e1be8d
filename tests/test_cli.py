"""The blueprint CLI: every command and its error paths."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from blueprint.cli import app
from blueprint.local.target import wait_for_port
from tests.conftest import PROJECT_DIR, free_port, moto_server, stack_document, stack_plan

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--help"] if not args else list(args))
    return result.exit_code, result.output


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def test_preview_prints_the_tree_and_summary() -> None:
    code, output = _invoke("preview", "dev", "--project", str(PROJECT_DIR))
    assert code == 0, output
    assert "featureplatform:platform:FeaturePlatform" in output
    assert "aws:s3/bucket:Bucket" in output
    assert "total" in output


def test_preview_in_a_pipe_keeps_long_names_whole() -> None:
    """CliRunner is not a TTY, as a pipe or a CI log: no table is cut at 80 columns."""
    code, output = _invoke("preview", "dev", "--project", str(PROJECT_DIR))
    assert code == 0, output
    assert "…" not in output
    lines = output.splitlines()
    longest = (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert any(longest in line and line.rstrip().endswith("│") for line in lines)
    plan = stack_plan("dev")
    for resource in plan.resources:
        assert any(f"{resource.type} {resource.name}" in line for line in lines), resource.name


def test_preview_writes_json_and_diagram(tmp_path: Path) -> None:
    plan_file, diagram_file = tmp_path / "plan.json", tmp_path / "arch.md"
    code, output = _invoke(
        "preview", "prod", "--project", str(PROJECT_DIR),
        "--json", str(plan_file), "--diagram", str(diagram_file),
    )  # fmt: skip
    assert code == 0, output
    plan = json.loads(plan_file.read_text())
    assert plan["stack"] == "prod" and plan["steps"][0]["op"] == "create"
    assert diagram_file.read_text().startswith("```mermaid\nflowchart LR")


def test_preview_of_an_unknown_stack_lists_the_stacks() -> None:
    code, output = _invoke("preview", "qa", "--project", str(PROJECT_DIR))
    assert code == 2
    assert "stacks in this project: dev, prod, staging" in output


def _project_with_unsafe_prod(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / "stacks").mkdir()
    document = stack_document("prod")
    document["config"]["feature-platform:storage"] = {"forceDestroy": True}
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


@pytest.mark.parametrize("command", [("preview", "prod"), ("up", "prod", "--local")])
def test_invalid_config_prints_the_programs_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    project = _project_with_unsafe_prod(tmp_path)
    code, output = _invoke(*command, "--project", str(project))
    assert code == 2  # invalid input: the exit contract's "could not run"
    assert "stacks/Pulumi.prod.yaml" in output
    assert "feature-platform:storage.forceDestroy" in output
    assert "Traceback" not in output


@pytest.mark.moto
def test_up_local_deploys_and_audits_clean(tmp_path: Path) -> None:
    findings = tmp_path / "audit.json"
    code, output = _invoke(
        "up", "dev", "--local", "--project", str(PROJECT_DIR), "--json", str(findings)
    )
    assert code == 0, output
    assert "created in moto" in output
    # "not applied" rows name the resource and property whole, on one line, in a pipe.
    assert "…" not in output
    assert any(
        "not applied by moto" in line
        and "feature-platform-cluster-eks.accessConfig (Cluster)" in line
        for line in output.splitlines()
    )
    summary = json.loads(findings.read_text())["summary"]
    assert summary["fail"] == 0 and summary["pass"] > 20


def test_up_of_an_unknown_stack_lists_the_stacks() -> None:
    code, output = _invoke("up", "qa", "--local", "--project", str(PROJECT_DIR))
    assert code == 2
    assert "stacks in this project: dev, prod, staging" in output


def test_up_without_local_names_the_fix() -> None:
    code, output = _invoke("up", "dev", "--project", str(PROJECT_DIR))
    assert code == 2
    assert "blueprint up STACK --local" in output


@pytest.mark.moto
def test_up_into_a_moto_server_then_audit_it(moto_endpoint: str) -> None:
    code, output = _invoke(
        "up", "staging", "--local", "--endpoint", moto_endpoint, "--project", str(PROJECT_DIR)
    )
    assert code == 0, output
    code, output = _invoke(
        "audit", "staging", "--endpoint", moto_endpoint, "--project", str(PROJECT_DIR)
    )
    assert code == 0, output
    assert "0 fail" in output


@pytest.mark.moto
def test_audit_fails_on_a_non_compliant_resource(moto_endpoint: str) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="eu-central-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    s3.create_bucket(
        Bucket="leaky", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    s3.put_bucket_tagging(
        Bucket="leaky", Tagging={"TagSet": [{"Key": "project", "Value": "feature-platform"}]}
    )
    code, output = _invoke(
        "audit",
        "--endpoint",
        moto_endpoint,
        "--account",
        "123456789012",
        "--region",
        "eu-central-1",
    )
    assert code == 1
    assert "S3.TLS_ONLY" in output and "fail" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--endpoint URL for a moto server"),
        (("--endpoint", "http://127.0.0.1:1", "--profile", "prod"), "exclude each other"),
    ],
)
def test_audit_argument_errors_name_the_fix(args: tuple[str, ...], message: str) -> None:
    code, output = _invoke("audit", *args)
    assert code == 2
    assert message in output


def test_audit_of_an_unreachable_endpoint_could_not_run() -> None:
    code, output = _invoke(
        "audit",
        "--endpoint",
        f"http://127.0.0.1:{free_port()}",
        "--account",
        "123456789012",
        "--region",
        "eu-central-1",
    )
    assert code == 2, output  # nothing could be judged: never a pass
    assert "cannot reach" in output


@pytest.mark.moto
def test_moto_server_command_serves_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "blueprint", "moto-server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        if not wait_for_port(port):
            pytest.fail("moto server did not start")
        sts = boto3.client(
            "sts", endpoint_url=f"http://127.0.0.1:{port}", region_name="eu-central-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        assert sts.get_caller_identity()["Account"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave a server behind
            raise
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}" in output
