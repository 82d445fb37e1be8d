"""A moto server as a deploy target: which stacks it holds, their state, its reset, its port.

A moto server keeps its resources between runs, unlike in-process moto. A deploy records
itself in the server before it creates anything (an SSM parameter,
``/blueprint/deploys/<project>/<stack>``: ``deploying``, then ``deployed``, or ``stopped``
when it failed after saving its state) and keeps a *state*, as Pulumi keeps one per stack:
for each resource it made in moto, its type, name, the inputs it was created with (write-only
inputs left out, numbers normalised, assets by content hash), its ID and outputs (an S3
object, ``s3://blueprint-local-state/<project>/<stack>.json``; too big for a parameter).

A later deploy of the stack converges with that state: an unchanged resource is reused (no
AWS call: its stored ID and outputs), a new one is created; a changed one stops the deploy
(exit 2), because the local deploy creates but neither updates nor replaces. The state is
saved whatever happens, so a later run never duplicates what an earlier one made. A record
still ``deploying`` (a run killed before it saved its state), or a record with no state (an
older blueprint), is refused. ``blueprint up --local --reset`` starts from an empty server:
moto's reset API clears every account and region of it, states and records included.

Both live in moto's default account, not the stack's, whose audit should see only what the
program made.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
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
DEPLOYING, DEPLOYED, STOPPED = "deploying", "deployed", "stopped"
STATE_BUCKET = "blueprint-local-state"
STATE_VERSION = 1


class ServerError(Exception):
    """The moto server cannot be reached or did not answer as moto does."""


@dataclass(frozen=True)
class DeployRecord:
    project: str
    stack: str
    state: str
    """``deploying`` until the deploy completed: a failed one leaves its resources behind."""
    at: str


@dataclass(frozen=True)
class StoredResource:
    """One resource a deploy made in moto, as the state keeps it."""

    type: str
    name: str
    inputs: dict[str, Any]
    """What it was created with, as compared: write-only inputs left out, numbers integral,
    assets by content hash; ``tagsAll`` and the provider's account and region beside them."""
    id: str
    outputs: dict[str, Any]
    """What AWS (moto) reported at creation: handed back unchanged when it is reused."""
    unapplied: list[str] = field(default_factory=list)
    """Inputs moto did not model (still reported when it is reused)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.name)


@dataclass
class LocalState:
    """What a stack's deploys made in one moto server (type and name are unique in it)."""

    project: str
    stack: str
    resources: dict[tuple[str, str], StoredResource] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": STATE_VERSION,
                "project": self.project,
                "stack": self.stack,
                "resources": [vars(r) for _, r in sorted(self.resources.items())],
            },
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str) -> LocalState:
        document = json.loads(text)
        if document.get("version") != STATE_VERSION:
            raise ServerError(f"state version {document.get('version')!r} is not {STATE_VERSION}")
        resources = [StoredResource(**r) for r in document["resources"]]
        return LocalState(
            str(document["project"]), str(document["stack"]), {r.key: r for r in resources}
        )


def _client(service: str, endpoint: str, region: str) -> Any:
    """A client of moto's default account (no account named), with fake credentials."""
    return AwsTarget(region=region, endpoint_url=endpoint).new_client(service, config=QUICK)


def _name(project: str, stack: str) -> str:
    return f"{RECORD_PREFIX}/{project}/{stack}"


def recorded(endpoint: str, region: str, project: str, stack: str) -> DeployRecord | None:
    """The record of an earlier deploy of ``stack`` at ``endpoint``, if any."""
    ssm = _client("ssm", endpoint, region)
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
    ssm = _client("ssm", endpoint, region)
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


def _key(project: str, stack: str) -> str:
    return f"{project}/{stack}.json"


def load_state(endpoint: str, region: str, project: str, stack: str) -> LocalState | None:
    """The state the deploys of ``stack`` left at ``endpoint``, if any."""
    s3 = _client("s3", endpoint, region)
    try:
        body = s3.get_object(Bucket=STATE_BUCKET, Key=_key(project, stack))["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchBucket"):
            return None
        raise ServerError(f"the moto server at {endpoint} refused a read: {exc}") from exc
    except BotoCoreError as exc:
        raise ServerError(f"cannot reach a moto server at {endpoint}: {exc}") from exc
    try:
        return LocalState.from_json(body.decode())
    except (ValueError, KeyError, TypeError) as exc:
        where = f"s3://{STATE_BUCKET}/{_key(project, stack)}"
        raise ServerError(f"the state at {where} is not one blueprint wrote: {exc}") from exc


def save_state(endpoint: str, region: str, state: LocalState) -> None:
    s3 = _client("s3", endpoint, region)
    try:
        where = {} if region == "us-east-1" else {"LocationConstraint": region}
        try:
            s3.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration=where)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        s3.put_object(
            Bucket=STATE_BUCKET,
            Key=_key(state.project, state.stack),
            Body=state.to_json().encode(),
            ContentType="application/json",
        )
    except (BotoCoreError, ClientError) as exc:
        raise ServerError(f"cannot save the state of the deploy at {endpoint}: {exc}") from exc


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
