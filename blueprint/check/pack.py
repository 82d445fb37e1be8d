"""A policy pack on disk: its ``PulumiPolicy.yaml`` and the command that serves it.

The command is the one the Pulumi CLI runs (through its ``pulumi-analyzer-policy[-python]``
shims), from the pack's directory, with the engine address and the program ``.``:

- Python: ``<python> -u -m pulumi.policy <address> .``; the interpreter is the pack's
  ``virtualenv`` runtime option when set, else the one running ``blueprint`` (the project
  venv, which has ``pulumi-policy``).
- Node.js: ``node <pack>/node_modules/@pulumi/pulumi/cmd/run-policy-pack <address> .``

Runtime options are appended as ``-<key>=<value>``, as the CLI appends them.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from blueprint.check.errors import CheckError

POLICY_FILE = "PulumiPolicy.yaml"
RUNTIMES = ("python", "nodejs")
NODE_ENTRY = Path("node_modules/@pulumi/pulumi/cmd/run-policy-pack")


@dataclass(frozen=True)
class PolicyPackDir:
    """A policy pack directory, as ``PulumiPolicy.yaml`` describes it."""

    directory: Path
    runtime: str
    """``python`` or ``nodejs``."""
    version: str = ""
    """From ``PulumiPolicy.yaml``; the CLI prefers it to the version the pack reports."""
    description: str = ""
    options: dict[str, str] = field(default_factory=dict)
    """Runtime options (``runtime: {name: python, options: {virtualenv: venv}}``)."""

    def command(self, engine_address: str) -> list[str]:
        """The argv that serves the pack; raises :class:`CheckError` naming what is missing."""
        program = [*self._interpreter(), engine_address, "."]
        return program + [f"-{key}={value}" for key, value in self.options.items() if value]

    def _interpreter(self) -> list[str]:
        if self.runtime == "python":
            return [self._python(), "-u", "-m", "pulumi.policy"]
        node = shutil.which("node")
        if node is None:
            raise CheckError(
                f"{self.directory} is a Node.js policy pack but node is not installed "
                "(or not on PATH); install Node.js 18 or later"
            )
        entry = self.directory / NODE_ENTRY
        if not entry.exists():
            raise CheckError(
                f"the Node.js policy pack in {self.directory} has no dependencies installed "
                f"({NODE_ENTRY} is missing): run npm ci in {self.directory}"
            )
        return [node, str(entry)]

    def _python(self) -> str:
        venv = self.options.get("virtualenv")
        if venv:
            python = self.directory / venv / "bin" / "python"
            if not python.exists():
                raise CheckError(
                    f"the policy pack in {self.directory} names virtualenv {venv!r}, which "
                    f"does not exist: run python -m venv {venv} && {venv}/bin/pip install "
                    f"-r requirements.txt in {self.directory}"
                )
            return str(python)
        if importlib.util.find_spec("pulumi_policy") is None:
            raise CheckError(
                f"{sys.executable} cannot import pulumi_policy, which the Python policy pack "
                f"in {self.directory} needs: run make install"
            )
        return sys.executable


def load_pack(directory: Path) -> PolicyPackDir:
    """Read the pack in ``directory``; raises :class:`CheckError` naming the fix."""
    if not directory.is_dir():
        raise CheckError(f"policy pack directory {directory} does not exist")
    path = directory / POLICY_FILE
    if not path.is_file():
        raise CheckError(
            f"{directory} is not a policy pack: it has no {POLICY_FILE} "
            "(create one with `runtime: python` or `runtime: nodejs`)"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise CheckError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CheckError(f"{path} must be a mapping with at least `runtime`")
    runtime, options = _runtime(path, data.get("runtime"))
    return PolicyPackDir(
        directory=directory.resolve(),
        runtime=runtime,
        version=str(data.get("version") or ""),
        description=str(data.get("description") or ""),
        options=options,
    )


def _runtime(path: Path, value: Any) -> tuple[str, dict[str, str]]:
    options: dict[str, str] = {}
    if isinstance(value, dict):
        options = {str(k): str(v) for k, v in (value.get("options") or {}).items()}
        value = value.get("name")
    if value not in RUNTIMES:
        raise CheckError(
            f"{path}: runtime {value!r} is not supported here; use one of {', '.join(RUNTIMES)}"
        )
    return str(value), options
