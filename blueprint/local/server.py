"""A moto server as a deploy target: which stacks it holds, its reset, its port.

A moto server keeps its state between runs, unlike in-process moto. Deploying a stack into
it twice would collide with the first deploy halfway through (``BucketAlreadyOwnedByYou``
after a second VPC and new keys were already made), so each deploy records itself in the
server before it creates anything, and a later deploy of the same stack refuses up front,
or starts from an empty server when asked to (``blueprint up --local --reset``): moto's
reset API clears every account and region of that server.

The record is an SSM parameter in moto's default account (not the stack's, whose audit
should see only what the program made): ``/blueprint/deploys/<project>/<stack>``.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from blueprint.local.target import AwsTarget

RECORD_PREFIX = "/blueprint/deploys"
RESET_PATH = "/moto-api/reset"
TIMEOUT_SECONDS = 10.0
QUICK = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)
"""A stopped server should be named at once, not after the deploy's eight retries."""
DEPLOYING, DEPLOYED = "deploying", "deployed"


class ServerError(Exception):
    """The moto server cannot be reached or did not answer as moto does."""


@dataclass(frozen=True)
class DeployRecord:
    project: str
    stack: str
    state: str
    """``deploying`` until the deploy completed: a failed one leaves its resources behind."""
    at: str


def _ssm(endpoint: str, region: str) -> Any:
    session = AwsTarget(region=region, endpoint_url=endpoint).session()  # fake credentials
    return session.client("ssm", endpoint_url=endpoint, config=QUICK)  # moto's default account


def _name(project: str, stack: str) -> str:
    return f"{RECORD_PREFIX}/{project}/{stack}"


def recorded(endpoint: str, region: str, project: str, stack: str) -> DeployRecord | None:
    """The record of an earlier deploy of ``stack`` at ``endpoint``, if any."""
    ssm = _ssm(endpoint, region)
    try:
        value = ssm.get_parameter(Name=_name(project, stack))["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise ServerError(f"the moto server at {endpoint} refused a read: {exc}") from exc
    except BotoCoreError as exc:
        raise ServerError(f"cannot reach a moto server at {endpoint}: {exc}") from exc
    document = json.loads(value)
    return DeployRecord(project, stack, str(document["state"]), str(document["at"]))


def record(endpoint: str, region: str, project: str, stack: str, state: str) -> None:
    ssm = _ssm(endpoint, region)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        ssm.put_parameter(
            Name=_name(project, stack),
            Value=json.dumps({"state": state, "at": at}),
            Type="String",
            Overwrite=True,
        )
    except (BotoCoreError, ClientError) as exc:
        raise ServerError(f"cannot record the deploy at {endpoint}: {exc}") from exc


def reset(endpoint: str) -> None:
    """Clear every account and region of the moto server (``POST /moto-api/reset``)."""
    request = urllib.request.Request(endpoint.rstrip("/") + RESET_PATH, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except (urllib.error.URLError, OSError) as exc:
        raise ServerError(f"cannot reset the moto server at {endpoint}: {exc}") from exc
    if status != 200:
        raise ServerError(f"the server at {endpoint} refused a reset (HTTP {status}): not moto?")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when ``host:port`` cannot be bound (another server, another moto)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
