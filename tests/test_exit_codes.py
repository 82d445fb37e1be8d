"""The exit-code contract, command by command: 0 pass, 1 findings, 2 could not run.

One table: every command with an input it must refuse (2, a message, no traceback) and one
it must judge (0 or 1). Each ``--help`` states the contract.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from blueprint import exitcodes
from blueprint.capture import ResourceError
from blueprint.cli import app
from blueprint.local import engine
from blueprint.local.target import wait_for_port
from tests.conftest import PROJECT_DIR, free_port, moto_server, stack_config

runner = CliRunner()
PROJECT = ("--project", str(PROJECT_DIR))
SERVER = "{server}"
"""Replaced by the URL of a moto server acting as the dev stack's account."""
COMMANDS = ("preview", "up", "audit", "preflight", "check", "diff", "moto-server", "tenant")
CANNOT_RUN, JUDGED = {exitcodes.CANNOT_RUN}, {exitcodes.PASS, exitcodes.FINDINGS}

CASES: list[tuple[str, tuple[str, ...], set[int]]] = [
    # (id, arguments, the exit codes the contract allows)
    ("preview: unknown stack", ("preview", "qa", *PROJECT), CANNOT_RUN),
    ("preview: the dev stack", ("preview", "dev", *PROJECT), {exitcodes.PASS}),
    # What the user types is shown literally, never read as Rich markup.
    ("preview: a stack name with markup", ("preview", "[/bold]", *PROJECT), CANNOT_RUN),
    (
        "preview: --json names a directory",
        ("preview", "dev", "--json", "/tmp", *PROJECT),
        CANNOT_RUN,
    ),
    (
        "preview: --json and --diagram the same file",
        ("preview", "dev", "--json", "/tmp/bp-same.out", "--diagram", "/tmp/bp-same.out", *PROJECT),
        CANNOT_RUN,
    ),
    (
        "preview: --json on a full disk",
        ("preview", "dev", "--json", "/dev/full", *PROJECT),
        CANNOT_RUN,
    ),
    ("tenant: list the teams", ("tenant", "list", *PROJECT), {exitcodes.PASS}),
    (
        "tenant: new with a name that is no DNS label",
        ("tenant", "new", "Bad_Name", "--owner", "o", "--cost-center", "c", *PROJECT),
        CANNOT_RUN,
    ),
    ("tenant: list outside a project", ("tenant", "list", "--project", "/tmp"), CANNOT_RUN),
    ("up: without --local", ("up", "dev", *PROJECT), CANNOT_RUN),
    ("up: unknown stack", ("up", "qa", "--local", *PROJECT), CANNOT_RUN),
    ("up: --endpoint notaurl", ("up", "dev", "--local", "--endpoint", "notaurl"), CANNOT_RUN),
    ("up: --endpoint http://", ("up", "dev", "--local", "--endpoint", "http://"), CANNOT_RUN),
    ("up: --endpoint ftp://x", ("up", "dev", "--local", "--endpoint", "ftp://x"), CANNOT_RUN),
    ("up: --reset without a server", ("up", "dev", "--local", "--reset", *PROJECT), CANNOT_RUN),
    (
        "up: into a moto server",
        ("up", "dev", "--local", "--endpoint", SERVER, "--reset", *PROJECT),
        JUDGED,
    ),
    ("audit: nothing to audit", ("audit",), CANNOT_RUN),
    ("audit: --endpoint notaurl", ("audit", "dev", "--endpoint", "notaurl"), CANNOT_RUN),
    ("audit: --endpoint unclosed IPv6", ("audit", "dev", "--endpoint", "http://[::1"), CANNOT_RUN),
    ("audit: a moto server", ("audit", "dev", "--endpoint", SERVER, *PROJECT), JUDGED),
    ("preflight: --endpoint ftp://x", ("preflight", "dev", "--endpoint", "ftp://x"), CANNOT_RUN),
    ("preflight: --endpoint http://", ("preflight", "dev", "--endpoint", "http://"), CANNOT_RUN),
    ("preflight: a moto server", ("preflight", "dev", "--endpoint", SERVER, *PROJECT), JUDGED),
    ("check: unknown stack", ("check", "qa", "--no-checkov", *PROJECT), CANNOT_RUN),
    ("check: the dev stack", ("check", "dev", "--no-checkov", *PROJECT), JUDGED),
    ("diff: unknown base", ("diff", "dev", "--base", "no-such-ref", *PROJECT), CANNOT_RUN),
    ("diff: unknown stack", ("diff", "qa", *PROJECT), CANNOT_RUN),
    ("diff: against HEAD", ("diff", "dev", "--base", "HEAD", *PROJECT), JUDGED),
    ("moto-server: port 0", ("moto-server", "--port", "0"), CANNOT_RUN),
    ("moto-server: port 99999", ("moto-server", "--port", "99999"), CANNOT_RUN),
]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with moto_server(stack_config("dev").aws.account_id) as url:
        yield url


@pytest.mark.moto
@pytest.mark.parametrize(("args", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_command_follows_the_contract(
    args: tuple[str, ...], allowed: set[int], request: pytest.FixtureRequest
) -> None:
    if SERVER in args:
        url = request.getfixturevalue("server")
        args = tuple(url if a == SERVER else a for a in args)
    result = runner.invoke(app, list(args))
    assert result.exit_code in allowed, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if allowed == CANNOT_RUN:
        assert result.output.strip(), "exit 2 without a message"


def test_the_table_covers_every_command() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert commands == set(COMMANDS)
    for command in COMMANDS:
        outcomes = [c[2] for c in CASES if c[1][0] == command]
        assert CANNOT_RUN in outcomes, f"{command}: no input it must refuse"
        if command != "moto-server":  # serves until interrupted: see the test below
            assert any(o <= JUDGED for o in outcomes), f"{command}: no input it must judge"


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("command", [*COMMANDS, None])
def test_every_help_states_the_contract(command: str | None) -> None:
    result = runner.invoke(app, [command, "--help"] if command else ["--help"])
    assert result.exit_code == 0
    assert exitcodes.CONTRACT in _flat(result.output)


def test_a_deploy_error_exits_2_naming_the_urn(monkeypatch: pytest.MonkeyPatch) -> None:
    urn = "urn:pulumi:dev::feature-platform::aws:s3/bucket:Bucket::logs"

    def rejected(*_: object, **__: object) -> None:
        raise ResourceError(urn, RuntimeError("BucketAlreadyOwnedByYou: yours already"))

    monkeypatch.setattr(engine, "deploy", rejected)
    result = runner.invoke(app, ["up", "dev", "--local", *PROJECT])
    assert result.exit_code == exitcodes.CANNOT_RUN
    assert f"AWS rejected a resource: {urn}" in result.output
    assert "BucketAlreadyOwnedByYou" in result.output
    assert "Traceback" not in result.output


@pytest.mark.moto
def test_moto_server_exits_0_when_interrupted_after_listening() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "blueprint", "moto-server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = process.stdout.readline()  # printed only once the port answers
        assert announced.startswith(f"moto listening on http://127.0.0.1:{port}"), announced
        assert wait_for_port(port, timeout=1), "announced, but not listening"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == exitcodes.PASS, output
