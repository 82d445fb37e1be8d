"""The GitHub Actions workflows: pinned, least-privileged, injection-free, and calling only
what exists (make targets, blueprint subcommands, scripts, the one Pulumi version).

Each rule is a small checker over a parsed workflow (or its raw text) that returns the
problems it found; every rule is run over the real workflows (no problem) and over a small
synthetic workflow that breaks it (the problem is named). actionlint and zizmor, dev
dependencies, must report nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.cli import app

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
PULUMI_VERSION_FILE = GITHUB / "pulumi-version"

Workflow = Mapping[Any, Any]

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+\b")
LOCAL_USES = ("./", "$/")
WRITE_LINE = re.compile(r"^\s+(?P<scope>[a-z-]+):\s*write\b(?P<rest>.*)$")
FORBIDDEN_TRIGGERS = ("pull_request_target",)
MAKE_CALL = re.compile(r"(?:^|[\s;&|(])make\s+(?P<args>[^;&|\n#]*)")
BLUEPRINT_CALL = re.compile(r"\.venv/bin/blueprint\s+(?P<sub>[^\s\"']+)")
SCRIPT_CALL = re.compile(
    r"(?:^|[\s;&|(])(?:(?:bash|sh|python3?)\s+(?P<interp>[\w./-]+)|(?P<direct>\./[\w./-]+))"
)
VENV_BIN = re.compile(r"\.venv/bin/(?P<tool>[\w-]+)")
TOOLS_FROM_DEPENDENCIES = {"pytest", "ruff", "mypy", "actionlint", "zizmor", "python"}


def load(text: str) -> Workflow:
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict), "a workflow is a mapping"
    return loaded


def triggers(workflow: Workflow) -> list[str]:
    """The event names; PyYAML reads the bare key ``on`` as True."""
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return [on]
    if isinstance(on, list):
        return [str(event) for event in on]
    if isinstance(on, dict):
        return [str(event) for event in on]
    return []


def jobs(workflow: Workflow) -> dict[str, Any]:
    found = workflow.get("jobs") or {}
    assert isinstance(found, dict)
    return found


def steps(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any]]]:
    """(job id, step) for every step, and the steps of a composite action (job ``runs``)."""
    for job_id, job in jobs(workflow).items():
        for step in job.get("steps") or []:
            yield job_id, step
    runs = workflow.get("runs")
    if isinstance(runs, dict):
        for step in runs.get("steps") or []:
            yield "runs", step


def scripts(workflow: Workflow) -> Iterator[tuple[str, str]]:
    for job_id, step in steps(workflow):
        if isinstance(step.get("run"), str):
            yield job_id, step["run"]


# --- rules -----------------------------------------------------------------------------------


def unpinned_uses(text: str) -> list[str]:
    """Every remote ``uses:`` is pinned by a 40-hex commit SHA and says its version."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = USES_LINE.match(line)
        if not match:
            continue
        ref, comment = match["ref"], (match["comment"] or "").strip()
        if ref.startswith(LOCAL_USES):
            continue
        if not PINNED.match(ref):
            problems.append(f"line {number}: {ref} is not pinned by a full commit SHA")
        elif not VERSION_COMMENT.match(comment):
            problems.append(f"line {number}: {ref} has no `# vX.Y.Z` comment")
    return problems


def uses_role(job: Mapping[str, Any]) -> bool:
    return any("role-to-assume" in (step.get("with") or {}) for step in job.get("steps") or [])


def called_workflow_uses_role(job: Mapping[str, Any]) -> bool:
    """A reusable-workflow call grants its callee's jobs at most the caller's permissions."""
    uses = job.get("uses")
    if not isinstance(uses, str) or not uses.startswith(LOCAL_USES):
        return False
    callee = ROOT / uses[2:].lstrip("/")
    if not callee.is_file():
        return False
    return any(uses_role(called) for called in jobs(load(callee.read_text())).values())


def permission_problems(workflow: Workflow, text: str) -> list[str]:
    """Least privilege: nothing at the top (or contents: read), explicit per job, each write
    scope justified on its line, id-token: write exactly where a role is assumed."""
    problems = []
    top = workflow.get("permissions")
    if top is None:
        if jobs(workflow):
            problems.append("no top-level permissions (use `permissions: {}`)")
    elif top not in ({}, {"contents": "read"}):
        problems.append(f"top-level permissions {top!r}: grant per job instead")
    for job_id, job in jobs(workflow).items():
        granted = job.get("permissions")
        if not isinstance(granted, dict):
            problems.append(f"job {job_id}: no explicit permissions mapping ({granted!r})")
            continue
        id_token = granted.get("id-token") == "write"
        assumes = uses_role(job) or called_workflow_uses_role(job)
        if id_token and not assumes:
            problems.append(f"job {job_id}: id-token: write without a role-to-assume")
        if assumes and not id_token:
            problems.append(f"job {job_id}: assumes a role without id-token: write")
    for number, line in enumerate(text.splitlines(), start=1):
        match = WRITE_LINE.match(line)
        if match and "#" not in match["rest"]:
            problems.append(f"line {number}: {match['scope']}: write without a `# reason`")
    return problems


def trigger_problems(workflow: Workflow) -> list[str]:
    return [
        f"trigger {event} runs untrusted code with a privileged token"
        for event in triggers(workflow)
        if event in FORBIDDEN_TRIGGERS
    ]


def expression_in_run(workflow: Workflow) -> list[str]:
    """No ``${{ }}`` in a script: values reach scripts through ``env:`` (no injection)."""
    return [
        f"job {job_id}: `${{{{` in a run: script ({script.strip().splitlines()[0][:60]})"
        for job_id, script in scripts(workflow)
        if "${{" in script
    ]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def unknown_make_targets(workflow: Workflow, targets: set[str]) -> list[str]:
    problems = []
    for job_id, script in scripts(workflow):
        for match in MAKE_CALL.finditer(script):
            for word in match["args"].split():
                if word.startswith("-") or "=" in word:
                    continue
                if word not in targets:
                    problems.append(f"job {job_id}: make {word}: no such target in the Makefile")
    return problems


def blueprint_commands() -> set[str]:
    return {
        command.name or (command.callback.__name__.replace("_", "-") if command.callback else "")
        for command in app.registered_commands
    }


def unknown_blueprint_commands(workflow: Workflow, commands: set[str]) -> list[str]:
    return [
        f"job {job_id}: blueprint {match['sub']}: no such subcommand"
        for job_id, script in scripts(workflow)
        for match in BLUEPRINT_CALL.finditer(script)
        if match["sub"] not in commands
    ]


def missing_paths(workflow: Workflow) -> list[str]:
    """Scripts a step runs, local actions and workflows it uses, and files named in `with:`."""
    problems = []
    for job_id, script in scripts(workflow):
        for match in SCRIPT_CALL.finditer(script):
            path = match["interp"] or match["direct"]
            if "$" not in path and not (ROOT / path).exists():
                problems.append(f"job {job_id}: runs {path}, which does not exist")
        for match in VENV_BIN.finditer(script):
            tool = match["tool"]
            if tool != "blueprint" and tool not in TOOLS_FROM_DEPENDENCIES:
                problems.append(f"job {job_id}: .venv/bin/{tool} is installed by nothing")
    for job_id, step in steps(workflow):
        uses = step.get("uses")
        if (
            isinstance(uses, str)
            and uses.startswith(LOCAL_USES)
            and not (ROOT / uses[2:].lstrip("/")).exists()
        ):
            problems.append(f"job {job_id}: uses {uses}, which does not exist")
        for key in ("pulumi-version-file", "policyPacks", "policyPackConfigs"):
            value = (step.get("with") or {}).get(key)
            if isinstance(value, str) and "${{" not in value and not (ROOT / value).exists():
                problems.append(f"job {job_id}: {key} {value} does not exist")
    for job_id, job in jobs(workflow).items():
        uses = job.get("uses")
        if (
            isinstance(uses, str)
            and uses.startswith(LOCAL_USES)
            and not (ROOT / uses[2:].lstrip("/")).exists()
        ):
            problems.append(f"job {job_id}: calls {uses}, which does not exist")
    return problems


def pulumi_version_problems(files: Mapping[str, str], version: str) -> list[str]:
    """The CLI version is written once (.github/pulumi-version); pulumi/actions reads it."""
    problems = []
    holders = sorted(name for name, text in files.items() if version in text)
    if holders != [".github/pulumi-version"]:
        problems.append(f"Pulumi {version} appears in {holders}, not only .github/pulumi-version")
    for name, text in files.items():
        if not name.endswith((".yml", ".yaml")):
            continue
        for job_id, step in steps(load(text)):
            if not str(step.get("uses", "")).startswith("pulumi/actions@"):
                continue
            given = step.get("with") or {}
            if "pulumi-version" in given:
                problems.append(f"{name} job {job_id}: pulumi-version given inline")
            if given.get("pulumi-version-file") != ".github/pulumi-version":
                problems.append(f"{name} job {job_id}: pulumi/actions without the version file")
    return problems


# --- the real workflows ----------------------------------------------------------------------

DEFINITIONS = [*WORKFLOWS, *ACTIONS]


def ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path in paths]


def test_the_workflows_exist() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {
        "pull-request.yml",
        "deploy.yml",
        "drift.yml",
        "review-stack.yml",
        "review-sweeper.yml",
    } <= names


@pytest.mark.parametrize("path", DEFINITIONS, ids=ids(DEFINITIONS))
def test_every_uses_is_pinned_by_sha_with_its_version(path: Path) -> None:
    assert unpinned_uses(path.read_text()) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_least_permissions_and_id_token_only_where_a_role_is_assumed(path: Path) -> None:
    text = path.read_text()
    assert permission_problems(load(text), text) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_no_pull_request_target(path: Path) -> None:
    assert trigger_problems(load(path.read_text())) == []


@pytest.mark.parametrize("path", DEFINITIONS, ids=ids(DEFINITIONS))
def test_no_expression_inside_run_scripts(path: Path) -> None:
    assert expression_in_run(load(path.read_text())) == []


@pytest.mark.parametrize("path", DEFINITIONS, ids=ids(DEFINITIONS))
def test_every_make_target_called_exists(path: Path) -> None:
    assert unknown_make_targets(load(path.read_text()), make_targets()) == []


@pytest.mark.parametrize("path", DEFINITIONS, ids=ids(DEFINITIONS))
def test_every_blueprint_subcommand_called_exists(path: Path) -> None:
    assert unknown_blueprint_commands(load(path.read_text()), blueprint_commands()) == []


@pytest.mark.parametrize("path", DEFINITIONS, ids=ids(DEFINITIONS))
def test_every_script_and_local_path_exists(path: Path) -> None:
    assert missing_paths(load(path.read_text())) == []


def pulumi_version() -> str:
    version = PULUMI_VERSION_FILE.read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    return version


def test_the_pulumi_cli_version_is_written_once() -> None:
    files = {
        str(path.relative_to(ROOT)): path.read_text()
        for path in [*GITHUB.rglob("*"), ROOT / "Makefile"]
        if path.is_file()
    }
    assert pulumi_version_problems(files, pulumi_version()) == []


def test_the_pulumi_cli_is_not_older_than_the_locked_sdk() -> None:
    lock = (ROOT / "uv.lock").read_text()
    sdk = re.search(r'^name = "pulumi"\nversion = "([^"]+)"', lock, flags=re.MULTILINE)
    assert sdk, "pulumi is in uv.lock"

    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    assert parts(pulumi_version()) >= parts(sdk[1])
    assert parts(pulumi_version())[0] == parts(sdk[1])[0]


def test_every_matrix_stack_has_its_stack_file_and_policy_config() -> None:
    for path in WORKFLOWS:
        for job in jobs(load(path.read_text())).values():
            for stack in ((job.get("strategy") or {}).get("matrix") or {}).get("stack", []):
                assert (ROOT / f"stacks/Pulumi.{stack}.yaml").is_file(), (path.name, stack)
                assert (ROOT / f"policies/config/{stack}.json").is_file(), (path.name, stack)


# --- the linters -----------------------------------------------------------------------------


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (a dev dependency: make install)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must lint the workflows")
        pytest.skip(reason)
    return found


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_at_the_default_persona() -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", ".github/workflows"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- each rule catches what it is for --------------------------------------------------------

BAD = """\
name: bad
on:
  pull_request_target:
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97
      - run: echo "${{ github.event.pull_request.title }}"
      - run: make instal && .venv/bin/blueprint deploy dev && ./scripts/missing.sh
      - uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v7.0.0
        with:
          pulumi-version: 3.272.0
  deploy:
    runs-on: ubuntu-24.04
    permissions:
      contents: write
      id-token: write
    steps:
      - run: echo deploying
  assume:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: example/credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3
        with:
          role-to-assume: arn:aws:iam::111111111111:role/x
"""


def test_unpinned_uses_are_named() -> None:
    problems = unpinned_uses(BAD)
    assert any("actions/checkout@v4 is not pinned" in p for p in problems)
    assert any("setup-python" in p and "no `# vX.Y.Z` comment" in p for p in problems)
    assert not any("pulumi/actions" in p for p in problems)


def test_local_uses_need_no_sha() -> None:
    assert unpinned_uses("steps:\n  - uses: $/.github/actions/x\n  - uses: ./y\n") == []


def test_permission_problems_are_named() -> None:
    problems = permission_problems(load(BAD), BAD)
    assert any("top-level permissions 'write-all'" in p for p in problems)
    assert any("job build: no explicit permissions" in p for p in problems)
    assert any("job deploy: id-token: write without a role-to-assume" in p for p in problems)
    assert any("job assume: assumes a role without id-token: write" in p for p in problems)
    assert any("contents: write without a `# reason`" in p for p in problems)


def test_a_missing_top_level_permissions_is_named() -> None:
    text = "on: push\njobs:\n  a:\n    permissions: {}\n    steps: []\n"
    assert permission_problems(load(text), text) == [
        "no top-level permissions (use `permissions: {}`)"
    ]


def test_pull_request_target_is_refused() -> None:
    assert trigger_problems(load(BAD)) == [
        "trigger pull_request_target runs untrusted code with a privileged token"
    ]
    assert trigger_problems(load("on: [push, pull_request_target]\n")) != []


def test_an_expression_inside_run_is_named() -> None:
    problems = expression_in_run(load(BAD))
    assert len(problems) == 1
    assert "github.event.pull_request.title" in problems[0]


def test_an_unknown_make_target_is_named() -> None:
    problems = unknown_make_targets(load(BAD), make_targets())
    assert problems == ["job build: make instal: no such target in the Makefile"]
    assert "install" in make_targets() and "lint" in make_targets()


def test_an_unknown_blueprint_subcommand_is_named() -> None:
    commands = blueprint_commands()
    assert {"check", "diff", "audit", "preview", "moto-server"} <= commands
    assert unknown_blueprint_commands(load(BAD), commands) == [
        "job build: blueprint deploy: no such subcommand"
    ]


def test_a_missing_script_is_named() -> None:
    problems = missing_paths(load(BAD))
    assert problems == ["job build: runs ./scripts/missing.sh, which does not exist"]
    missing_action = load("jobs:\n  a:\n    steps:\n      - uses: $/.github/actions/nope\n")
    assert missing_paths(missing_action) == [
        "job a: uses $/.github/actions/nope, which does not exist"
    ]


def test_a_second_pulumi_version_is_named() -> None:
    files = {".github/pulumi-version": "3.272.0\n", ".github/workflows/bad.yml": BAD}
    problems = pulumi_version_problems(files, "3.272.0")
    assert any(
        "appears in ['.github/pulumi-version', '.github/workflows/bad.yml']" in p for p in problems
    )
    assert any("pulumi-version given inline" in p for p in problems)
    assert any("without the version file" in p for p in problems)


# --- delivery shape --------------------------------------------------------------------------


def workflow(name: str) -> Workflow:
    return load((GITHUB / "workflows" / name).read_text())


def test_a_first_deploy_applies_the_aws_layer_before_the_runner_is_used() -> None:
    """Two phases without a manual edit: when the stack's runner is missing, a hosted job
    applies everything but the Kubernetes layer (which creates the runner); the deploy job
    waits for it, runs on the runner, and never follows a failed first phase."""
    stages = jobs(workflow("deploy-stack.yml"))
    layer, deploy = stages["aws-layer"], stages["deploy"]
    assert layer["needs"] == "context"
    assert "runner-ready == 'false'" in layer["if"]
    assert layer["runs-on"] == "ubuntu-24.04"
    script = "\n".join(step.get("run", "") for step in layer["steps"])
    assert 'feature-platform:kubernetes.apply" false' in script
    assert "--create --secrets-provider" in script
    assert deploy["needs"] == ["context", "aws-layer"]
    assert "needs.aws-layer.result == 'success' || needs.aws-layer.result == 'skipped'" in (
        " ".join(deploy["if"].split())
    )
    # The runner's label is built in the job itself, so a re-run asks for its own attempt.
    label = " ".join(deploy["runs-on"].split())
    assert "needs.context.outputs.runner-project" in label
    assert "github.run_attempt" in label and "'ubuntu-24.04'" in label
    assert layer["concurrency"]["group"] == deploy["concurrency"]["group"]
    preview = next(s for s in deploy["steps"] if s.get("name", "").startswith("pulumi preview"))
    assert preview["with"]["upsert"] is True  # a missing stack is created on the way


def test_review_stacks_deploy_like_dev_and_are_destroyed_from_anywhere() -> None:
    review = jobs(workflow("review-stack.yml"))
    assert review["up"]["uses"] == "$/.github/workflows/deploy-stack.yml"
    assert review["up"]["with"] == {
        "stack": "pr-${{ github.event.pull_request.number }}",
        "audit": False,
    }
    sweeper = jobs(workflow("review-sweeper.yml"))["sweep"]
    for name, job in (("review-stack", review["destroy"]), ("sweeper", sweeper)):
        env = {k: v for s in job["steps"] for k, v in (s.get("env") or {}).items()}
        assert env.get("PULUMI_K8S_DELETE_UNREACHABLE") == "true", name
