"""Benchmark the offline engine: capture of the prod stack, and `blueprint up dev --local`.

Each measurement runs in a fresh process (what a user or CI pays), several times; the
median is reported. Capture is also measured warm (in one process, imports done), which is
what the test suite and later checks pay per stack.

    .venv/bin/python bench/offline_engine.py [--runs 5]

Prints a Markdown section for docs/performance.md, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from blueprint.capture import capture  # noqa: E402 (needs the project on the path)
from blueprint.local.target import wait_for_port  # noqa: E402

PYTHON = sys.executable

CAPTURE_COLD = (
    "from pathlib import Path; from blueprint.capture import capture; capture(Path('.'), 'prod')"
)


def timed(command: list[str], ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in ok:
        raise RuntimeError(f"{command} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return elapsed


SERVER_DEPLOY_OK = (0, 1)
"""A server in another process cannot run the rotation function, so the audit after a deploy
into it fails SECRETS.ROTATED (exit 1); the deploy itself completed (a failed one is exit 2)."""


def up_against_warm_server(runs: int) -> tuple[list[float], list[float]]:
    """`blueprint up dev --local --endpoint` against a moto server that has served a deploy,
    then the same deploy again (it converges: every resource reused from the server's state).

    Each run gets a new server, warmed by deploying staging first, so the sample shows what a
    long-lived server costs.
    """
    samples, again = [], []
    for _ in range(runs):
        port = 5000 + os.getpid() % 1000
        server = subprocess.Popen(
            [PYTHON, "-m", "blueprint", "moto-server", "--port", str(port)],
            cwd=PROJECT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            if not wait_for_port(port, timeout=90.0):
                raise RuntimeError(f"moto server on port {port} did not start")
            up = [PYTHON, "-m", "blueprint", "up"]
            timed([*up, "staging", "--local", "--endpoint", endpoint], ok=SERVER_DEPLOY_OK)
            dev = [*up, "dev", "--local", "--endpoint", endpoint]
            samples.append(timed(dev, ok=SERVER_DEPLOY_OK))
            again.append(timed(dev, ok=SERVER_DEPLOY_OK))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    return samples, again


def warm_capture(runs: int) -> list[float]:
    capture(PROJECT, "prod")  # imports and first-use costs
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        capture(PROJECT, "prod")
        samples.append(time.perf_counter() - started)
    return samples


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    timed([PYTHON, "-c", CAPTURE_COLD])  # warm the OS file cache once
    rows = {
        "capture prod, fresh process": [
            timed([PYTHON, "-c", CAPTURE_COLD]) for _ in range(args.runs)
        ],
        "capture prod, warm (in process)": warm_capture(args.runs),
        "blueprint up dev --local (deploy + audit), fresh process": [
            timed([PYTHON, "-m", "blueprint", "up", "dev", "--local"]) for _ in range(args.runs)
        ],
    }
    first, again = up_against_warm_server(args.runs)
    rows["blueprint up dev --local --endpoint (warm moto server)"] = first
    rows["the same again: a converging re-deploy (every resource reused)"] = again
    print(f"Machine: {machine()}\n")
    print("| measurement | median (s) | min (s) | max (s) | runs |")
    print("|---|---|---|---|---|")
    for name, samples in rows.items():
        print(
            f"| {name} | {statistics.median(samples):.2f} | {min(samples):.2f} | "
            f"{max(samples):.2f} | {len(samples)} |"
        )


if __name__ == "__main__":
    main()
