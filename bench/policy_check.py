"""Benchmark `blueprint check prod`: the capture, and the policy part on its own.

The policy part is what the offline CrossGuard driver adds to a capture: start the pack
processes, Handshake/ConfigureStack/GetAnalyzerInfo/Configure, Remediate/Analyze per
resource, AnalyzeStack, stop. Each run starts fresh pack processes against a plan captured
once; the median of the runs is reported, with the default workers per pack and with one
(the CLI's single process), and for the Node.js test pack when its dependencies are there.

    .venv/bin/python bench/policy_check.py [--runs 5]

Prints a Markdown table with the machine it ran on.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from offline_engine import CAPTURE_COLD, PYTHON, machine, timed  # noqa: E402

from blueprint.capture import Plan, capture  # noqa: E402 (needs the project on the path)
from blueprint.check import PackRequest, StackTarget, check_plan, load_pack  # noqa: E402
from blueprint.check.command import pack_requests, stack_target  # noqa: E402
from blueprint.check.driver import WORKERS, running  # noqa: E402
from blueprint.check.pack import NODE_ENTRY  # noqa: E402

STACK = "prod"
NODE_PACK = PROJECT / "tests" / "fixtures" / "node-policy-pack"


def sampled(runs: int, action: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def end_to_end() -> float:
    """The whole command; its verdict (exit 0 or 1) does not matter here, only its time."""
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "blueprint", "check", STACK], cwd=PROJECT, capture_output=True, check=False
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"blueprint check {STACK} could not run:\n{done.stderr.decode()}")
    return time.perf_counter() - started


def policy_part(
    plan: Plan, requests: list[PackRequest], target: StackTarget, workers: int
) -> Callable[[], object]:
    return lambda: check_plan(plan, requests, target, workers=workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    plan = capture(PROJECT, STACK, preview=True)
    target = stack_target(PROJECT, STACK)
    ours = pack_requests(PROJECT, STACK, [], [])
    policy_part(plan, ours, target, WORKERS)()  # warm the OS file cache once
    timed([PYTHON, "-c", CAPTURE_COLD])
    rows = {
        f"(a) capture {STACK}, fresh process": [
            timed([PYTHON, "-c", CAPTURE_COLD]) for _ in range(args.runs)
        ],
        f"(a) capture {STACK}, warm (in process)": sampled(
            args.runs, lambda: capture(PROJECT, STACK, preview=True)
        ),
        f"(b) policy part, policies/ ({WORKERS} workers)": sampled(
            args.runs, policy_part(plan, ours, target, WORKERS)
        ),
        "(b) policy part, policies/ (1 worker, as the CLI)": sampled(
            args.runs, policy_part(plan, ours, target, 1)
        ),
    }
    if (NODE_PACK / NODE_ENTRY).exists():
        node = [PackRequest(load_pack(NODE_PACK))]
        rows[f"(b) policy part, Node.js test pack ({WORKERS} workers)"] = sampled(
            args.runs, policy_part(plan, node, target, WORKERS)
        )
    rows[f"blueprint check {STACK}, fresh process (end to end)"] = [
        end_to_end() for _ in range(args.runs)
    ]
    print(f"Machine: {machine()}\n")
    print(f"Plan: {len(plan.resources)} resources; policies/ has {policy_count(ours, target)}.\n")
    print("| measurement | median (s) | min (s) | max (s) | runs |")
    print("|---|---|---|---|---|")
    for name, samples in rows.items():
        print(
            f"| {name} | {statistics.median(samples):.2f} | {min(samples):.2f} | "
            f"{max(samples):.2f} | {len(samples)} |"
        )


def policy_count(requests: list[PackRequest], target: StackTarget) -> str:
    with running(requests, target, workers=1) as started:
        return f"{len(started.packs()[0][0].info.policies)} policies"


if __name__ == "__main__":
    main()
