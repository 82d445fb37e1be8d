"""A moto server as a deploy target: a second deploy is refused or starts clean, never half-built.

A moto server keeps its state between runs; deploying the same stack into it again used to
fail halfway (``BucketAlreadyOwnedByYou``) after a duplicate VPC and keys were made.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from blueprint.cli import app
from blueprint.local import server
from blueprint.local.target import MOTO_SERVER_ENVIRONMENT
from tests.conftest import PROJECT_DIR, stack_config

pytestmark = pytest.mark.moto

STACK = "staging"
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in MOTO_SERVER_ENVIRONMENT.items():
            patch.setenv(key, value)
        # werkzeug would log each request to the stderr of whichever CliRunner invocation
        # was current at its first request (closed by the next): noise, not the CLI's.
        patch.setattr(logging.getLogger("werkzeug"), "level", logging.CRITICAL)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            moto.stop()


def _up(endpoint: str, *extra: str) -> tuple[int, str]:
    return _invoke(
        "up", STACK, "--local", "--endpoint", endpoint, "--project", str(PROJECT_DIR), *extra
    )


def _vpcs(endpoint: str) -> list[str]:
    """The stack's VPCs (by CIDR) in its own account at the server."""
    config = stack_config(STACK)
    ec2: Any = boto3.client(
        "ec2", endpoint_url=endpoint, region_name=config.aws.region,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = config.aws.account_id

    ec2.meta.events.register("before-sign.*.*", in_account)
    cidr = config.network.cidr
    return [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == cidr]


@pytest.fixture(scope="module")
def deployed(endpoint: str) -> str:
    code, output = _up(endpoint)
    assert code == 0, output
    return endpoint


def test_a_deploy_records_itself_in_the_server(deployed: str) -> None:
    record = server.recorded(deployed, "eu-central-1", "feature-platform", STACK)
    assert record is not None and record.state == server.DEPLOYED
    assert len(_vpcs(deployed)) == 1


def test_a_second_deploy_is_refused_before_it_creates_anything(deployed: str) -> None:
    code, output = _up(deployed)
    assert code == 2
    assert f"stack {STACK} is already deployed at {deployed}" in output
    assert "re-run with --reset" in output
    assert "Traceback" not in output
    assert len(_vpcs(deployed)) == 1  # no duplicate VPC (nor keys) left behind


def test_a_collision_the_record_does_not_know_names_the_urn_and_what_remains(
    deployed: str,
) -> None:
    """A server filled by other means (or an older CLI): the error says what is left."""
    ssm: Any = boto3.client(
        "ssm", endpoint_url=deployed, region_name="eu-central-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    ssm.delete_parameter(Name=f"{server.RECORD_PREFIX}/feature-platform/{STACK}")
    code, output = _up(deployed)
    assert code == 2, output
    assert "the deploy stopped: AWS rejected a resource: urn:pulumi:staging::" in output
    assert f"the resources created before it remain at {deployed}: re-run with --reset" in output
    record = server.recorded(deployed, "eu-central-1", "feature-platform", STACK)
    assert record is not None and record.state == server.DEPLOYING
    code, output = _up(deployed)
    assert code == 2 and f"stack {STACK} is partly deployed at {deployed}" in output


def test_reset_clears_the_server_and_deploys_again_from_scratch(deployed: str) -> None:
    code, output = _up(deployed, "--reset")
    assert code == 0, output
    assert f"moto server at {deployed} cleared (--reset)" in output
    assert len(_vpcs(deployed)) == 1
    record = server.recorded(deployed, "eu-central-1", "feature-platform", STACK)
    assert record is not None and record.state == server.DEPLOYED


def test_reset_needs_a_server() -> None:
    code, output = _invoke("up", "dev", "--local", "--reset", "--project", str(PROJECT_DIR))
    assert code == 2
    assert "--reset clears a moto server: give its --endpoint URL" in output


def test_an_unreachable_server_is_named_with_the_fix() -> None:
    code, output = _up(f"http://127.0.0.1:{_free_port()}")
    assert code == 2
    assert "cannot reach a moto server at http://127.0.0.1:" in output
    assert "blueprint moto-server" in output


def test_moto_server_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, output = _invoke("moto-server", "--port", str(port))
    assert code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in output
    assert "--port" in output


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_moto_server_refuses_a_port_out_of_range(port: str) -> None:
    code, output = _invoke("moto-server", "--port", port)
    assert code == 2
    assert "--port" in output
    assert "listening" not in output
