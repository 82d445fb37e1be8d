"""What ``blueprint check`` writes (reports, exports): checked before anything runs, and
what an earlier run left there removed first.

Every path is validated up front, so a typo never costs a whole run and never ends in a
traceback: a file option naming a directory, a directory option naming a file, a parent that
is a file or not writable, two options naming the same path are one :class:`CheckError`
(exit 2) naming the option, the path and the fix. Missing parent directories are created
when the file is written (the pull-request workflow writes to ``out/`` without making it).

A run that fails before writing its reports must not leave the previous run's in their place
(CI would upload last run's SARIF as this run's): :func:`prepare` removes them first, also
when another option is invalid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from blueprint.check.errors import CheckError
from blueprint.checkov.manifests import FILE_PATTERN


@dataclass(frozen=True)
class Output:
    option: str
    """The command-line option, as the user typed it (``--sarif``)."""
    path: Path
    directory: bool = False
    """True for an option that names a directory (``--export-manifests``)."""


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def problem(output: Output) -> str | None:
    """Why ``output`` cannot be written (``None``: it can)."""
    option, path = output.option, output.path
    if output.directory and path.exists() and not path.is_dir():
        return (
            f"{option} {path}: is a file, but {option} names a directory (the manifests go "
            "in it); remove the file or name a directory"
        )
    if not output.directory and path.is_dir():
        return (
            f"{option} {path}: is a directory, but {option} names a file; name a file in "
            f"it, e.g. {option} {path / _example(option)}"
        )
    parent = path if output.directory else path.parent
    existing = _nearest_existing(parent)
    if not existing.is_dir():
        return (
            f"{option} {path}: {existing} is a file, not a directory, so {parent} cannot be "
            "created; choose another path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{option} {path}: {existing} is not writable; choose another path"
    return None


def _example(option: str) -> str:
    return {
        "--sarif": "check.sarif",
        "--junit": "check.xml",
        "--markdown": "check.md",
        "--json": "check.json",
        "--export-tfplan": "tfplan.json",
    }.get(option, "out")


def _duplicates(outputs: Sequence[Output]) -> list[str]:
    seen: dict[Path, str] = {}
    found = []
    for output in outputs:
        key = output.path.resolve()
        if key in seen:
            found.append(
                f"{seen[key]} and {output.option} both name {output.path}; give each its own path"
            )
        else:
            seen[key] = output.option
    return found


def _remove_stale(output: Output) -> None:
    path = output.path
    if output.directory:
        if path.is_dir():
            for stale in path.glob(FILE_PATTERN):
                if stale.is_file():
                    stale.unlink()
    elif path.is_file() or path.is_symlink():
        path.unlink()


def prepare(outputs: Sequence[Output]) -> None:
    """Validate every output and remove what an earlier run left at the valid ones; raise
    :class:`CheckError` naming every invalid option."""
    problems = _duplicates(outputs)
    for output in outputs:
        found = problem(output)
        if found:
            problems.append(found)
            continue
        try:
            _remove_stale(output)
        except OSError as exc:
            problems.append(
                f"{output.option} {output.path}: cannot remove the previous run's "
                f"{'files' if output.directory else 'file'}: {exc.strerror or exc}"
            )
    if problems:
        raise CheckError("; ".join(problems))
