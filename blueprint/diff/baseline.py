"""The plan of a stack at a git ref: the ref's tree laid out in a temporary directory, its
program captured in a process of its own (:mod:`blueprint.diff.emit`).

Both sides of a diff are captured the same way (a subprocess each, run side by side), so
they differ only in the program and the stack file, never in how they were captured.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import blueprint
from blueprint.capture import Plan, PlannedResource
from blueprint.stackfile import StackFileError, read_project

TOOLING_ROOT = Path(blueprint.__file__).resolve().parent.parent
CAPTURE_TIMEOUT = 600
"""Seconds; a capture takes a few, a hung one must not hold CI for hours."""
STDERR_TAIL = 2000


class BaselineError(Exception):
    """The plan to compare with could not be produced (a bad ref, a failed capture): exit 2."""


@dataclass(frozen=True)
class Tree:
    """A project directory at a commit."""

    path: Path
    ref: str
    commit: str

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.commit[:12]})" if self.ref != self.commit else self.commit


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:  # no git on PATH
        raise BaselineError(f"git could not run: {exc}") from exc


def _out(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stdout.decode().strip()


def resolve(project_dir: Path, ref: str) -> tuple[Path, str, str]:
    """(repository root, the project's path in it, the commit ``ref`` names)."""
    top = _git(project_dir, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise BaselineError(f"{project_dir} is not in a git repository: --base needs one")
    prefix = _out(_git(project_dir, "rev-parse", "--show-prefix"))
    commit = _git(
        project_dir, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
    )
    if commit.returncode != 0 or not ref or ref.startswith("-"):
        raise BaselineError(
            f"--base {ref!r} names no commit in {_out(top)} "
            "(in CI, fetch the base branch first: actions/checkout with fetch-depth: 0)"
        )
    return Path(_out(top)), prefix, _out(commit)


@contextmanager
def materialised(project_dir: Path, ref: str) -> Iterator[Tree]:
    """The project as committed at ``ref``, in a temporary directory removed afterwards."""
    top, prefix, commit = resolve(project_dir, ref)
    archive = _git(top, "archive", "--format=tar", commit)
    if archive.returncode != 0:
        raise BaselineError(f"git archive {commit} failed: {archive.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory(prefix="blueprint-base-") as tmp:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        except tarfile.TarError as exc:
            # The "data" filter refuses what could write outside the tree (an absolute or
            # escaping symlink, a device): say which, not a traceback.
            raise BaselineError(
                f"the tree at {ref} ({commit[:12]}) cannot be laid out safely: {exc}; "
                "remove the offending file from that commit or diff against another ref"
            ) from None
        yield Tree(Path(tmp) / prefix, ref, commit)


class Capture:
    """One capture running in its own process; :meth:`plan` waits for it."""

    def __init__(self, tree: Path, stack: str, what: str) -> None:
        self.tree = tree
        self.stack = stack
        self.what = what
        handle, name = tempfile.mkstemp(prefix="blueprint-plan-", suffix=".json")
        os.close(handle)
        self._path = Path(name)
        self.empty = not _has_stack(tree, stack)
        self._process: subprocess.Popen[str] | None = None
        if self.empty:
            return
        env = {**os.environ, "PYTHONPATH": str(TOOLING_ROOT)}
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "blueprint.diff.emit", str(tree), stack, str(self._path)],
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def plan(self) -> Plan:
        try:
            if self._process is None:
                # A stack that did not exist at the base: everything in it is new.
                return Plan(project="", stack=self.stack, resources=[], outputs={})
            try:
                _, stderr = self._process.communicate(timeout=CAPTURE_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.communicate()
                raise BaselineError(
                    f"capturing {self.what} took over {CAPTURE_TIMEOUT} s"
                ) from None
            if self._process.returncode != 0:
                raise BaselineError(
                    f"capturing {self.what} failed (exit {self._process.returncode}):\n"
                    + stderr.strip()[-STDERR_TAIL:]
                )
            return normalised(load_plan(json.loads(self._path.read_text())), self.tree)
        finally:
            self._path.unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop the process if it is still running (the caller failed before waiting)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.communicate()
        self._path.unlink(missing_ok=True)


def _has_stack(tree: Path, stack: str) -> bool:
    try:
        return read_project(tree).stack_file(stack).is_file()
    except StackFileError:
        return False


def load_plan(document: dict[str, Any]) -> Plan:
    names = {f.name for f in fields(PlannedResource)}
    resources = [
        PlannedResource(**{k: v for k, v in r.items() if k in names}) for r in document["resources"]
    ]
    return Plan(
        project=document["project"],
        stack=document["stack"],
        resources=resources,
        outputs=document.get("outputs", {}),
    )


def normalised(plan: Plan, tree: Path) -> Plan:
    """File assets named by where the tree lies, as paths in the tree plus their content hash:
    two checkouts of the same code then read alike, and a changed Lambda source differs."""
    root = str(tree.resolve())
    for resource in plan.resources:
        resource.inputs = _assets(resource.inputs, root)
    return plan


def _assets(value: Any, root: str) -> Any:
    if isinstance(value, dict):
        path = value.get("path")
        if set(value) == {"path"} and isinstance(path, str) and path.startswith(root + os.sep):
            file = Path(path)
            digest = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else ""
            return {"path": os.path.relpath(path, root), "sha256": digest}
        return {k: _assets(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_assets(v, root) for v in value]
    return value
