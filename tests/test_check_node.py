"""``blueprint check`` with a real Node.js policy pack (``tests/fixtures/node-policy-pack``).

Needs node and the pack's dependencies (``make node-pack`` runs ``npm ci`` there; ``make
test`` does it first whenever node is on PATH); without them every test here is skipped
with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from blueprint.capture import Plan
from blueprint.check import PackRequest, check_plan, command, load_pack
from blueprint.check.driver import running
from blueprint.check.pack import NODE_ENTRY
from blueprint.cli import app
from tests.conftest import PROJECT_DIR, stack_plan

NODE_PACK = Path(__file__).parent / "fixtures" / "node-policy-pack"
BUCKETS = {
    "feature-platform-storage-access-logs-bucket",
    "feature-platform-storage-registry-bucket",
    "feature-platform-storage-offline-store-bucket",
}

pytestmark = [
    pytest.mark.policy,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (NODE_PACK / NODE_ENTRY).exists(),
        reason=f"the Node.js test pack has no dependencies: run `make node-pack` "
        f"(npm ci in {NODE_PACK})",
    ),
]
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", *args, "--no-checkov", "--project", str(PROJECT_DIR)])
    return result.exit_code, result.output


def _names(findings: list[dict[str, Any]], policy: str) -> set[str]:
    return {f["urn"].rsplit("::", 1)[-1] for f in findings if f["policy"] == policy}


def test_node_pack_describes_its_policies() -> None:
    target = command.stack_target(PROJECT_DIR, "dev")
    with running([PackRequest(load_pack(NODE_PACK))], target, workers=1) as started:
        session = started.packs()[0][0]
        info = {p.name: p for p in session.info.policies}
        assert session.info.name == "blueprint-node-test"
        assert session.info.version == "0.1.0"
        assert set(info) == {"s3-no-force-destroy", "s3-bucket-encryption-resource"}
        assert (info["s3-no-force-destroy"].kind, info["s3-no-force-destroy"].severity) == (
            "resource",
            "high",
        )
        assert info["s3-bucket-encryption-resource"].kind == "stack"
        # The schema default reaches the pack through Configure (with `properties` present).
        assert session.config["s3-bucket-encryption-resource"].properties == {"exemptNames": []}


def test_node_pack_fails_dev_on_force_destroy(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    code, output = _invoke("dev", "--policy-pack", str(NODE_PACK), "--json", str(report_file))
    assert code == 1, output
    assert "s3-no-force-destroy" in output
    report = json.loads(report_file.read_text())
    assert _names(report["findings"], "s3-no-force-destroy") == BUCKETS
    finding = next(f for f in report["findings"] if f["policy"] == "s3-no-force-destroy")
    assert (finding["enforcementLevel"], finding["severity"]) == ("mandatory", "high")
    assert finding["message"].endswith("forceDestroy is true: deleting the stack deletes the data")
    # Every bucket has an encryption configuration whose `bucket` depends on it.
    assert _names(report["findings"], "s3-bucket-encryption-resource") == set()


def test_node_pack_passes_prod() -> None:
    code, output = _invoke("prod", "--policy-pack", str(NODE_PACK))
    assert code == 0, output
    assert "policy check passed" in output


def test_property_dependencies_reach_the_node_pack() -> None:
    """Control for the test above: without property dependencies every bucket is reported."""
    plan = stack_plan("dev")
    blind = Plan(
        project=plan.project,
        stack=plan.stack,
        outputs=plan.outputs,
        resources=[dataclasses.replace(r, property_dependencies={}) for r in plan.resources],
    )
    target = command.stack_target(PROJECT_DIR, "dev")
    report = check_plan(blind, [PackRequest(load_pack(NODE_PACK))], target, workers=1)
    findings = [f.as_json() for f in report.findings]
    assert _names(findings, "s3-bucket-encryption-resource") == BUCKETS


def test_node_pack_config_and_validation(tmp_path: Path) -> None:
    relaxed = tmp_path / "relaxed.json"
    relaxed.write_text(json.dumps({"s3-no-force-destroy": "advisory"}))
    code, output = _invoke(
        "dev", "--policy-pack", str(NODE_PACK), "--policy-pack-config", str(relaxed)
    )
    assert code == 0, output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"s3-bucket-encryption-resource": {"exemptNames": "all"}}))
    code, output = _invoke("dev", "--policy-pack", str(NODE_PACK), "--policy-pack-config", str(bad))
    assert code == 2, output
    assert "property 'exemptNames': 'all' is not of type 'array'" in " ".join(output.split())


def test_python_and_node_packs_together(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    code, output = _invoke(
        "prod",
        "--policy-pack",
        str(PROJECT_DIR / "policies"),
        "--policy-pack",
        str(NODE_PACK),
        "--policy-pack-config",
        str(PROJECT_DIR / "policies" / "config" / "prod.json"),
        "--json",
        str(report_file),
    )
    report = json.loads(report_file.read_text())
    assert [p["name"] for p in report["packs"]] == ["feature-platform", "blueprint-node-test"]
    assert [p["config"] is not None for p in report["packs"]] == [True, False]
    assert code == (0 if report["passed"] else 1), output
