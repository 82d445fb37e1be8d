"""docs/onboarding.md is executed: its offline steps run, in order, in a copy of the project.

The doc marks what this test runs: ``<!-- tutorial: run -->`` before a ```sh block (run with
bash, ``blueprint`` from the project's venv on PATH) and ``<!-- tutorial: file PATH -->``
before a block whose content is written to PATH. Blocks that need AWS or a cluster carry no
marker. A marker that no longer precedes a block fails here, so the page cannot rot silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes_baseline import (
    CONFIG_MAP_NAME,
    FEATURE_SERVER_PORT,
    FEATURE_SERVING_NAMESPACE,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "onboarding.md"
VENV_BIN = ROOT / ".venv" / "bin"
MARKER = re.compile(r"^<!-- tutorial: (?P<what>.+?) -->$")
FENCE = re.compile(r"^```(?P<lang>\S*)$")
RUN_TIMEOUT_S = 180
MIN_RUN_BLOCKS = 3


@dataclass(frozen=True)
class Step:
    kind: str
    """``run`` or ``file``."""
    target: str
    """The file's path for ``file``; empty for ``run``."""
    language: str
    body: str
    line: int


def steps(text: str) -> list[Step]:
    """Every marked block, in document order; a marker not followed by a block is an error."""
    lines = text.splitlines()
    found: list[Step] = []
    for index, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if not marker:
            continue
        what = marker["what"].split()
        if what[0] not in {"run", "file"} or len(what) != (1 if what[0] == "run" else 2):
            raise ValueError(f"line {index + 1}: unknown marker {line!r}")
        fence = FENCE.match(lines[index + 1]) if index + 1 < len(lines) else None
        if fence is None:
            raise ValueError(f"line {index + 1}: {line!r} is not followed by a fenced block")
        end = next(
            (i for i in range(index + 2, len(lines)) if lines[i].strip() == "```"),
            None,
        )
        if end is None:
            raise ValueError(f"line {index + 2}: the block is never closed")
        found.append(
            Step(
                kind=what[0],
                target=what[1] if what[0] == "file" else "",
                language=fence["lang"],
                body="\n".join(lines[index + 2 : end]) + "\n",
                line=index + 1,
            )
        )
    return found


def _copy_project(tmp: Path) -> Path:
    """The project's files, committed in a fresh repository (``blueprint diff`` needs a base),
    as a team's checkout would be; the venv stays in ROOT and comes in via PATH.

    Tracked files and new ones git does not ignore: in CI they are the same, and locally a
    module not yet added (a new policy rule) is part of the program the doc runs."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    )
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tmp / name)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *args], cwd=tmp, check=True, capture_output=True)
    return tmp


@dataclass(frozen=True)
class Ran:
    command: str
    output: str


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Ran]]:
    project = _copy_project(tmp_path_factory.mktemp("onboarding"))
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    ran: list[Ran] = []
    for step in steps(DOC.read_text()):
        if step.kind == "file":
            (project / step.target).parent.mkdir(parents=True, exist_ok=True)
            (project / step.target).write_text(step.body)
            continue
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + step.body],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, (
            f"docs/onboarding.md line {step.line}: exit {result.returncode}\n{step.body}{output}"
        )
        ran.append(Ran(step.body.strip(), output))
    return project, ran


def _output_of(ran: list[Ran], command: str) -> str:
    matching = [r.output for r in ran if r.command.startswith(command)]
    assert matching, f"the doc runs no `{command}`"
    return matching[-1]


def _doc_tenant() -> tuple[str, dict[str, Any]]:
    (file_step,) = [s for s in steps(DOC.read_text()) if s.kind == "file"]
    match = re.fullmatch(r"tenants/(?P<name>[a-z0-9-]+)\.yaml", file_step.target)
    assert match, file_step.target
    return match["name"], yaml.safe_load(file_step.body)


def test_every_marker_precedes_a_fenced_block() -> None:
    found = steps(DOC.read_text())  # raises on a dangling or unknown marker
    text = DOC.read_text()
    assert len(found) == text.count("<!-- tutorial:"), "a marker is not on a line of its own"
    assert all(s.language == "sh" for s in found if s.kind == "run")
    assert all(s.language == "yaml" for s in found if s.kind == "file")


def test_the_doc_runs_at_least_three_blocks() -> None:
    assert sum(s.kind == "run" for s in steps(DOC.read_text())) >= MIN_RUN_BLOCKS


def test_the_markers_are_read_strictly() -> None:
    with pytest.raises(ValueError, match="not followed by a fenced block"):
        steps("<!-- tutorial: run -->\nblueprint tenant list\n")
    with pytest.raises(ValueError, match="unknown marker"):
        steps("<!-- tutorial: runn -->\n```sh\ntrue\n```\n")
    with pytest.raises(ValueError, match="never closed"):
        steps("<!-- tutorial: run -->\n```sh\ntrue\n")


def test_the_new_team_is_listed_with_its_topics(tutorial: tuple[Path, list[Ran]]) -> None:
    project, ran = tutorial
    name, tenant = _doc_tenant()
    assert (project / "tenants" / f"{name}.yaml").is_file()
    listed = _output_of(ran, "blueprint tenant list")
    row = next(line for line in listed.splitlines() if line.startswith(f"│ {name} "))
    for feature_set in tenant["featureSets"].values():
        for topic in feature_set.get("topics", {}):
            assert f"{name}.{topic}" in row


def test_preview_shows_the_teams_roles_topics_and_namespace(
    tutorial: tuple[Path, list[Ran]],
) -> None:
    _, ran = tutorial
    name, tenant = _doc_tenant()
    preview = _output_of(ran, "blueprint preview dev")
    for workload in tenant["workloads"]:
        assert f"feature-platform-tenant-{name}-{workload}-role" in preview
        assert f"feature-platform-tenant-{name}-{workload}-association" in preview
    for feature_set in tenant["featureSets"].values():
        for topic in feature_set.get("topics", {}):
            assert f"feature-platform-tenant-{name}-topic-{name}.{topic}" in preview
    for what in (
        "namespace",
        "default-deny",
        "allow-feature-server",
        "allow-kafka",
        "allow-online-store",
        "quota",
    ):
        assert f"feature-platform-baseline-{name}-{what}" in preview


def test_check_passes_and_diff_only_adds(tutorial: tuple[Path, list[Ran]]) -> None:
    _, ran = tutorial
    name, _ = _doc_tenant()
    assert "check passed" in _output_of(ran, "blueprint check dev")
    diff = _output_of(ran, "blueprint diff dev")
    # Updated: the metrics agent's scrape policy (one more namespace) and the online store's
    # user group (one more user per workload).
    assert re.search(r"no blocking change: \d+ create, 2 update, 0 replace, 0 delete", diff), diff
    assert "feature-platform-online-store-users" in diff
    assert f"feature-platform-baseline-{name}-namespace" in diff


def test_the_workload_manifest_fits_the_team_and_pod_security() -> None:
    """The Deployment the doc shows: in the team's namespace, with one of its service accounts,
    the restricted securityContext, resources, and names the team's grants cover."""
    name, tenant = _doc_tenant()
    text = DOC.read_text()
    blocks = re.findall(r"^```yaml\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    (manifest,) = [
        m for m in (yaml.safe_load(b) for b in blocks) if m and m.get("kind") == "Deployment"
    ]
    assert manifest["metadata"]["namespace"] == name
    pod = manifest["spec"]["template"]["spec"]
    by_account = {w.get("serviceAccount", n): w for n, w in tenant["workloads"].items()}
    workload = by_account[pod["serviceAccountName"]]
    reads = [tenant["featureSets"][fs] for fs in workload.get("reads", [])]
    topics = {f"{name}.{t}" for fs in reads for t in fs.get("topics", {})}
    prefixes = {f"{name}/{fs['offlinePrefix']}/" for fs in reads if "offlinePrefix" in fs}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"requests", "limits"} <= set(container["resources"])
        assert {"configMapRef": {"name": CONFIG_MAP_NAME}} in container["envFrom"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["CONSUMER_GROUP"].startswith(f"{name}.")
        assert env["TOPIC"] in topics
        assert env["OFFLINE_PREFIX"] in prefixes
        server = f".{FEATURE_SERVING_NAMESPACE}:{FEATURE_SERVER_PORT}"
        assert env["FEATURE_SERVER_URL"].endswith(server)
