"""Capture: run the real program for a stack offline and record what it would register.

The program (``__main__.py``) runs unchanged under Pulumi's mock monitor. A recording
monitor keeps, for every resource, what the engine itself would receive: URN, type, parent,
provider, camelCase inputs (and which of them are secret), resource options and the
dependencies of each input property. That record, the :class:`Plan`, is what every later
check consumes (tests, preview, policies, the local deploy).
"""

from __future__ import annotations

import asyncio
import contextvars
import runpy
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.resource as pulumi_resource
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from blueprint.mocks import PlatformMocks
from blueprint.stackfile import read_project, read_stack

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class PlannedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    inputs: dict[str, Any]
    secret_inputs: list[str]
    protect: bool
    retain_on_delete: bool
    depends_on: list[str]
    property_dependencies: dict[str, list[str]]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    ignore_changes: list[str] = field(default_factory=list)
    """Input paths the engine leaves alone after creation (``ignore_changes``)."""
    replace_on_changes: list[str] = field(default_factory=list)
    """Input paths whose change replaces the resource (``replace_on_changes``)."""
    delete_before_replace: bool = False
    """A replacement deletes the old resource before creating the new one."""
    aliases: list[str] = field(default_factory=list)
    """Earlier URNs of this resource (``aliases``): a move, not a delete and a create."""

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self, urn: str) -> PlannedResource:
        return next(r for r in self.resources if r.urn == urn)

    def named(self, type_: str, suffix: str) -> PlannedResource:
        """The one resource of ``type_`` whose logical name ends with ``suffix``."""
        found = [r for r in self.of_type(type_) if r.name.endswith(suffix)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} resources of {type_} end with {suffix!r}")
        return found[0]

    def children(self, parent: PlannedResource) -> list[PlannedResource]:
        return [r for r in self.resources if r.parent == parent.urn]


class ResourceError(Exception):
    """Creating one resource failed; names its URN and the cause (an AWS error, say)."""

    def __init__(self, urn: str, cause: Exception) -> None:
        error = getattr(cause, "response", {}).get("Error", {})
        detail = f"{error['Code']}: {error.get('Message', '')}" if error else str(cause)
        super().__init__(f"{urn}\n  {detail}")
        self.urn = urn
        self.detail = detail


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, plus a record of each registration request."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[PlannedResource] = []
        self._urns: set[str] = set()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if urn in self._urns:
            # The engine refuses a second registration of a URN ("Duplicate resource URN");
            # the SDK's mock monitor would record both, and the later one would shadow the
            # first in every test and diff.
            raise ResourceError(urn, ValueError("Duplicate resource URN; give it a unique name"))
        self._urns.add(urn)
        try:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise ResourceError(urn, exc) from exc
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = json_format.MessageToDict(request.object)
        state = rpc.deserialize_properties(response.object) if response.object else {}
        self.recorded.append(
            PlannedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                provider=request.provider,
                inputs=plain(rpc.deserialize_properties(request.object)),
                secret_inputs=sorted(k for k, v in raw.items() if _has_secret(v)),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                depends_on=list(request.dependencies),
                property_dependencies={
                    key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                },
                id=response.id,
                outputs=plain(state),
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                aliases=self._alias_urns(request),
            )
        )
        return response

    def _alias_urns(self, request: Any) -> list[str]:
        """Each alias as the URN it names; a spec's missing parts default to the resource's."""
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.urn:
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            urns.append(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        return sorted(set(urns))


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return True
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def _asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {k: plain(v) for k, v in value.assets.items()}}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, (pulumi.RemoteAsset, pulumi.RemoteArchive)):
        return {"uri": value.uri}
    return {"path": str(getattr(value, "path", ""))}


def plain(value: Any) -> Any:
    """Unwrap secret markers so inputs read as plain data (secrecy is kept separately).

    Assets and archives (a function's code) become the JSON shapes the engine shows for them.
    """
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return _asset(value)
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def capture(
    project_dir: Path,
    stack: str,
    *,
    stack_file: Path | None = None,
    preview: bool = False,
    monitor: RecordingMonitor | None = None,
    transformations: Sequence[pulumi.ResourceTransformation] = (),
) -> Plan:
    """Run ``__main__.py`` for ``stack`` under mocks and return what it registered.

    ``stack_file`` replaces ``stacks/Pulumi.<stack>.yaml`` (tests use it for variants);
    ``transformations`` are registered as stack transformations before the program runs
    (tests use them to mutate a stack, e.g. to prove a policy catches the change).
    Errors raised by the program (``pulumi.RunError`` for invalid config) propagate
    unchanged; what was registered until then stays readable on ``monitor``.
    """
    project = read_project(project_dir)
    settings = read_stack(project, stack, path=stack_file)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    return capture_program(
        program,
        project=project.name,
        stack=stack,
        config=settings.config,
        secret_keys=settings.secret_keys,
        preview=preview,
        monitor=monitor,
        transformations=transformations,
    )


def capture_program(
    program: Callable[[], None],
    *,
    project: str = "feature-platform",
    stack: str = "test",
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = False,
    monitor: RecordingMonitor | None = None,
    transformations: Sequence[pulumi.ResourceTransformation] = (),
) -> Plan:
    """Run any Pulumi program function under the platform mocks and record it.

    Each capture runs in a fresh ``contextvars`` context, so Pulumi's global state (config,
    root stack, settings) never leaks from one capture into the next.
    """
    monitor = monitor or RecordingMonitor(PlatformMocks())

    def run() -> dict[str, Any]:
        set_all_config(config or {}, secret_keys or [])
        pulumi.runtime.set_mocks(
            monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor
        )
        # As pulumi.runtime.test does: outstanding RPCs and outputs are process-wide.
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()
        for transformation in transformations:
            pulumi.runtime.register_stack_transformation(transformation)
        _sync_await(run_pulumi_func(program))
        exported = getattr(get_root_resource(), "outputs", {})
        return {k: _sync_await(_resolve(v)) for k, v in exported.items()}

    # A fresh event loop too: when a program fails, registrations still in flight must not
    # surface in the next capture.
    close_stray_event_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    with _without_source_positions():
        try:
            outputs = contextvars.Context().run(run)
        finally:
            _drain(loop)
    return Plan(project=project, stack=stack, resources=monitor.recorded, outputs=outputs)


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the SDK's stack walk for each resource's source position (a fifth of a capture).

    The engine shows it in diagnostics; the mock monitor drops it and the plan never had it.
    Restored on the way out, so the SDK is unchanged for anything else in the process.
    """
    original = getattr(pulumi_resource, "_get_stack_trace", None)
    if original is None:  # an SDK that moved it: capture as it is, only slower
        yield
        return
    pulumi_resource._get_stack_trace = _empty_stack_trace
    try:
        yield
    finally:
        pulumi_resource._get_stack_trace = original


def _empty_stack_trace() -> Any:
    return source_pb2.StackTrace()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the program left in flight and close its loop."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    asyncio.set_event_loop(None)
    loop.close()


def close_stray_event_loop() -> None:
    """Close the loop Pulumi's ``_sync_await`` may have set up outside any capture.

    Left open, it is finalised by the garbage collector after its self-pipe socket, and its
    ``__del__`` then fails ("Invalid file descriptor: -1") at some unrelated later moment.
    """
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)
    loop = getattr(local, "_loop", None)
    if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running():
        if not loop.is_closed():
            loop.close()
        asyncio.set_event_loop(None)


async def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    return plain(await output.future())
