"""``blueprint diff`` and ``blueprint check --base``: replacements decided as the engine would.

Git-based cases run in temporary repositories holding a copy of the project's tracked files
(never the real repository's history); each diff captures twice, so the repositories and
their results are module-scoped. Rule cases (ignoreChanges, replaceOnChanges, ...) run on
small synthetic plans.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from blueprint.capture import PlannedResource
from blueprint.cli import app
from blueprint.diff.allowances import AllowanceError
from blueprint.diff.allowances import load as load_allowances
from blueprint.diff.baseline import BaselineError, materialised
from blueprint.diff.compare import compare
from tests.conftest import planned_resource, synthetic_plan

ROOT = Path(__file__).resolve().parent.parent
MSK = "aws:msk/cluster:Cluster"
runner = CliRunner()


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def _repo(tmp: Path) -> Path:
    """The project's tracked files, as they are now, committed in a fresh repository."""
    files = _git(ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tmp / name)
    _git(tmp, "init", "-q", "-b", "main")
    _git(tmp, "add", "-A")
    _git(tmp, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return tmp


def _edit(repo: Path, path: str, change: Callable[[str], str]) -> None:
    file = repo / path
    text = file.read_text()
    file.write_text(change(text))
    assert file.read_text() != text, f"the edit of {path} changed nothing"


def _diff(repo: Path, stack: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    out = repo / f"diff-{stack}.json"
    result = runner.invoke(app, ["diff", stack, "--project", str(repo), "--json", str(out), *extra])
    document = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, document, result.output


def _by_name(document: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in document["resources"] if r["type"] == type_]


AZ_COUNT = "  feature-platform:network:\n    cidr: 10.10.0.0/16\n"


@pytest.fixture(scope="module")
def az_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = _repo(tmp_path_factory.mktemp("az"))
    _edit(
        repo,
        "stacks/Pulumi.dev.yaml",
        lambda t: t.replace(AZ_COUNT, AZ_COUNT + "    azCount: 3\n"),
    )
    return repo


@pytest.fixture(scope="module")
def az_diff(az_repo: Path) -> tuple[int, dict[str, Any], str]:
    return _diff(az_repo, "dev")


def test_no_change_is_all_same(tmp_path: Path) -> None:
    code, document, output = _diff(_repo(tmp_path), "dev")
    assert code == 0, output
    assert document["resources"] == []
    counts = document["summary"]
    assert counts["same"] > 100
    assert {k: v for k, v in counts.items() if k != "same"} == {
        "create": 0,
        "update": 0,
        "replace": 0,
        "delete": 0,
    }


def test_more_azs_replace_the_msk_cluster_and_block(
    az_diff: tuple[int, dict[str, Any], str],
) -> None:
    code, document, output = az_diff
    assert code == 1, output
    (cluster,) = _by_name(document, MSK)
    assert cluster["action"] == "replace"
    assert cluster["blocking"] is True
    assert any(
        r["path"].startswith("brokerNodeGroupInfo.clientSubnets")
        and r["rule"] == "ForceNew brokerNodeGroupInfo.clientSubnets"
        for r in cluster["replaceReasons"]
    )
    assert cluster["urn"] in document["blocking"]
    assert document["summary"]["create"] > 0  # the third AZ's subnets


def test_json_shape(az_diff: tuple[int, dict[str, Any], str]) -> None:
    _, document, _ = az_diff
    assert set(document) == {
        "formatVersion", "project", "stack", "base", "passed", "summary", "blocking",
        "allowed", "errors", "notes", "resources",
    }  # fmt: skip
    assert document["formatVersion"] == 1
    assert document["stack"] == "dev"
    assert document["base"].startswith("HEAD (")
    assert set(document["summary"]) == {"create", "update", "replace", "delete", "same"}
    resource = document["resources"][0]
    assert set(resource) >= {"urn", "type", "name", "action", "blocking", "replaceReasons"}


def test_secret_values_are_never_written(az_diff: tuple[int, dict[str, Any], str]) -> None:
    _, document, _ = az_diff
    for resource in document["resources"]:
        for change in resource["changes"]:
            if change["secret"]:
                assert change["old"] == change["new"] == "[secret]"


def _check(repo: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["check", "dev", "--project", str(repo), "--no-checkov", "--base", "HEAD", *extra]
    )
    return result.exit_code, result.output


# A new cluster has a new ARN: its topics (clusterArn is ForceNew) are replaced with it.
ALLOWANCE = """allowances:
  - stack: dev
    type: aws:msk/cluster:Cluster
    name: "*"
    reason: {reason}
    expires: 2999-12-31
  - stack: dev
    type: aws:msk/topic:Topic
    name: "*"
    reason: {reason}
    expires: 2999-12-31
"""


def test_check_blocks_then_passes_with_an_allowance(az_repo: Path) -> None:
    code, output = _check(az_repo)
    assert code == 1, output
    assert "stateful-replace" in output
    allowances = az_repo / "policies" / "replacements.yaml"
    original = allowances.read_text() if allowances.exists() else None
    try:
        allowances.write_text(ALLOWANCE.format(reason='""'))
        code, output = _check(az_repo)
        assert code == 2, output
        assert "reason" in output
        reason = "dev only: the cluster holds no data worth keeping; recreate it with 3 AZs"
        allowances.write_text(ALLOWANCE.format(reason=json.dumps(reason)))
        code, output = _check(az_repo)
        assert "allowed" in output
        assert code == 0, output
    finally:
        if original is None:
            allowances.unlink(missing_ok=True)
        else:
            allowances.write_text(original)


def test_log_retention_is_an_update(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _edit(
        repo,
        "stacks/Pulumi.dev.yaml",
        lambda t: t.replace(
            "config:\n", "config:\n  feature-platform:logging:\n    retentionDays: 90\n", 1
        ),
    )
    code, document, output = _diff(repo, "dev")
    assert code == 0, output
    groups = _by_name(document, "aws:cloudwatch/logGroup:LogGroup")
    assert groups
    assert {g["action"] for g in groups} == {"update"}
    assert all(
        c["path"] == "retentionInDays" and c["new"] == 90 for g in groups for c in g["changes"]
    )
    assert document["summary"]["replace"] == 0


def test_a_bad_ref_is_exit_2_with_the_ref_named(tmp_path: Path) -> None:
    code, _, output = _diff(_repo(tmp_path), "dev", "--base", "no-such-branch")
    assert code == 2
    assert "'no-such-branch' names no commit" in output


# --- rules on synthetic plans ----------------------------------------------------------------


def _resource(name: str, type_: str = MSK, **options: Any) -> PlannedResource:
    return planned_resource(name, type_, **options)


_plan = synthetic_plan


SUBNETS = {"brokerNodeGroupInfo": {"clientSubnets": ["a", "b"], "instanceType": "m7g.large"}}
MORE = {"brokerNodeGroupInfo": {"clientSubnets": ["a", "b", "c"], "instanceType": "m7g.large"}}


def test_ignore_changes_hides_the_forcing_change() -> None:
    old = _resource("k", inputs=SUBNETS)
    new = _resource("k", inputs=MORE, ignore_changes=["brokerNodeGroupInfo.clientSubnets"])
    (change,) = compare(_plan(old), _plan(new)).resources
    assert change.action == "same"


def test_instance_type_is_an_update_not_a_replacement() -> None:
    bigger = {"brokerNodeGroupInfo": {**SUBNETS["brokerNodeGroupInfo"], "instanceType": "m7g.xl"}}
    (change,) = compare(
        _plan(_resource("k", inputs=SUBNETS)), _plan(_resource("k", inputs=bigger))
    ).resources
    assert change.action == "update"


def test_replace_on_changes_and_delete_before_replace() -> None:
    type_ = "aws:iam/role:Role"
    old = _resource("r", type_, inputs={"description": "a"})
    new = _resource(
        "r",
        type_,
        inputs={"description": "b"},
        replace_on_changes=["description"],
        delete_before_replace=True,
    )
    (change,) = compare(_plan(old), _plan(new)).resources
    assert change.action == "replace"
    assert [str(r) for r in change.reasons] == ["description (replaceOnChanges description)"]
    assert change.delete_before_replace
    assert not change.blocking  # a role holds nothing


def test_delete_of_a_protected_resource_blocks() -> None:
    type_ = "aws:ec2/vpc:Vpc"
    diff = compare(_plan(_resource("v", type_, protect=True)), _plan())
    (change,) = diff.resources
    assert change.action == "delete"
    assert change.blocking


def test_rename_without_alias_is_delete_and_create_with_alias_a_move() -> None:
    old = _resource("k", inputs=SUBNETS)
    renamed = _resource("k2", inputs=SUBNETS)
    actions = sorted(c.action for c in compare(_plan(old), _plan(renamed)).resources)
    assert actions == ["create", "delete"]
    aliased = _resource("k2", inputs=SUBNETS, aliases=[old.urn])
    (change,) = compare(_plan(old), _plan(aliased)).resources
    assert change.action == "update"
    assert change.previous_urn == old.urn


def test_secret_inputs_are_compared_but_masked() -> None:
    type_ = "aws:secretsmanager/secretVersion:SecretVersion"
    old = _resource("s", type_, inputs={"secretString": "old"}, secret_inputs=["secretString"])
    new = _resource("s", type_, inputs={"secretString": "new"}, secret_inputs=["secretString"])
    (change,) = compare(_plan(old), _plan(new)).resources
    # A new value is a new secret version (secretString is ForceNew); the reason names the
    # path, never the value.
    assert change.action == "replace"
    assert [str(r) for r in change.reasons] == ["secretString (ForceNew secretString)"]
    shown = json.dumps(change.as_json())
    assert "old" not in shown.replace('"old"', "") and '"new": "[secret]"' in shown


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (
            b"allowances:\n  - stack: dev\n    urn: u\n    reason: a reason long enough here\n"
            b"    expires: 2027-13-45\n",
            "allowances.0.expires",
        ),
        (b"allowances: [1\n", "is not valid YAML"),
        (b"\xff\xfe", "cannot be read"),
        (b"allowances: []\nallowances: []\n", "duplicate key 'allowances'"),
    ],
)
def test_a_bad_allowance_file_is_an_error_naming_it(
    tmp_path: Path, content: bytes, named: str
) -> None:
    path = tmp_path / "replacements.yaml"
    path.write_bytes(content)
    with pytest.raises(AllowanceError, match=re.escape(named)):
        load_allowances(path)


def test_a_base_holding_an_absolute_symlink_is_refused_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "escape").symlink_to("/etc/passwd")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x")
    with (
        pytest.raises(BaselineError, match="cannot be laid out safely"),
        materialised(tmp_path, "HEAD"),
    ):
        pass


def test_a_code_change_in_a_sub_project_is_seen_on_both_sides(tmp_path: Path) -> None:
    """bootstrap/ imports its packages from the repository's root: each side of the diff
    must import its own tree's, never the checkout the tooling is installed from."""
    repo = _repo(tmp_path)
    _edit(
        repo,
        "bootstrap/github.py",
        lambda t: t.replace(
            'f"Pull-request previews of {args.repository}', 'f"PR previews of {args.repository}'
        ),
    )
    out = repo / "diff.json"
    result = runner.invoke(
        app, ["diff", "dev", "--project", str(repo / "bootstrap"), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    changed = [r for r in document["resources"] if r["action"] != "same"]
    assert [(r["name"], r["action"]) for r in changed] == [
        ("feature-platform-bootstrap-ci-previewer-role", "update")
    ]
    (change,) = changed[0]["changes"]
    assert change["path"] == "description" and change["new"].startswith("PR previews of")
