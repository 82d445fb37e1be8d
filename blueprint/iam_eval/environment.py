"""The evaluator's own environment, ``.tools/iam-eval``, synced from a hash-locked file.

A parallel of :class:`blueprint.checkov.scan.CheckovEnvironment` (same lock, hashes and stamp,
so ``make iam-eval`` and the client build the same thing) rather than a refactor of it: the two
differ in their paths and in the command their errors name, and the rest is a dozen lines.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ENV_DIR = Path(".tools/iam-eval")
LOCK_FILE = Path("policies/iam-eval/requirements.lock")
STAMP = ".synced"
MAKE_TARGET = "make iam-eval"


class IamEvalUnavailableError(RuntimeError):
    """The evaluator's environment is missing and could not be built."""


@dataclass(frozen=True)
class IamEvalEnvironment:
    project_dir: Path

    @property
    def directory(self) -> Path:
        return self.project_dir / ENV_DIR

    @property
    def python(self) -> Path:
        return self.directory / "bin" / "python"

    @property
    def lock(self) -> Path:
        return self.project_dir / LOCK_FILE

    def lock_hash(self) -> str:
        return hashlib.sha256(self.lock.read_bytes()).hexdigest()

    def is_current(self) -> bool:
        stamp = self.directory / STAMP
        return (
            self.python.exists()
            and stamp.is_file()
            and stamp.read_text().strip() == self.lock_hash()
        )

    def ensure(self, say: Callable[[str], None] = lambda _: None) -> Path:
        """The environment's interpreter, built (or rebuilt for a changed lock) when needed."""
        if not self.lock.is_file():
            raise IamEvalUnavailableError(
                f"{self.lock} is missing: the IAM evaluator's pinned requirements "
                f"(restore it, then run `{MAKE_TARGET}`)"
            )
        if self.is_current():
            return self.python
        say(f"installing the IAM evaluator into {ENV_DIR} from {LOCK_FILE} (once)")
        uv = self.project_dir / ".tools" / "bin" / "uv"
        uv_cmd = str(uv) if uv.exists() else shutil.which("uv")
        if uv_cmd:
            steps = [
                [uv_cmd, "venv", "--quiet", "--clear", "--python", sys.executable,
                 str(self.directory)],
                [
                    uv_cmd, "pip", "sync", "--quiet", "--compile-bytecode", "--require-hashes",
                    "--python", str(self.python), str(self.lock),
                ],
            ]  # fmt: skip
        else:
            steps = [
                [sys.executable, "-m", "venv", "--clear", str(self.directory)],
                [
                    str(self.python), "-m", "pip", "install", "--quiet", "--require-hashes",
                    "-r", str(self.lock),
                ],
            ]  # fmt: skip
        if self.python.exists():
            steps = steps[1:]  # the environment is there, only its packages are stale
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode:
                raise IamEvalUnavailableError(
                    f"the IAM evaluator's environment {ENV_DIR} is missing and could not be "
                    f"built ({' '.join(step[:3])} ...): {done.stderr.strip()[-2000:]}\n"
                    f"fix the cause, then run `{MAKE_TARGET}`"
                )
        (self.directory / STAMP).write_text(self.lock_hash() + "\n")
        return self.python
