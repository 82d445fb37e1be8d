"""``blueprint check``: the offline CrossGuard driver, its config handling and the CLI verdict.

Tests marked ``policy`` start real pack processes (``policies/`` and the small Python pack in
``tests/fixtures/python-policy-pack``) and talk to them over gRPC, as the Pulumi CLI does.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws
import pytest
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2 as proto
from typer.testing import CliRunner

from blueprint.capture import SECRET_SIG, SECRET_SIG_KEY, Plan, capture, capture_program
from blueprint.check import (
    CheckError,
    PackError,
    PackRequest,
    PolicyConfigError,
    StackTarget,
    check_plan,
    command,
    driver,
    enforcement,
    load_pack,
    pack_requests,
)
from blueprint.check.config import PolicyConfig, PolicyMeta, read_config_file, reconcile
from blueprint.check.driver import PackSession, running
from blueprint.check.judge import build_verdict, judge_stack
from blueprint.check.pack import PolicyPackDir
from blueprint.check.process import PackProcess, launched, pack_environment
from blueprint.check.report import CheckReport, PackRun
from blueprint.check.verdict import Verdict
from blueprint.check.wire import STACK_TYPE, Wire, wire_resources
from blueprint.checkov import manifests as k8s
from blueprint.checkov import scan, suppressions
from blueprint.cli import app
from blueprint.exitcodes import CONTRACT
from policies.rules import CATALOGUE
from tests.conftest import PROJECT_DIR, stack_plan

FIXTURES = Path(__file__).parent / "fixtures"
TEST_PACK = FIXTURES / "python-policy-pack"
OUR_PACK = PROJECT_DIR / "policies"
runner = CliRunner()

KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


# --- a small program for the test pack ---------------------------------------------------


def _program(rotate: bool = True) -> Callable[[], None]:
    def build() -> None:
        key = aws.kms.Key("data-key", enable_key_rotation=rotate)
        bucket = aws.s3.Bucket("data", force_destroy=True)
        aws.s3.BucketServerSideEncryptionConfiguration(
            "data-sse",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    }
                }
            ],
        )
        aws.cloudwatch.LogGroup("app-logs", retention_in_days=60)
        aws.cloudwatch.LogGroup("legacy-logs", retention_in_days=1)
        aws.secretsmanager.SecretVersion(
            "token", secret_id="token", secret_string=pulumi.Output.secret("s3cr3t")
        )

    return build


@functools.cache
def small_plan(rotate: bool = True) -> Plan:
    return capture_program(_program(rotate), preview=True)


def _target(plan: Plan) -> StackTarget:
    return StackTarget(project=plan.project, stack=plan.stack)


def _write(tmp_path: Path, config: Any, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def run_test_pack(plan: Plan, config: Path | None = None, workers: int = 1) -> CheckReport:
    return check_plan(
        plan, [PackRequest(load_pack(TEST_PACK), config)], _target(plan), workers=workers
    )


def reported(report: CheckReport, policy: str) -> dict[str, str]:
    """Resource name (or ``(stack)``) to the detail of each finding of ``policy``."""
    return {
        (f.urn.rsplit("::", 1)[-1] if f.urn else "(stack)"): f.detail
        for f in report.findings
        if f.policy == policy
    }


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", *args, "--no-checkov", "--project", str(PROJECT_DIR)])
    return result.exit_code, result.output


# --- config files: parsing and reconciling (no pack process) ------------------------------

INVALID_FILES = [
    ("{", "is not valid JSON"),
    ('["all"]', "must hold a JSON object"),
    ('{"all": "strict"}', "'all': \"strict\" is not an enforcement level; use one of advisory"),
    ('{"p": {"enforcementLevel": 1}}', "'p.enforcementLevel': 1 is not an enforcement level"),
    ('{"p": 3}', "'p': 3 is neither an enforcement level"),
    ('{"all": {"enforcementLevel": "mandatory", "x": 1}}', "'all' takes only an enforcement level"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_FILES)
def test_invalid_config_files_name_the_file_key_and_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(PolicyConfigError) as error:
        read_config_file(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_config_file_forms(tmp_path: Path) -> None:
    path = _write(tmp_path, {"all": "mandatory", "p": {"enforcementLevel": "remediate", "n": 2}})
    assert read_config_file(path) == {
        "all": PolicyConfig("mandatory"),
        "p": PolicyConfig("remediate", {"n": 2}),
    }
    (tmp_path / "empty.json").write_text("\n")
    assert read_config_file(tmp_path / "empty.json") == {}


META = PolicyMeta(
    name="p",
    description="",
    enforcement_level="mandatory",
    severity=None,
    kind="resource",
    schema_properties={
        "n": {"type": "integer", "minimum": 1, "default": 1},
        "s": {"type": "string", "default": "schema"},
        "t": {"type": "string", "enum": ["a", "b"], "default": "a"},
    },
)
OTHER = PolicyMeta(
    name="q", description="", enforcement_level="advisory", severity=None, kind="stack"
)


def test_reconcile_layers_defaults_then_initial_then_user() -> None:
    initial = {"p": PolicyConfig("advisory", {"n": 2, "s": "initial"})}
    user = {"p": PolicyConfig(None, {"n": 3}), "all": PolicyConfig("disabled")}
    merged = reconcile([META, OTHER], initial, {})
    assert merged["p"] == PolicyConfig("advisory", {"n": 2, "s": "initial", "t": "a"})
    assert merged["q"] == PolicyConfig("advisory", {})
    merged = reconcile([META, OTHER], initial, user)
    # "all" first, then the policy's own entry (which sets no level: "all" stays).
    assert merged["p"] == PolicyConfig("disabled", {"n": 3, "s": "initial", "t": "a"})
    assert merged["q"] == PolicyConfig("disabled", {})


BAD_VALUES = [
    ({"zz": "advisory"}, "no policy named 'zz' in this pack; its policies are: p, q"),
    ({"p": {"nn": 1}}, "policy 'p' has no property 'nn'; its properties: n, s, t"),
    ({"q": {"x": 1}}, "policy 'q' has no property 'x'; its properties: none"),
    (
        {"p": {"n": 0}},
        "policy 'p', property 'n': 0 is less than the minimum of 1; "
        'allowed: {"type": "integer", "minimum": 1}',
    ),
    ({"p": {"t": "c"}}, "policy 'p', property 't': 'c' is not one of ['a', 'b']"),
    ({"p": {"s": 5}}, "policy 'p', property 's': 5 is not of type 'string'"),
]


@pytest.mark.parametrize(("config", "message"), BAD_VALUES)
def test_reconcile_names_the_file_policy_property_and_what_is_allowed(
    config: dict[str, Any], message: str
) -> None:
    user = {
        k: PolicyConfig(None, v) if isinstance(v, dict) else PolicyConfig(v)
        for k, v in config.items()
    }
    with pytest.raises(PolicyConfigError) as error:
        reconcile([META, OTHER], {}, user, source=Path("cfg/dev.json"))
    assert str(error.value).startswith("cfg/dev.json: ")
    assert message in str(error.value)


def test_a_bad_value_from_the_pack_itself_is_not_blamed_on_the_file() -> None:
    with pytest.raises(PolicyConfigError) as error:
        reconcile([META], {"p": PolicyConfig(None, {"n": -1})}, {}, source=Path("dev.json"))
    assert "the pack's schema defaults or initial config: policy 'p', property 'n'" in str(
        error.value
    )


# --- the wire: what the engine would send -------------------------------------------------


def test_wire_adds_the_stack_and_default_provider_and_rewraps_secrets() -> None:
    plan = small_plan()
    resources = wire_resources(plan, {"aws:region": "eu-west-1"})
    assert resources[0].type == STACK_TYPE
    assert resources[0].urn == plan.resources[0].parent
    provider = next(r for r in resources if r.type == "pulumi:providers:aws")
    assert provider.name.startswith("default_7_")
    assert provider.inputs["region"] == "eu-west-1"
    wire = Wire(resources)
    token = next(r for r in resources if r.name == "token")
    request = wire.request(token, internal_keys=False)
    sent = json_format.MessageToDict(request.properties)
    assert sent["secretString"] == {SECRET_SIG_KEY: SECRET_SIG, "value": "s3cr3t"}
    assert sent["secretId"] == "token"
    assert request.provider.urn == provider.urn
    assert request.provider.name == provider.name
    assert request.options.parent == resources[0].urn
    stack = wire.stack_request()
    sse = next(r for r in stack.resources if r.type == SSE)
    key = next(r for r in resources if r.type == KEY)
    assert list(sse.propertyDependencies["rules"].urns) == [key.urn]
    assert key.urn in sse.dependencies
    # AnalyzeStack sees outputs: the mocks' ARN of the key is there.
    key_props = next(r for r in stack.resources if r.urn == key.urn).properties
    assert str(json_format.MessageToDict(key_props)["arn"]).startswith("arn:aws:kms:")


def test_capture_applies_transformations() -> None:
    plan = small_plan(rotate=False)
    assert plan.named(KEY, "data-key").inputs["enableKeyRotation"] is False

    def keep(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if args.type_ != BUCKET:
            return None
        return pulumi.ResourceTransformationResult(
            {**args.props, "force_destroy": False}, args.opts
        )

    mutated = capture_program(_program(), transformations=[keep])
    assert mutated.named(BUCKET, "data").inputs["forceDestroy"] is False


# --- pack directories and their errors ----------------------------------------------------


def test_pack_and_config_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CheckError, match=r"policy pack directory .* does not exist"):
        load_pack(tmp_path / "missing")
    with pytest.raises(CheckError, match=r"has no PulumiPolicy\.yaml"):
        load_pack(tmp_path)
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: go\n")
    with pytest.raises(CheckError, match="runtime 'go' is not supported here; use one of"):
        load_pack(tmp_path)
    with pytest.raises(CheckError, match="2 --policy-pack-config files but 1 --policy-pack"):
        pack_requests(PROJECT_DIR, "dev", [TEST_PACK], [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(CheckError, match=r"no policy enforcement config for stack 'qa'"):
        pack_requests(PROJECT_DIR, "qa", [], [])
    defaults = pack_requests(PROJECT_DIR, "dev", [], [])
    assert [(r.pack.directory, r.config_file) for r in defaults] == [
        (OUR_PACK, PROJECT_DIR / "policies" / "config" / "dev.json")
    ]
    paired = pack_requests(PROJECT_DIR, "dev", [TEST_PACK, OUR_PACK], [tmp_path / "a"])
    assert [r.config_file for r in paired] == [tmp_path / "a", None]


def test_node_pack_errors_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = tmp_path / "node-pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: nodejs\n")
    code, output = _invoke("dev", "--policy-pack", str(pack))
    if shutil.which("node"):
        assert code == 2, output
        assert f"run npm ci in {pack}" in " ".join(output.split())
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, output = _invoke("dev", "--policy-pack", str(pack))
    assert code == 2, output
    assert "node is not installed" in output


def test_cli_errors_exit_2(tmp_path: Path) -> None:
    code, output = _invoke("dev", "--policy-pack", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in output, output
    code, output = _invoke("dev", "--policy-pack", str(tmp_path))
    assert code == 2 and "has no PulumiPolicy.yaml" in output, output


# --- pack processes -----------------------------------------------------------------------


@pytest.mark.policy
def test_a_pack_that_dies_at_start_reports_its_stderr(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import sys\nsys.stderr.write('cannot load rules: boom\\n')\nsys.exit(3)\n"
    )
    pack = load_pack(tmp_path)
    with pytest.raises(PackError) as error, launched(pack, pack_environment_for(pack)) as process:
        process.address()
    assert "exited with status 3" in str(error.value)
    assert "cannot load rules: boom" in str(error.value)


@pytest.mark.policy
def test_a_pack_that_never_listens_times_out_and_is_stopped(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("import time\ntime.sleep(60)\n")
    pack = load_pack(tmp_path)
    with (
        launched(pack, pack_environment_for(pack)) as process,
        pytest.raises(PackError, match="did not print its port within 1 s"),
    ):
        process.address(timeout=1.0)
    assert process.popen.poll() is not None


@pytest.mark.policy
def test_a_pack_that_dies_during_analysis_reports_where_and_its_stderr(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import os, sys\n"
        "from pulumi_policy import PolicyPack, ResourceValidationPolicy\n"
        "def crash(args, report):\n"
        "    if args.resource_type == 'aws:kms/key:Key':\n"
        "        sys.stderr.write('out of memory, say\\n'); sys.stderr.flush(); os._exit(7)\n"
        "PolicyPack('crashing', policies=[ResourceValidationPolicy("
        "name='crash', description='Crashes.', validate=crash)])\n"
    )
    plan = small_plan()
    with pytest.raises(PackError) as error:
        check_plan(plan, [PackRequest(load_pack(tmp_path))], _target(plan), workers=1)
    message = str(error.value)
    assert f"failed Analyze of {plan.named(KEY, 'data-key').urn}: UNAVAILABLE" in message
    assert "exited with status 7" in message
    assert "out of memory, say" in message


def pack_environment_for(pack: PolicyPackDir) -> dict[str, str]:
    return pack_environment(
        pack, project="p", stack="s", organization="organization", config={}, dry_run=True
    )


@pytest.fixture
def spied_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every pack process the driver starts, to check that each is stopped."""
    started: list[Any] = []
    real = launched

    @contextmanager
    def spy(pack: PolicyPackDir, env: Mapping[str, str]) -> Iterator[PackProcess]:
        with real(pack, env) as process:
            started.append(process)
            yield process

    monkeypatch.setattr(driver, "launched", spy)
    yield started


@pytest.mark.policy
def test_packs_are_stopped_even_when_the_check_fails(
    tmp_path: Path, spied_processes: list[Any]
) -> None:
    config = _write(tmp_path, {"min-log-retention": {"minimumDays": 0}})
    plan = small_plan()
    with pytest.raises(PolicyConfigError):
        check_plan(plan, [PackRequest(load_pack(TEST_PACK), config)], _target(plan), workers=2)
    assert len(spied_processes) == 2
    assert all(p.popen.poll() is not None for p in spied_processes)
    spied_processes.clear()
    with pytest.raises(RuntimeError), running([PackRequest(load_pack(TEST_PACK))], _target(plan)):
        raise RuntimeError("the capture failed")
    assert spied_processes and all(p.popen.poll() is not None for p in spied_processes)


@pytest.mark.policy
def test_our_pack_lists_its_policies_with_their_configured_levels() -> None:
    plan = small_plan()
    config = PROJECT_DIR / "policies" / "config" / "dev.json"
    with running([PackRequest(load_pack(OUR_PACK), config)], _target(plan), workers=1) as started:
        session = started.packs()[0][0]
        assert session.info.name == "feature-platform"
        assert session.info.version == "0.1.0"  # PulumiPolicy.yaml's, not the SDK's 0.0.1
        assert {p.name for p in session.info.policies} == set(CATALOGUE)
        for policy in session.info.policies:
            assert policy.kind == CATALOGUE[policy.name].kind
            assert policy.severity == CATALOGUE[policy.name].severity.value
        levels = json.loads(config.read_text())
        if set(levels) == {"all"}:
            assert set(session.run().policies.values()) == {levels["all"]}


@pytest.mark.policy
def test_rpcs_follow_the_engines_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[str, Any]] = []
    real = PackSession.call

    def spy(self: PackSession, method: str, request: Any, **kwargs: Any) -> Any:
        calls.append((method, request))
        return real(self, method, request, **kwargs)

    monkeypatch.setattr(PackSession, "call", spy)
    config = _write(tmp_path, {"bucket-no-force-destroy": "remediate"})
    run_test_pack(small_plan(), config)
    methods = [method for method, _ in calls]
    assert methods[:4] == ["Handshake", "ConfigureStack", "GetAnalyzerInfo", "Configure"]
    assert methods[-1] == "AnalyzeStack"
    body = methods[4:-1]
    # Per resource: Remediate, then Analyze on the result.
    assert body == ["Remediate", "Analyze"] * (len(body) // 2)
    stack_request = calls[1][1]
    assert stack_request.dry_run and stack_request.stack == "test"


@pytest.mark.policy
def test_configure_always_sends_level_and_properties(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[proto.ConfigureAnalyzerRequest] = []
    real = PackSession.call

    def spy(self: PackSession, method: str, request: Any, **kwargs: Any) -> Any:
        if method == "Configure":
            sent.append(request)
        return real(self, method, request, **kwargs)

    monkeypatch.setattr(PackSession, "call", spy)
    run_test_pack(small_plan())
    (request,) = sent
    levels = {name: c.enforcementLevel for name, c in request.policyConfig.items()}
    assert levels == {
        "min-log-retention": proto.ADVISORY,
        "kms-key-rotation": proto.MANDATORY,
        "sse-key-rotates": proto.MANDATORY,
        "bucket-no-force-destroy": proto.ADVISORY,
    }
    assert all(c.HasField("properties") for c in request.policyConfig.values())
    retention = json_format.MessageToDict(request.policyConfig["min-log-retention"].properties)
    assert retention == {"minimumDays": 90, "exemptPrefixes": ["legacy-"]}


@pytest.mark.policy
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # Initial config (90) beats the schema default (30); the default prefix exempts legacy-.
        (None, {"app-logs": "retentionInDays 60 is below the minimum of 90"}),
        # The user's file beats the initial config, property by property.
        ({"min-log-retention": {"minimumDays": 7}}, {}),
        (
            {"min-log-retention": {"exemptPrefixes": []}},
            {
                "app-logs": "retentionInDays 60 is below the minimum of 90",
                "legacy-logs": "retentionInDays 1 is below the minimum of 90",
            },
        ),
    ],
)
def test_config_layers_reach_the_pack_before_analysis(
    tmp_path: Path, config: dict[str, Any] | None, expected: dict[str, str]
) -> None:
    path = _write(tmp_path, config) if config is not None else None
    assert reported(run_test_pack(small_plan(), path), "min-log-retention") == expected


@pytest.mark.policy
def test_enforcement_levels_decide_the_verdict(tmp_path: Path) -> None:
    clean = run_test_pack(small_plan())
    assert {f.enforcement_level for f in clean.findings} == {"advisory"}
    assert clean.passed and clean.exit_code == 0
    # Declared mandatory in the pack: stays mandatory (level 0 would have made it advisory).
    failing = run_test_pack(small_plan(rotate=False))
    (finding,) = [f for f in failing.findings if f.policy == "kms-key-rotation"]
    assert (finding.enforcement_level, finding.severity) == ("mandatory", "high")
    assert finding.detail == "automatic key rotation is off"
    assert failing.exit_code == 1
    relaxed = run_test_pack(
        small_plan(rotate=False),
        _write(tmp_path, {"kms-key-rotation": "advisory", "sse-key-rotates": "disabled"}),
    )
    assert relaxed.passed
    strict = run_test_pack(small_plan(), _write(tmp_path, {"all": "mandatory"}, "all.json"))
    assert {f.policy for f in strict.at_level("mandatory")} == {
        "min-log-retention",
        "bucket-no-force-destroy",
    }
    assert not strict.passed


@pytest.mark.policy
def test_property_dependencies_reach_stack_policies() -> None:
    assert reported(run_test_pack(small_plan()), "sse-key-rotates") == {}
    assert reported(run_test_pack(small_plan(rotate=False)), "sse-key-rotates") == {
        "data-sse": "its rules use data-key, which does not rotate"
    }
    # Control: the policy needs them; without property dependencies it cannot find the key.
    plan = small_plan()
    blind = Plan(
        project=plan.project,
        stack=plan.stack,
        outputs=plan.outputs,
        resources=[
            dataclasses.replace(r, property_dependencies={}, depends_on=[]) for r in plan.resources
        ],
    )
    assert reported(run_test_pack(blind), "sse-key-rotates") == {
        "data-sse": "its rules depend on no KMS key of this stack"
    }


@pytest.mark.policy
def test_remediation_round_trip(tmp_path: Path) -> None:
    plan = small_plan()
    before = run_test_pack(plan)
    assert reported(before, "bucket-no-force-destroy") == {"data": "forceDestroy is on"}
    assert before.remediations == []
    config = _write(tmp_path, {"all": "mandatory", "bucket-no-force-destroy": "remediate"})
    fixed = run_test_pack(plan, config)
    (remediation,) = fixed.remediations
    assert remediation.policy == "bucket-no-force-destroy"
    assert remediation.urn == plan.named(BUCKET, "data").urn
    assert (remediation.changed, remediation.removed) == ({"forceDestroy": False}, [])
    # Analyze saw the remediated bucket: fixed, so no finding for it.
    assert reported(fixed, "bucket-no-force-destroy") == {}
    assert fixed.as_json()["summary"]["remediated"] == 1
    # The plan itself is left as captured.
    assert plan.named(BUCKET, "data").inputs["forceDestroy"] is True


@pytest.mark.policy
def test_workers_do_not_change_the_report() -> None:
    plan = stack_plan("dev")
    target = command.stack_target(PROJECT_DIR, "dev")
    requests = pack_requests(PROJECT_DIR, "dev", [], [])
    one = check_plan(plan, requests, target, workers=1).as_json()
    three = check_plan(plan, requests, target, workers=3).as_json()
    assert one == three


# --- the CLI ------------------------------------------------------------------------------


@pytest.mark.policy
def test_cli_advisory_only_passes_and_all_mandatory_fails(tmp_path: Path) -> None:
    code, output = _invoke("dev", "--policy-pack", str(TEST_PACK))
    assert code == 0, output
    assert "advisory" in output and "policy check passed" in output
    strict = _write(tmp_path, {"all": "mandatory"})
    report_file = tmp_path / "report.json"
    code, output = _invoke(
        "dev",
        "--policy-pack",
        str(TEST_PACK),
        "--policy-pack-config",
        str(strict),
        "--json",
        str(report_file),
    )
    assert code == 1, output
    assert "policy check failed" in output
    report = json.loads(report_file.read_text())
    assert report["passed"] is False
    assert report["packs"][0]["config"] == str(strict)
    assert set(report["packs"][0]["policies"].values()) == {"mandatory"}
    finding = report["findings"][0]
    assert set(finding) == {
        "policy",
        "pack",
        "packVersion",
        "severity",
        "enforcementLevel",
        "urn",
        "message",
        "description",
    }
    assert finding["pack"] == "blueprint-python-test" and finding["packVersion"] == "1.2.3"
    assert report["summary"]["mandatory"] == len(report["findings"]) > 0


@pytest.mark.policy
def test_cli_clean_stack_exits_0() -> None:
    code, output = _invoke("prod", "--policy-pack", str(TEST_PACK))
    assert code == 0, output
    assert "policy check passed (0 advisory, 0 remediated)" in output


@pytest.mark.policy
def test_cli_reports_remediations(tmp_path: Path) -> None:
    config = _write(tmp_path, {"bucket-no-force-destroy": "remediate"})
    report_file = tmp_path / "report.json"
    code, output = _invoke(
        "dev",
        "--policy-pack",
        str(TEST_PACK),
        "--policy-pack-config",
        str(config),
        "--json",
        str(report_file),
    )
    assert code == 0, output
    assert "remediated by policy" in output
    remediations = json.loads(report_file.read_text())["remediations"]
    assert {r["urn"].rsplit("::", 1)[-1] for r in remediations} == {
        "feature-platform-storage-access-logs-bucket",
        "feature-platform-storage-registry-bucket",
        "feature-platform-storage-offline-store-bucket",
    }
    assert all(r["changed"] == {"forceDestroy": False} for r in remediations)


@pytest.mark.policy
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"min-log-retentoin": "mandatory"},
            "no policy named 'min-log-retentoin' in this pack; its policies are: "
            "bucket-no-force-destroy, kms-key-rotation, min-log-retention, sse-key-rotates",
        ),
        (
            {"min-log-retention": {"minimumDays": "ninety"}},
            "policy 'min-log-retention', property 'minimumDays': 'ninety' is not of type "
            "'integer'; allowed: {",
        ),
    ],
)
def test_cli_bad_config_exits_2_naming_file_and_fix(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, config)
    code, output = _invoke(
        "dev", "--policy-pack", str(TEST_PACK), "--policy-pack-config", str(path)
    )
    assert code == 2, output
    text = " ".join(output.split())
    assert f"error: {path}: " in text
    assert message in text
    if "allowed" in message:
        assert '"minimum": 1' in text and '"type": "integer"' in text


def _no_rotation_for_data(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult | None:
    if args.type_ == KEY and args.name.endswith("-kms-data"):
        return pulumi.ResourceTransformationResult(
            {**args.props, "enable_key_rotation": False}, args.opts
        )
    return None


@pytest.mark.policy
def test_mutation_disabled_key_rotation_fails_dev(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Mutate the real dev stack; `blueprint check dev` (our pack, dev config) must catch it."""
    monkeypatch.setattr(
        command, "capture", functools.partial(capture, transformations=[_no_rotation_for_data])
    )
    report_file = tmp_path / "report.json"
    code, output = _invoke("dev", "--json", str(report_file))
    assert code == 1, output
    assert "kms-key-rotation" in output
    findings = json.loads(report_file.read_text())["findings"]
    rotation = [f for f in findings if f["policy"] == "kms-key-rotation"]
    # Only the mutated key: the other keys of dev rotate.
    assert [f["urn"].rsplit("::", 1)[-1] for f in rotation] == ["feature-platform-kms-data"]
    assert rotation[0]["enforcementLevel"] == "mandatory"


# --- mandatory violations and the severity threshold --------------------------------------


def _pack_verdict(plan: Plan, threshold: str) -> Verdict:
    """The fixture pack's verdict on ``plan``, without checkov."""
    return build_verdict(
        plan,
        run_test_pack(plan),
        None,
        k8s.Manifests(),
        None,
        suppressions.Suppressions(Path("none.yaml"), ()),
        threshold=threshold,
        today=datetime.date(2026, 1, 1),
    )


@pytest.mark.policy
def test_a_mandatory_violation_fails_whatever_the_threshold() -> None:
    """sse-key-rotates is mandatory and has no severity (shown as medium); kms-key-rotation
    is mandatory and high. The Pulumi CLI blocks on both, and so must a critical threshold."""
    failing = _pack_verdict(small_plan(rotate=False), "critical")
    assert {r.rule_id for r in failing.failures} == {"kms-key-rotation", "sse-key-rotates"}
    (sse,) = [r for r in failing.failures if r.rule_id == "sse-key-rotates"]
    assert (sse.severity, sse.mandatory) == ("medium", True)
    assert failing.exit_code == 1
    # Control: the same pack on a plan whose keys rotate reports only advisory findings.
    passing = _pack_verdict(small_plan(), "critical")
    assert passing.failures == [] and passing.exit_code == 0
    assert {r.rule_id for r in passing.results} == {"min-log-retention", "bucket-no-force-destroy"}
    assert not any(r.mandatory for r in passing.results)


@pytest.mark.policy
def test_cli_severity_threshold_never_lets_a_mandatory_violation_pass(tmp_path: Path) -> None:
    strict = _write(tmp_path, {"all": "mandatory"})
    sarif_file = tmp_path / "new" / "dir" / "check.sarif"  # missing parents are created
    code, output = _invoke(
        "dev",
        "--policy-pack",
        str(TEST_PACK),
        "--policy-pack-config",
        str(strict),
        "--severity-threshold",
        "critical",
        "--sarif",
        str(sarif_file),
    )
    assert code == 1, output
    assert "check failed" in output
    results = [r for run in json.loads(sarif_file.read_text())["runs"] for r in run["results"]]
    assert results and all(r["level"] == "error" for r in results)
    assert {r["properties"]["severity"] for r in results} == {"medium"}


# --- a check that enforced or judged nothing ----------------------------------------------


def _run(levels: Mapping[str, str], config: Path | None = Path("c.json")) -> PackRun:
    return PackRun("pack", "1", "python", Path("pack"), config, dict(levels))


def test_nothing_enforced_is_named_with_the_fix() -> None:
    disabled = _run({"a": "disabled", "b": "disabled"})
    (problem,) = enforcement.nothing_judged([disabled], resources=10)
    assert "nothing enforced: under c.json all 2 policies are disabled" in problem
    assert "--allow-nothing-enforced" in problem
    (problem,) = enforcement.nothing_judged([_run({})], resources=10)
    assert "the packs have no policy" in problem
    (problem,) = enforcement.nothing_judged([_run({"a": "mandatory"})], resources=0)
    assert "the plan has no resources" in problem
    for levels in ({"a": "advisory", "b": "disabled"}, {"a": "remediate"}, {"a": "mandatory"}):
        assert enforcement.nothing_judged([_run(levels), disabled], resources=10) == []
    assert enforcement.levels([_run({"a": "advisory", "b": "disabled"}), disabled]) == {
        "mandatory": 0,
        "advisory": 1,
        "remediate": 0,
        "disabled": 3,
    }


def test_prod_refuses_a_config_that_makes_nothing_mandatory(tmp_path: Path) -> None:
    config = _write(tmp_path, {"all": "advisory"})
    advisory = PackRun("pack", "1", "python", Path("pack"), config, {"a": "advisory"})
    with pytest.raises(CheckError, match=r"no policy is mandatory \(0 mandatory, 1 advisory"):
        enforcement.refuse_in_strict_environment([advisory], "prod")
    enforcement.refuse_in_strict_environment([advisory], "dev")  # dev: a finding, not refused
    empty = tmp_path / "empty.json"
    empty.write_text("{}\n")
    run = PackRun("pack", "1", "python", Path("pack"), empty, {"a": "mandatory"})
    with pytest.raises(CheckError, match=r"empty\.json sets no enforcement level: the prod"):
        enforcement.refuse_in_strict_environment([run], "prod")
    enforcement.refuse_in_strict_environment([_run({"a": "mandatory"}, None)], "prod")
    assert enforcement.environment({"feature-platform:environment": "prod"}, "eu") == "prod"
    assert enforcement.environment({}, "qa") == "qa"


@pytest.mark.policy
def test_cli_all_disabled_config_fails_unless_allowed(tmp_path: Path) -> None:
    disabled = _write(tmp_path, {"all": "disabled"})
    report_file = tmp_path / "check.json"
    args = ["dev", "--policy-pack", str(TEST_PACK), "--policy-pack-config", str(disabled)]
    code, output = _invoke(*args, "--json", str(report_file))
    text = " ".join(output.split())
    assert code == 1, output
    assert "nothing enforced: under" in text and "all 4 policies are disabled" in text
    assert "0 of 4 policies enforced (0 mandatory, 0 advisory, 0 remediate, 4 disabled)" in text
    assert "policy check judged nothing" in text
    verdict = json.loads(report_file.read_text())["verdict"]
    assert verdict["passed"] is False
    assert verdict["summary"]["enforcement"]["disabled"] == 4
    code, output = _invoke(*args, "--allow-nothing-enforced")
    assert code == 0, output
    assert "allowed (--allow-nothing-enforced): nothing enforced" in " ".join(output.split())


@pytest.mark.policy
def test_cli_prod_refuses_a_disabled_or_empty_config(tmp_path: Path) -> None:
    disabled = _write(tmp_path, {"all": "disabled"})
    code, output = _invoke(
        "prod", "--policy-pack-config", str(disabled), "--allow-nothing-enforced"
    )
    text = " ".join(output.split())
    assert code == 2, output
    counts = f"0 mandatory, 0 advisory, 0 remediate, {len(CATALOGUE)} disabled"
    assert f"no policy is mandatory ({counts})" in text
    assert 'set "all": "mandatory"' in text
    empty = tmp_path / "empty.json"
    empty.write_text("")
    code, output = _invoke(
        "prod", "--policy-pack", str(TEST_PACK), "--policy-pack-config", str(empty)
    )
    assert code == 2, output
    assert f"{empty} sets no enforcement level: the prod environment" in " ".join(output.split())


@pytest.mark.policy
def test_a_checkov_scan_that_judged_nothing_fails_and_one_that_broke_cannot_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """checkov ran and judged none of the plan's resources: exit 1 (a verdict that judged
    nothing); checkov could not parse its input: exit 2 (could not run)."""

    class FakeCheckov:
        summaries: ClassVar[dict[str, dict[str, int]]] = {}

        def start(self, *_: object) -> None:
            pass

        def result(self) -> scan.CheckovReport:
            records = [
                scan.CheckRecord("CKV_FP_K8S_1", "n", "PASSED", "kubernetes", "x", "/x", "high")
            ]
            return scan.CheckovReport(version="3", records=records, summaries=self.summaries)

    @contextmanager
    def fake_session(*_: object, **__: object) -> Iterator[FakeCheckov]:
        yield FakeCheckov()

    monkeypatch.setattr(scan, "session", fake_session)
    plan = stack_plan("dev")

    def judged(summaries: dict[str, dict[str, int]]) -> Verdict:
        FakeCheckov.summaries = summaries
        return judge_stack(
            PROJECT_DIR, "dev", packs=[TEST_PACK], capture_plan=lambda _d, _s: plan
        ).verdict

    verdict = judged({"terraform_plan": {"resource_count": 0}, "kubernetes": {"resource_count": 9}})
    assert verdict.exit_code == 1
    (error,) = verdict.errors
    assert "checkov judged none of the" in error and "terraform_plan resources" in error
    assert "a check that judged nothing fails" in error
    with pytest.raises(CheckError, match="checkov could not run as asked: checkov could not parse"):
        judged({"terraform_plan": {"resource_count": 150, "parsing_errors": 1}})
    good = judged({"terraform_plan": {"resource_count": 150}, "kubernetes": {"resource_count": 9}})
    assert good.errors == [] and good.exit_code == 0


# --- paths: validated before anything runs, no traceback, no stale report -----------------

BAD_PATHS = [
    (["--sarif", "{dir}"], "--sarif {dir}: is a directory, but --sarif names a file"),
    (["--junit", "{file}/check.xml"], "{file} is a file, not a directory"),
    (["--markdown", "{file}/a/b.md"], "{file} is a file, not a directory"),
    (["--export-tfplan", "{dir}"], "--export-tfplan {dir}: is a directory"),
    (["--export-manifests", "{file}"], "--export-manifests {file}: is a file, but"),
    (["--json", "{dir}/x.json", "--sarif", "{dir}/x.json"], "--json and --sarif both name"),
]


@pytest.mark.parametrize(("args", "message"), BAD_PATHS)
def test_cli_bad_output_paths_exit_2_naming_the_option(
    tmp_path: Path, args: list[str], message: str
) -> None:
    directory = tmp_path / "reports"
    directory.mkdir()
    file = tmp_path / "plain-file"
    file.write_text("x")
    paths = {"dir": str(directory), "file": str(file)}
    result = runner.invoke(
        app,
        ["check", "dev", "--no-checkov", "--project", str(PROJECT_DIR)]
        + [a.format(**paths) for a in args],
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert message.format(**paths) in " ".join(result.output.split())


def test_cli_removes_last_runs_reports_when_this_run_fails(tmp_path: Path) -> None:
    stale = {name: tmp_path / name for name in ("check.sarif", "check.xml", "check.md")}
    for path in stale.values():
        path.write_text("last run's verdict")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "001-namespace-old.yaml").write_text("kind: Namespace\n")
    (manifests / "notes.txt").write_text("not ours")
    code, output = _invoke(
        "dev",
        "--policy-pack",
        str(tmp_path / "no-such-pack"),
        "--sarif",
        str(stale["check.sarif"]),
        "--junit",
        str(stale["check.xml"]),
        "--export-manifests",
        str(manifests),
    )
    assert code == 2 and "does not exist" in output, output
    assert not stale["check.sarif"].exists() and not stale["check.xml"].exists()
    assert sorted(p.name for p in manifests.iterdir()) == ["notes.txt"]
    # An invalid option elsewhere still removes the valid options' old reports.
    code, output = _invoke(
        "dev", "--markdown", str(stale["check.md"]), "--json", str(tmp_path / "manifests")
    )
    assert code == 2, output
    assert not stale["check.md"].exists()


def test_cli_help_states_the_exit_contract() -> None:
    result = runner.invoke(app, ["check", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert CONTRACT in " ".join(result.output.split())
    assert "--allow-nothing-enforced" in result.output
