"""Read ``Pulumi.yaml`` and ``stacks/Pulumi.<stack>.yaml`` the way the Pulumi CLI does.

The engine hands a program its config as a flat map of ``namespace:key`` to string, with
structured values JSON-encoded; keys without a namespace belong to the project. Secure
values cannot be decrypted offline (no secrets provider here), so each is replaced by a
placeholder and reported as a secret key, exactly as the program would see a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "offline-placeholder-secret"


class StackFileError(Exception):
    """The project or stack file is missing or malformed; the message names the fix."""


@dataclass(frozen=True)
class Project:
    directory: Path
    name: str
    stack_config_dir: Path
    defaults: dict[str, Any]
    runtime: str = "python"
    """The runtime's name (``runtime: python`` or ``runtime: {name: python, ...}``)."""
    description: str | None = None

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        return sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml")
            for p in self.stack_config_dir.glob("Pulumi.*.yaml")
        )


@dataclass(frozen=True)
class StackSettings:
    stack: str
    file: Path
    config: dict[str, str]
    secret_keys: list[str]


def read_project(directory: Path) -> Project:
    path = directory / "Pulumi.yaml"
    if not path.is_file():
        raise StackFileError(
            f"no Pulumi.yaml in {directory}; run from the project or pass --project"
        )
    data = yaml.safe_load(path.read_text()) or {}
    name = data.get("name")
    if not isinstance(name, str):
        raise StackFileError(f"{path}: 'name' is missing")
    defaults: dict[str, Any] = {}
    for key, spec in (data.get("config") or {}).items():
        # Project-level config: ``key: {value: ...}`` or a bare default.
        value = spec.get("value", spec.get("default")) if isinstance(spec, dict) else spec
        if value is not None:
            defaults[_qualify(name, key)] = value
    runtime = data.get("runtime")
    return Project(
        directory=directory,
        name=name,
        stack_config_dir=directory / data.get("stackConfigDir", "."),
        defaults=defaults,
        runtime=str(runtime.get("name") if isinstance(runtime, dict) else runtime),
        description=str(data["description"]) if data.get("description") else None,
    )


def read_stack(project: Project, stack: str, path: Path | None = None) -> StackSettings:
    """Config of ``stack``, from its stack file (or from ``path``, a stand-in for it)."""
    path = path or project.stack_file(stack)
    if not path.is_file():
        known = ", ".join(project.stacks()) or "none"
        raise StackFileError(
            f"no stack {stack!r}: {path} does not exist; stacks in this project: {known}"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from None
    raw = {**project.defaults}
    for key, value in (data.get("config") or {}).items():
        raw[_qualify(project.name, key)] = value
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        decoded, secret = _strip_secure(value)
        config[key] = decoded if isinstance(decoded, str) else json.dumps(decoded)
        if secret:
            secret_keys.append(key)
    return StackSettings(stack=stack, file=path, config=config, secret_keys=sorted(secret_keys))


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _strip_secure(value: Any) -> tuple[Any, bool]:
    """Replace ``{secure: ...}`` leaves by a placeholder; report whether any was found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], secret = _strip_secure(v)
            found |= secret
        return out, found
    if isinstance(value, list):
        items = [_strip_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False
