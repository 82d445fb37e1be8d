"""Shared fixtures: the whole program captured per stack, and helpers to capture variants.

All captures go through :mod:`blueprint.capture` (the same code the CLI uses) with the
platform mocks; each runs in a fresh context, so Pulumi's global state never leaks
between tests. Nothing here touches the network or needs AWS credentials.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from blueprint.capture import (
    Plan,
    PlannedResource,
    capture,
    capture_program,
    close_stray_event_loop,
)
from components.config import StackConfig, parse_stack_config

# Property tests are reproducible (the same examples on every run, CI included) and keep no
# example database in the tree; the machine is small, so no per-example deadline.
settings.register_profile(
    "project",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=75,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("project")

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")
NAMESPACE = "feature-platform"

_plans: dict[str, Plan] = {}


def stack_plan(stack: str) -> Plan:
    """The captured plan of a checked-in stack (captured once per test session)."""
    if stack not in _plans:
        _plans[stack] = capture(PROJECT_DIR, stack)
    return _plans[stack]


BOOTSTRAP_DIR = PROJECT_DIR / "bootstrap"
_bootstrap_plans: dict[str, Plan] = {}


def bootstrap_plan(stack: str) -> Plan:
    """The captured plan of a checked-in stack of the bootstrap project (bootstrap/)."""
    if stack not in _bootstrap_plans:
        _bootstrap_plans[stack] = capture(BOOTSTRAP_DIR, stack)
    return _bootstrap_plans[stack]


@pytest.fixture(autouse=True)
def _no_stray_event_loop() -> Iterator[None]:
    """Close any event loop a test left behind (see ``close_stray_event_loop``)."""
    yield
    close_stray_event_loop()


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def dev() -> Plan:
    return stack_plan("dev")


@pytest.fixture
def prod() -> Plan:
    return stack_plan("prod")


@pytest.fixture
def plan(any_stack: str) -> Plan:
    return stack_plan(any_stack)


def stack_document(stack: str) -> dict[str, Any]:
    """The parsed YAML of ``stacks/Pulumi.<stack>.yaml``."""
    data = yaml.safe_load((PROJECT_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def namespace_values(stack: str) -> dict[str, Any]:
    """The ``feature-platform:`` keys of a stack file, without the prefix."""
    prefix = f"{NAMESPACE}:"
    return {
        key.removeprefix(prefix): value
        for key, value in stack_document(stack)["config"].items()
        if key.startswith(prefix)
    }


def bootstrap_namespace_values(stack: str) -> dict[str, Any]:
    """The ``feature-platform-bootstrap:`` keys of a bootstrap stack file, without the prefix."""
    document = yaml.safe_load((BOOTSTRAP_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    prefix = "feature-platform-bootstrap:"
    return {
        key.removeprefix(prefix): value
        for key, value in document["config"].items()
        if key.startswith(prefix)
    }


def stack_config(stack: str, **overrides: Any) -> StackConfig:
    values = copy.deepcopy(namespace_values(stack))
    values.update(overrides)
    return parse_stack_config(values, source=f"stacks/Pulumi.{stack}.yaml", stack=stack)


@pytest.fixture
def write_stack(
    tmp_path: Path,
) -> Iterator[Callable[[str, Callable[[dict[str, Any]], None]], Path]]:
    """Write a variant of a checked-in stack file: ``write_stack("prod", mutate)``."""

    def write(stack: str, mutate: Callable[[dict[str, Any]], None]) -> Path:
        document = copy.deepcopy(stack_document(stack))
        mutate(document["config"])
        path = tmp_path / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump(document))
        return path

    yield write


def run_component(build: Callable[[], None], stack: str = "test") -> Plan:
    """Capture a program that builds one component (component-level tests)."""
    return capture_program(build, stack=stack)


def policy(resource: PlannedResource, key: str = "policy") -> dict[str, Any]:
    """A JSON policy input, parsed."""
    document = json.loads(resource.inputs[key])
    assert isinstance(document, dict)
    return document


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def planned_resource(name: str, type_: str, **options: Any) -> PlannedResource:
    """A synthetic plan entry (``dev`` stack of project ``p``); options set its other fields."""
    return PlannedResource(
        urn=f"urn:pulumi:dev::p::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        parent="",
        provider="",
        inputs=options.pop("inputs", {}),
        secret_inputs=options.pop("secret_inputs", []),
        protect=options.pop("protect", False),
        retain_on_delete=options.pop("retain_on_delete", False),
        depends_on=options.pop("depends_on", []),
        property_dependencies=options.pop("property_dependencies", {}),
        **options,
    )


def synthetic_plan(*resources: PlannedResource) -> Plan:
    return Plan(project="p", stack="dev", resources=list(resources), outputs={})


@contextmanager
def moto_server(account: str | None = None) -> Iterator[str]:
    """An in-process moto server, emptied first, as the CLI's ``moto-server`` configures one;
    yields its URL. ``account``: the one it acts as for requests that name none.

    In-process servers share moto's state with each other and the test process, hence the
    reset. werkzeug's request log (and its tracebacks for APIs moto lacks, answered 500)
    would land in the CLI output the tests read: it is silenced.
    """
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 (Flask: only where used)

    from blueprint.local.server import reset  # noqa: PLC0415
    from blueprint.local.target import MOTO_SERVER_ENVIRONMENT  # noqa: PLC0415

    with pytest.MonkeyPatch.context() as patch:
        for key, value in MOTO_SERVER_ENVIRONMENT.items():
            patch.setenv(key, value)
        if account:
            patch.setenv("MOTO_ACCOUNT_ID", account)
        patch.setattr(logging.getLogger("werkzeug"), "level", logging.CRITICAL)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        try:
            reset(endpoint)
            yield endpoint
        finally:
            server.stop()


def free_port() -> int:
    """A loopback port nothing listens on now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool's path; in CI a missing promtool fails the alert-logic tests, locally skips."""
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool is not installed (Debian package `prometheus`; `make test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the alert-logic tests")
        pytest.skip(reason)
    return path


def create_rbac_group(elasticache: Any, group_id: str, user_group_id: str) -> None:
    """A two-node Valkey replication group over TLS that authenticates through a user group."""
    elasticache.create_replication_group(
        ReplicationGroupId=group_id,
        ReplicationGroupDescription="online store",
        Engine="valkey",
        CacheNodeType="cache.r7g.large",
        NumCacheClusters=2,
        TransitEncryptionEnabled=True,
        UserGroupIds=[user_group_id],
    )
