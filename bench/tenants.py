"""Benchmark the feature teams (tenants) at scale: capture, `blueprint check`, the local deploy.

The targets (docs/performance.md, "Feature teams at scale"):

- capture of prod with 200 tenants at most 10 s, fresh process; linear: 400 tenants at most
  2.2 times 200;
- `blueprint check prod` at most 1.25 times checkov alone on exactly the same inputs, with 0
  and with 200 tenants;
- `blueprint up dev --local` with 50 tenants at most 2 times the same without tenants.

Each tenant count gets its own copy of the project (the files git knows, the way
tests/test_diff.py builds one; `.tools` linked in for checkov, `.venv` left out) whose
`tenants/` holds exactly N generated tenants (the repository's own are removed, so "0 tenants"
is the platform alone). Every generated file is validated with the program's loader before a
measurement. Every measurement is a fresh process of this interpreter run in the copy (so the
copy's code runs, not the checkout's); medians of `--runs`, min and max are reported. The
counts alternate within a round, and checkov and `blueprint check` alternate and swap order,
so background load falls on both sides of each ratio.

    .venv/bin/python bench/tenants.py [--runs 3] [--only capture,check,up]

Prints Markdown for docs/performance.md, with the machine it ran on. Exits 1 when a target is
missed. Needs checkov's environment (`make checkov`) for the check part.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from offline_engine import machine  # noqa: E402

from blueprint.check.judge import MANIFESTS_NAME, TFPLAN_NAME  # noqa: E402 (needs the project)
from blueprint.checkov import scan  # noqa: E402
from components.config.compute import NamespaceQuota  # noqa: E402
from components.config.data_stores import USERS_PER_GROUP_QUOTA  # noqa: E402
from components.config.models import DataClassification, Environment  # noqa: E402
from components.config.tenants import TENANTS_DIR, load_tenants  # noqa: E402

PYTHON = sys.executable
CHECKOV = PROJECT / scan.ENV_DIR / "bin" / "checkov"

CAPTURE_COUNTS = (0, 200, 400)
CAPTURE_TARGET_S = 10.0
LINEAR_TARGET = 2.2
CHECK_COUNTS = (0, 200)
CHECK_TARGET = 1.25
UP_COUNTS = (0, 50)
UP_TARGET = 2.0

CAPTURE = (
    "from pathlib import Path; from blueprint.capture import capture; "
    "print(len(capture(Path('.'), 'prod').resources))"
)
ENVIRONMENTS = ("dev", "staging", "prod")
VALIDATION_QUOTA = NamespaceQuota(
    requests_cpu="4", requests_memory="8Gi", limits_cpu="8", limits_memory="16Gi", pods=50
)
"""Stands in for the stack's profile when validating: the generated files set no quota."""
VERDICT_OK = (0, 1)
"""`blueprint check` and the audit after `up` exit 1 on findings: the command ran to the end.
Exit 2 (could not run) is a failure of the benchmark."""


# --- the project copy and its tenants ------------------------------------------------------


def tenant_name(index: int) -> str:
    return f"team-{index:04d}"


def tenant_document(index: int) -> dict[str, object]:
    """A realistic team: two feature sets, one or two topics, a reader and a writer."""
    topics: dict[str, object] = {"events": {"partitions": 6, "retentionHours": 72}}
    if index % 2:
        topics["corrections"] = {"partitions": 3, "retentionHours": 168}
    return {
        "owner": f"owners-{index:04d}",
        "costCenter": f"cc-{3000 + index}",
        "dataClassification": "internal",
        "environments": list(ENVIRONMENTS),
        "featureSets": {
            "activity": {"topics": topics},
            "profiles": {"offlinePrefix": "profiles", "onlineKeyPrefix": "profile"},
        },
        "workloads": {
            "scorer": {"reads": ["activity", "profiles"]},
            "profile-writer": {"serviceAccount": "writer", "writes": ["profiles"]},
        },
    }


def write_tenants(project: Path, count: int) -> None:
    """`tenants/` with exactly ``count`` generated tenants, validated as the program loads them."""
    directory = project / TENANTS_DIR
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    for index in range(1, count + 1):
        text = yaml.safe_dump(tenant_document(index), sort_keys=False)
        (directory / f"{tenant_name(index)}.yaml").write_text(text)
    for environment in Environment:
        # The least permissive ceiling the stacks use (dev: internal); the real stack config
        # is applied again by the program itself in every measurement.
        loaded = load_tenants(
            directory,
            environment=environment,
            platform_classification=DataClassification.INTERNAL,
            quota_defaults=VALIDATION_QUOTA,
        )
        if len(loaded) != count:
            raise RuntimeError(f"{len(loaded)} of {count} tenants load in {environment.value}")


def project_files() -> list[str]:
    """The project as the working tree has it: tracked files, and new files not yet added but
    not ignored (a tracked module may already import one), so the copy runs what the checkout
    runs."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listed.split("\0") if name and (PROJECT / name).is_file()]


def make_project(root: Path, count: int) -> Path:
    project = root / f"tenants-{count}"
    for name in project_files():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / name, project / name)
    tools = PROJECT / ".tools"
    if tools.is_dir():
        (project / ".tools").symlink_to(tools)  # checkov's environment, built once per checkout
    write_tenants(project, count)
    raise_user_quota(project, count)
    return project


def raise_user_quota(project: Path, count: int) -> None:
    """Each generated team has two workloads, each an online-store user: the copies' stacks
    state a raised "Users per user group" quota, as an account serving them would have."""
    users = 1 + 2 * count
    for path in sorted((project / "stacks").glob("Pulumi.*.yaml")):
        document = yaml.safe_load(path.read_text())
        settings = document["config"].setdefault("feature-platform:onlineStore", {})
        settings["usersPerGroupQuota"] = max(users, USERS_PER_GROUP_QUOTA)
        path.write_text(yaml.safe_dump(document, sort_keys=False))


# --- running things ------------------------------------------------------------------------


def run(
    command: Sequence[str], cwd: Path, ok: tuple[int, ...] = (0,)
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall clock of one fresh process, and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in ok:
        raise RuntimeError(
            f"{' '.join(command)} in {cwd} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return elapsed, done


def blueprint(*arguments: str) -> list[str]:
    return [PYTHON, "-m", "blueprint", *arguments]


def rounds(
    runs: int, counts: Sequence[int], measure: Callable[[int], float]
) -> dict[int, list[float]]:
    """``runs`` samples per count; the order of the counts turns every round."""
    samples: dict[int, list[float]] = {count: [] for count in counts}
    for index in range(runs):
        shift = index % len(counts)
        for count in (*counts[shift:], *counts[:shift]):
            samples[count].append(measure(count))
    return samples


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def spread(samples: Sequence[float]) -> str:
    return f"{median(samples):.2f} ({min(samples):.2f}-{max(samples):.2f})"


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


# --- the three measurements ----------------------------------------------------------------


def bench_capture(projects: dict[int, Path], runs: int) -> tuple[list[str], bool]:
    resources: dict[int, int] = {}

    def measure(count: int) -> float:
        elapsed, done = run([PYTHON, "-c", CAPTURE], projects[count])
        resources[count] = int(done.stdout.split()[-1])
        return elapsed

    for count in CAPTURE_COUNTS:
        measure(count)  # warms the OS file cache, and counts the resources
    samples = rounds(runs, CAPTURE_COUNTS, measure)
    lines = [
        "| capture of prod, fresh process | resources | median (s) (min-max) |",
        "|---|---|---|",
        *(
            f"| {count} tenants | {resources[count]} | {spread(samples[count])} |"
            for count in CAPTURE_COUNTS
        ),
    ]
    at_200, at_400 = median(samples[200]), median(samples[400])
    linear = at_400 / at_200
    per_tenant = (at_400 - median(samples[0])) / 400
    lines += [
        "",
        f"- 200 tenants: {at_200:.2f} s (target ≤ {CAPTURE_TARGET_S:.0f} s): "
        f"{verdict(at_200 <= CAPTURE_TARGET_S)}",
        f"- 400 / 200: {linear:.2f} (target ≤ {LINEAR_TARGET}): {verdict(linear <= LINEAR_TARGET)}",
        f"- marginal cost: {per_tenant * 1000:.0f} ms per tenant, "
        f"{(resources[400] - resources[0]) / 400:.1f} resources per tenant",
    ]
    return lines, at_200 <= CAPTURE_TARGET_S and linear <= LINEAR_TARGET


def export(project: Path, scan_dir: Path) -> None:
    """What `blueprint check prod` has checkov scan (as bench/checkov_check.py lays it out)."""
    run(
        blueprint(
            "check", "prod", "--project", ".",
            "--export-tfplan", str(scan_dir / TFPLAN_NAME),
            "--export-manifests", str(scan_dir / MANIFESTS_NAME),
        ),
        project,
        ok=VERDICT_OK,
    )  # fmt: skip
    if not (scan_dir / TFPLAN_NAME).is_file() or not (scan_dir / MANIFESTS_NAME).is_dir():
        raise RuntimeError(f"blueprint check prod exported nothing to {scan_dir}")
    workflows = project / ".github" / "workflows"
    if workflows.is_dir():
        shutil.copytree(workflows, scan_dir / ".github" / "workflows")


def checkov_alone(project: Path, scan_dir: Path, out_dir: Path) -> tuple[float, int]:
    """checkov's own CLI on the exported inputs, with the argv `blueprint check` gives it."""
    argv = scan.checkov_argv(scan_dir, out_dir, project / scan.CHECKS_DIR)
    elapsed, _ = run([str(CHECKOV), *argv], project, ok=VERDICT_OK)
    report = out_dir / "results_json.json"
    if not report.is_file():
        raise RuntimeError(f"checkov wrote no report to {out_dir}")
    return elapsed, len(scan.parse_report(json.loads(report.read_text())))


def bench_check(projects: dict[int, Path], runs: int, root: Path) -> tuple[list[str], bool]:
    lines = [
        "| tenants | checkov results | `blueprint check prod` (s) | checkov alone (s) | ratio |",
        "|---|---|---|---|---|",
    ]
    met = True
    notes = []
    for count in CHECK_COUNTS:
        project = projects[count]
        scan_dir = root / f"scan-{count}"
        export(project, scan_dir)
        _, results = checkov_alone(project, scan_dir, root / f"warm-{count}")
        ours: list[float] = []
        theirs: list[float] = []
        for index in range(runs):
            out_dir = root / f"out-{count}-{index}"
            if index % 2:
                theirs.append(checkov_alone(project, scan_dir, out_dir)[0])
            ours.append(run(blueprint("check", "prod", "--project", "."), project, VERDICT_OK)[0])
            if not index % 2:
                theirs.append(checkov_alone(project, scan_dir, out_dir)[0])
        ratio = median(ours) / median(theirs)
        met = met and ratio <= CHECK_TARGET
        lines.append(f"| {count} | {results} | {spread(ours)} | {spread(theirs)} | {ratio:.2f} |")
        notes.append(
            f"- {count} tenants: ratio {ratio:.2f} (target ≤ {CHECK_TARGET}): "
            f"{verdict(ratio <= CHECK_TARGET)}"
        )
    return [*lines, "", *notes], met


def bench_up(projects: dict[int, Path], runs: int) -> tuple[list[str], bool]:
    exits: dict[int, set[int]] = {count: set() for count in UP_COUNTS}

    def measure(count: int) -> float:
        command = blueprint("up", "dev", "--local", "--project", ".")
        elapsed, done = run(command, projects[count], ok=VERDICT_OK)
        exits[count].add(done.returncode)
        return elapsed

    samples = rounds(runs, UP_COUNTS, measure)
    ratio = median(samples[50]) / median(samples[0])
    lines = [
        "| `blueprint up dev --local`, fresh process | median (s) (min-max) | exit |",
        "|---|---|---|",
        *(
            f"| {count} tenants | {spread(samples[count])} | "
            f"{', '.join(map(str, sorted(exits[count])))} |"
            for count in UP_COUNTS
        ),
        "",
        f"- 50 / 0: {ratio:.2f} (target ≤ {UP_TARGET}): {verdict(ratio <= UP_TARGET)}",
    ]
    return lines, ratio <= UP_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="capture,check,up", help="comma-separated parts")
    parser.add_argument("--keep", type=Path, help="build the copies here and keep them")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if parts - {"capture", "check", "up"}:
        parser.error(f"--only takes capture, check and up, not {args.only}")
    if "check" in parts and not CHECKOV.exists():
        parser.error(f"{CHECKOV} is missing: run `make checkov`")

    wanted = {"capture": CAPTURE_COUNTS, "check": CHECK_COUNTS, "up": UP_COUNTS}
    counts = sorted({count for part in parts for count in wanted[part]})
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        projects = {count: make_project(root, count) for count in counts}
        print(f"Machine: {machine()}. Medians of {args.runs} fresh processes (min-max).\n")
        results = []
        if "capture" in parts:
            lines, met = bench_capture(projects, args.runs)
            print("\n".join(lines), end="\n\n", flush=True)
            results.append(met)
        if "check" in parts:
            lines, met = bench_check(projects, args.runs, root)
            print("\n".join(lines), end="\n\n", flush=True)
            results.append(met)
        if "up" in parts:
            lines, met = bench_up(projects, args.runs)
            print("\n".join(lines), end="\n\n", flush=True)
            results.append(met)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
