"""Read ``Pulumi.yaml`` and ``stacks/Pulumi.<stack>.yaml`` the way the Pulumi CLI does.

The engine hands a program its config as a flat map of ``namespace:key`` to string, with
structured values JSON-encoded; keys without a namespace belong to the project. Secure
values cannot be decrypted offline (no secrets provider here), so each is replaced by a
placeholder and reported as a secret key, exactly as the program would see a secret.

What the CLI refuses is refused here too, as a :class:`StackFileError` naming the file (never a
traceback): duplicate keys at any depth, a document or ``config:`` that is not a mapping, a
``Pulumi.yaml`` without ``name`` or ``runtime``. Which keys a stack may set is the program's
rule, not the reader's (``components/config/keys.py``).
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
    data = _mapping(path, load_yaml(path), "the project file")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise StackFileError(f"{path}: 'name' is missing; the project needs a name")
    runtime = data.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if not isinstance(runtime_name, str) or not runtime_name:
        raise StackFileError(
            f"{path}: 'runtime' is missing; set `runtime: python` or `runtime: {{name: python}}`"
        )
    config_dir = data.get("stackConfigDir", ".")
    if not isinstance(config_dir, str):
        raise StackFileError(f"{path}: 'stackConfigDir' must be a directory path, e.g. stacks")
    defaults: dict[str, Any] = {}
    for key, spec in _mapping(path, data.get("config"), "'config'").items():
        # Project-level config: ``key: {value: ...}`` or a bare default.
        value = spec.get("value", spec.get("default")) if isinstance(spec, dict) else spec
        if value is not None:
            defaults[_qualify(path, name, key)] = value
    description = data.get("description")
    return Project(
        directory=directory,
        name=name,
        stack_config_dir=directory / config_dir,
        defaults=defaults,
        runtime=runtime_name,
        description=str(description) if description else None,
    )


def read_stack(project: Project, stack: str, path: Path | None = None) -> StackSettings:
    """Config of ``stack``, from its stack file (or from ``path``, a stand-in for it)."""
    path = path or project.stack_file(stack)
    if not path.is_file():
        known = ", ".join(project.stacks()) or "none"
        raise StackFileError(
            f"no stack {stack!r}: {path} does not exist; stacks in this project: {known}"
        )
    data = _mapping(path, load_yaml(path), "a stack file")
    raw = {**project.defaults}
    for key, value in _mapping(path, data.get("config"), "'config'").items():
        raw[_qualify(path, project.name, key)] = value
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        decoded, secret = _strip_secure(value)
        config[key] = _encode(path, key, decoded)
        if secret:
            secret_keys.append(key)
    return StackSettings(stack=stack, file=path, config=config, secret_keys=sorted(secret_keys))


class _DuplicateKey(yaml.constructor.ConstructorError):
    def __init__(self, key: object, line: int, first: int) -> None:
        super().__init__(problem=f"duplicate key {key!r}")
        self.key, self.line, self.first = key, line, first


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys at any depth, as the Pulumi CLI does
    (PyYAML alone keeps the last one, silently), and keeps timestamps as the strings written
    (the CLI hands them to the program as written)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):  # the base class reports anything else
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # ``<<: *anchor`` merges are meant to be overridden
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if first is not None:
                    raise _DuplicateKey(key, line, first)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def load_yaml(path: Path) -> Any:
    """The YAML document in ``path``; :class:`StackFileError` naming the file on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{path} cannot be read: {exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as exc:
        raise StackFileError(
            f"{path}: duplicate key {exc.key!r} at line {exc.line} (first at line {exc.first}); "
            "the Pulumi CLI refuses duplicate keys: keep one"
        ) from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise StackFileError(f"{path} is nested too deeply to read") from None


def _mapping(path: Path, value: Any, what: str) -> dict[Any, Any]:
    """``value`` as a mapping (an empty document or section is an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackFileError(
            f"{path}: {what} must be a mapping of keys to values, not a {type(value).__name__}"
        )
    return value


def _qualify(path: Path, project: str, key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise StackFileError(
            f"{path}: config key {key!r} is not a name; keys are `namespace:name` strings"
        )
    return key if ":" in key else f"{project}:{key}"


def _encode(path: Path, key: str, value: Any) -> str:
    """As the engine hands values to the program: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StackFileError(
            f"{path}: the value of {key} cannot be used as config: {exc}"
        ) from None


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
