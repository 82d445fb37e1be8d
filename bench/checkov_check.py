"""Benchmark `blueprint check prod` end to end against checkov alone on the exported plan.

The target: `blueprint check prod` (capture, policy pack, translation, checkov) takes at most
1.5 times what checkov alone takes to scan the same inputs. The plan and manifests are exported
once (`--export-tfplan`, `--export-manifests`), next to a copy of `.github/workflows` when the
project has one (as `blueprint check` lays out what checkov scans); then each round runs, as
fresh processes (how users run them), `blueprint check prod` and checkov on exactly those
inputs, with the argv `blueprint.checkov.scan.checkov_argv` builds. The two alternate, and
swap order every round, so background load falls on both. Medians, min and max are reported,
with the ratio of the medians; the three stacks are then timed once each. Exits 1 when the
ratio misses the target.

    .venv/bin/python bench/checkov_check.py [--rounds 5]

Needs checkov's environment (`make checkov`). Prints Markdown, with the machine it ran on.
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
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from offline_engine import machine  # noqa: E402

from blueprint.check.judge import MANIFESTS_NAME, TFPLAN_NAME  # noqa: E402 (needs the project)
from blueprint.checkov import scan  # noqa: E402

STACK = "prod"
STACKS = ("dev", "staging", "prod")
TARGET = 1.5
BLUEPRINT = PROJECT / ".venv" / "bin" / "blueprint"
CHECKOV = PROJECT / scan.ENV_DIR / "bin" / "checkov"


def run(command: list[str], what: str) -> float:
    """Wall clock of one fresh process; a verdict (exit 1) is fine, a crash (2+) is not."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{what} could not run ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def check(stack: str) -> float:
    return run([str(BLUEPRINT), "check", stack, "--project", "."], f"blueprint check {stack}")


def export(scan_dir: Path) -> None:
    """What `blueprint check prod` has checkov scan: the plan, the manifests, CI workflows."""
    run(
        [
            str(BLUEPRINT), "check", STACK, "--project", ".",
            "--export-tfplan", str(scan_dir / TFPLAN_NAME),
            "--export-manifests", str(scan_dir / MANIFESTS_NAME),
        ],
        f"blueprint check {STACK} --export-*",
    )  # fmt: skip
    if not (scan_dir / TFPLAN_NAME).is_file() or not (scan_dir / MANIFESTS_NAME).is_dir():
        raise RuntimeError(f"blueprint check {STACK} exported nothing to {scan_dir}")
    workflows = PROJECT / ".github" / "workflows"
    if workflows.is_dir():
        shutil.copytree(workflows, scan_dir / ".github" / "workflows")


def checkov_alone(scan_dir: Path, out_dir: Path) -> tuple[float, list[scan.CheckRecord]]:
    """checkov's own CLI on the exported inputs: its time and the results it reported."""
    argv = scan.checkov_argv(scan_dir, out_dir, PROJECT / scan.CHECKS_DIR)
    elapsed = run([str(CHECKOV), *argv], "checkov")
    report = out_dir / "results_json.json"
    if not report.is_file():
        raise RuntimeError(f"checkov wrote no report to {out_dir}")
    return elapsed, scan.parse_report(json.loads(report.read_text()))


def checkov_version() -> str:
    done = subprocess.run(
        [str(CHECKOV), "--version"], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def row(name: str, samples: list[float]) -> str:
    return (
        f"| {name} | {statistics.median(samples):.2f} | {min(samples):.2f} | "
        f"{max(samples):.2f} | {len(samples)} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not CHECKOV.exists():
        parser.error(f"{CHECKOV} is missing: run `make checkov`")

    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-checkov-") as tmp:
        scan_dir = Path(tmp) / "scan"
        export(scan_dir)  # also warms the OS file cache for the project's venv
        _, results = checkov_alone(scan_dir, Path(tmp) / "warm")  # and for checkov's
        for index in range(args.rounds):
            out_dir = Path(tmp) / f"out-{index}"
            if index % 2:
                theirs.append(checkov_alone(scan_dir, out_dir)[0])
            ours.append(check(STACK))
            if not index % 2:
                theirs.append(checkov_alone(scan_dir, out_dir)[0])
    stacks = {stack: check(stack) for stack in STACKS}

    ratio = statistics.median(ours) / statistics.median(theirs)
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"Machine: {machine()}; checkov {checkov_version()}\n")
    frameworks = ", ".join(sorted({record.framework for record in results}))
    print(f"checkov on the exported {STACK} inputs: {len(results)} results ({frameworks}).\n")
    print("| measurement | median (s) | min (s) | max (s) | runs |")
    print("|---|---|---|---|---|")
    print(row(f"`blueprint check {STACK}`, fresh process (end to end)", ours))
    print(row("checkov alone on the exported inputs, fresh process", theirs))
    print(f"\nRatio of medians: {ratio:.2f} (target ≤ {TARGET}): {verdict}\n")
    print("| stack | `blueprint check` (s), one run |")
    print("|---|---|")
    for stack, elapsed in stacks.items():
        print(f"| {stack} | {elapsed:.2f} |")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
