"""Isolated tool environments: a venv under ``.tools/<tool>`` synced from a hash-locked file.

checkov, the IAM evaluator and the NetworkPolicy analyzer each run in an interpreter of their
own (their pins clash with the project's, or their licences stay out of it). One class builds
them all the same way: ``uv venv`` then ``uv pip sync --require-hashes`` (or venv and pip when
uv is missing), a stamp holding the lock's hash, and a rebuild when the lock changes, so
``make <tool>`` and the code that needs the tool build exactly the same thing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

STAMP = ".synced"


@dataclass(frozen=True)
class ToolEnvironment:
    """A tool's environment in ``project_dir``; subclasses name the tool."""

    project_dir: Path

    ENV_DIR: ClassVar[Path]
    LOCK_FILE: ClassVar[Path]
    LABEL: ClassVar[str]
    """The tool, as messages name it (``the IAM evaluator``)."""
    MAKE_TARGET: ClassVar[str]

    @property
    def directory(self) -> Path:
        return self.project_dir / self.ENV_DIR

    @property
    def python(self) -> Path:
        return self.directory / "bin" / "python"

    @property
    def lock(self) -> Path:
        return self.project_dir / self.LOCK_FILE

    def lock_hash(self) -> str:
        return hashlib.sha256(self.lock.read_bytes()).hexdigest()

    def is_current(self) -> bool:
        stamp = self.directory / STAMP
        return (
            self.python.exists()
            and stamp.is_file()
            and stamp.read_text().strip() == self.lock_hash()
        )

    def unavailable(self, message: str) -> Exception:
        """The error this tool raises when its environment cannot be had."""
        return RuntimeError(message)

    def ensure(self, say: Callable[[str], None] = lambda _: None) -> Path:
        """The environment's interpreter, built (or rebuilt for a changed lock) when needed."""
        if not self.lock.is_file():
            raise self.unavailable(
                f"{self.lock} is missing: {self.LABEL}'s pinned requirements "
                f"(restore it, then run `{self.MAKE_TARGET}`)"
            )
        if self.is_current():
            return self.python
        say(f"installing {self.LABEL} into {self.ENV_DIR} from {self.LOCK_FILE} (once)")
        for step in self._steps():
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode:
                raise self.unavailable(
                    f"{self.LABEL}'s environment {self.ENV_DIR} could not be built "
                    f"({' '.join(step[:3])} ...): {done.stderr.strip()[-2000:]}\n"
                    f"fix the cause, then run `{self.MAKE_TARGET}`"
                )
        (self.directory / STAMP).write_text(self.lock_hash() + "\n")
        return self.python

    def _steps(self) -> list[list[str]]:
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
        # The environment is there, only its packages are stale: sync them in place.
        return steps[1:] if self.python.exists() else steps
