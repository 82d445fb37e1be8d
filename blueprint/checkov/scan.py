"""checkov in its own environment: bootstrap it, warm it up, scan, read its report.

checkov pins ``packaging<24`` and pulumi needs ``packaging>=26``, so checkov lives in
``.tools/checkov``, synced from ``policies/checkov/requirements.lock`` (hashes; the version is
chosen once, in ``requirements.in``). ``make checkov`` builds it; the CLI builds it on first
use the same way, and rebuilds it when the lock changes (the stamp holds the lock's hash).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from blueprint.check.errors import CheckError
from blueprint.tool_env import ToolEnvironment

ENV_DIR = Path(".tools/checkov")
LOCK_FILE = Path("policies/checkov/requirements.lock")
CHECKS_DIR = Path("policies/checkov/checks")
_SUPPORTED = re.compile(r"supported_(?:resources|entities)=\(([^)]*)\)")


def custom_check_types(checks_dir: Path) -> set[str]:
    """Terraform types and Kubernetes kinds the custom checks judge (their declared
    ``supported_resources`` / ``supported_entities``)."""
    types: set[str] = set()
    for path in checks_dir.glob("fp_*.py"):
        for group in _SUPPORTED.findall(path.read_text()):
            types |= {name.strip().strip("\"'") for name in group.split(",") if name.strip()}
    return types


RUNNER = Path(__file__).with_name("runner.py")
READY_TIMEOUT = 120.0
SCAN_TIMEOUT = 600.0
STDERR_TAIL = 6000
FRAMEWORKS = ("terraform_plan", "kubernetes")
CUSTOM_PREFIX = "CKV_FP_"
CHECKOV_SEVERITIES = {
    "INFO": "info",
    "LOW": "low",
    "MEDIUM": "medium",
    "MODERATE": "medium",
    "HIGH": "high",
    "IMPORTANT": "high",
    "CRITICAL": "critical",
}
"""checkov's severity names (its ``BcSeverities``) → the verdict's."""
DEFAULT_SEVERITY = "high"
"""checkov's open-source checks carry no severity; an unrated failure is treated as high, so a
real finding never slips under a medium threshold. Custom checks set their own."""


class CheckovEnvironment(ToolEnvironment):
    """checkov's own environment (its pins clash with the project's: ``packaging<24``)."""

    ENV_DIR = ENV_DIR
    LOCK_FILE = LOCK_FILE
    LABEL = "checkov"
    MAKE_TARGET = "make checkov"

    def unavailable(self, message: str) -> Exception:
        return CheckError(message)


@dataclass(frozen=True)
class CheckRecord:
    """One check on one resource as checkov reported it."""

    check_id: str
    check_name: str
    result: str
    """``PASSED``, ``FAILED`` or ``SKIPPED``."""
    framework: str
    resource: str
    file_path: str
    severity: str
    guideline: str = ""


@dataclass
class CheckovReport:
    version: str
    records: list[CheckRecord] = field(default_factory=list)
    known_aws_types: frozenset[str] = frozenset()
    argv: list[str] = field(default_factory=list)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Framework → checkov's summary (``resource_count``, ``parsing_errors``, …)."""

    def problems(self, expected: dict[str, int], custom_checks: bool) -> list[str]:
        """Why this report cannot be trusted: :meth:`cannot_run`, then :meth:`judged_nothing`."""
        return self.cannot_run(custom_checks) + self.judged_nothing(expected)

    def cannot_run(self, custom_checks: bool) -> list[str]:
        """checkov did not run as asked: a file it could not parse, custom checks that never
        ran (the check could not run: exit 2)."""
        found = []
        for framework, summary in sorted(self.summaries.items()):
            if summary.get("parsing_errors"):
                found.append(
                    f"checkov could not parse {summary['parsing_errors']} {framework} file(s)"
                )
        if custom_checks and not any(r.check_id.startswith(CUSTOM_PREFIX) for r in self.records):
            found.append(f"no {CUSTOM_PREFIX}* check ran: checkov did not load {CHECKS_DIR}")
        return found

    def judged_nothing(self, expected: dict[str, int]) -> list[str]:
        """Frameworks given resources (``expected``: framework → count) of which checkov
        judged none (it ran and judged nothing: exit 1)."""
        found = []
        for framework, count in sorted(expected.items()):
            judged = self.summaries.get(framework, {}).get("resource_count", 0)
            if count and not judged:
                found.append(
                    f"checkov judged none of the {count} {framework} resources it was given: "
                    "it did not read the file (a changed plan format or checkov version?)"
                )
        return found


def summaries_of(document: Any) -> dict[str, dict[str, Any]]:
    reports = document if isinstance(document, list) else [document]
    return {r.get("check_type", ""): dict(r.get("summary", {})) for r in reports}


def parse_report(document: Any) -> list[CheckRecord]:
    """Records from checkov's JSON output (one object per framework, or a list of them)."""
    reports = document if isinstance(document, list) else [document]
    records: list[CheckRecord] = []
    for report in reports:
        framework = report.get("check_type", "")
        results = report.get("results", {})
        for key, outcome in (
            ("passed_checks", "PASSED"),
            ("failed_checks", "FAILED"),
            ("skipped_checks", "SKIPPED"),
        ):
            for item in results.get(key, []):
                severity = CHECKOV_SEVERITIES.get(str(item.get("severity")).upper())
                records.append(
                    CheckRecord(
                        check_id=item["check_id"],
                        check_name=item.get("check_name", ""),
                        result=outcome,
                        framework=framework,
                        resource=item.get("resource", ""),
                        file_path=item.get("file_path", ""),
                        severity=severity or DEFAULT_SEVERITY,
                        guideline=item.get("guideline") or "",
                    )
                )
    return records


class CheckovSession:
    """checkov's runner in its own interpreter, importing while the caller works."""

    def __init__(self, python: Path, cwd: Path) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._lines: queue.Queue[str | None] = queue.Queue()
        env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONPATH", None)
        try:
            self.popen = subprocess.Popen(
                [str(python), str(RUNNER)],
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                # Its own process group: checkov forks workers, and close() stops them all.
                start_new_session=True,
            )
        except OSError as exc:
            raise CheckError(f"could not start checkov ({python}): {exc}") from None
        assert self.popen.stdout is not None
        threading.Thread(target=self._read, args=(self.popen.stdout,), daemon=True).start()
        self._ready: dict[str, Any] | None = None
        self._argv: list[str] = []
        self._out_dir = Path()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout: float, waiting_for: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise CheckError(
                f"checkov did not answer within {timeout:.0f} s ({waiting_for})"
            ) from None
        if line is None:
            self.popen.wait()
            raise CheckError(
                f"checkov exited with {self.popen.returncode} ({waiting_for}):\n{self.stderr()}"
            )
        try:
            parsed: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            raise CheckError(
                f"checkov's runner wrote {line.strip()[:200]!r} ({waiting_for}), not its protocol:"
                f"\n{self.stderr()}"
            ) from None
        return parsed

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-STDERR_TAIL:]

    def ready(self) -> dict[str, Any]:
        if self._ready is None:
            self._ready = self._next(READY_TIMEOUT, "starting")
        return self._ready

    def start(self, scan_dir: Path, out_dir: Path, checks_dir: Path | None) -> None:
        """Hand checkov the scan and return at once: it runs in its own process (the request
        waits in the pipe if checkov is still importing) while the caller goes on."""
        self._argv = checkov_argv(scan_dir, out_dir, checks_dir)
        self._out_dir = out_dir
        assert self.popen.stdin is not None
        # If it already died, result() reports why, with its stderr.
        with contextlib.suppress(BrokenPipeError):
            self.popen.stdin.write(json.dumps({"argv": self._argv}) + "\n")
            self.popen.stdin.flush()

    def result(self) -> CheckovReport:
        """Wait for the scan :meth:`start` handed over and parse its report."""
        ready = self.ready()
        self._next(SCAN_TIMEOUT, "scanning")
        result_file = self._out_dir / "results_json.json"
        if not result_file.is_file():
            raise CheckError(f"checkov wrote no report to {self._out_dir}:\n{self.stderr()}")
        document = json.loads(result_file.read_text())
        return CheckovReport(
            version=str(ready.get("version", "")),
            records=parse_report(document),
            summaries=summaries_of(document),
            known_aws_types=frozenset(ready.get("awsTypes", [])),
            argv=self._argv,
        )

    def scan(self, scan_dir: Path, out_dir: Path, checks_dir: Path | None) -> CheckovReport:
        """Scan ``scan_dir`` (a plan, manifests, workflows) and parse the report."""
        self.start(scan_dir, out_dir, checks_dir)
        return self.result()

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # the runner and any worker left
        self.popen.wait()
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream:
                stream.close()
        self._stderr.close()


def checkov_argv(scan_dir: Path, out_dir: Path, checks_dir: Path | None) -> list[str]:
    """checkov's command line for a scan (what ``--export-*`` users re-run by hand)."""
    frameworks = list(FRAMEWORKS)
    if (scan_dir / ".github" / "workflows").is_dir():
        frameworks.append("github_actions")
    argv = ["--directory", str(scan_dir), "--framework", *frameworks]
    if checks_dir is not None and checks_dir.is_dir():
        argv += ["--external-checks-dir", str(checks_dir)]
    # Offline: no Prisma Cloud guidelines download; the exit code is ours to decide.
    argv += ["--output", "json", "--output-file-path", str(out_dir), "--skip-download"]
    return [*argv, "--soft-fail"]


@contextmanager
def session(
    project_dir: Path, say: Callable[[str], None] = lambda _: None
) -> Iterator[CheckovSession]:
    """checkov, bootstrapped if needed and started now; always stopped on the way out."""
    python = CheckovEnvironment(project_dir).ensure(say)
    started = CheckovSession(python, project_dir)
    try:
        yield started
    finally:
        started.close()
