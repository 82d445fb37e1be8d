"""Secrets Manager rotation for the online store's AUTH token (ElastiCache for Valkey/Redis).

The four steps of the rotation protocol. Secrets Manager retries the **whole** rotation,
from ``createSecret``, when any step fails, so every step finds out what an earlier attempt
already did instead of doing it again:

* ``createSecret``: generate a new token and store it as ``AWSPENDING`` (once per version);
* ``setSecret``: add it to the replication group beside the current token
  (``AuthTokenUpdateStrategy=ROTATE``), so clients holding the old one keep working. Skipped
  when the group already accepts the pending token (an earlier attempt's ROTATE applied).
  The step that changed the group waits until it is ``available`` again: a token change
  passes through ``modifying``, and no later step may start on a group in that state;
* ``testSecret``: ``AUTH`` and ``PING`` against the group with the pending token, over TLS;
* ``finishSecret``: move ``AWSCURRENT`` to the new version first (clients that re-read the
  secret get a token the group accepts since ``setSecret``), then retire the old token
  (``AuthTokenUpdateStrategy=SET``, skipped when the group already refuses it) and wait for
  ``available``. A retry of ``finishSecret`` for a version already current still retires the
  ``AWSPREVIOUS`` token if the group accepts it, so a failed ``SET`` is never forgotten.

Environment: ``REPLICATION_GROUP_ID`` (the online store). The function runs in the VPC's
private subnets (it must reach the cache for the AUTH probes) and its role may only read and
stage this one secret and modify this one replication group.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import string
import time
from collections.abc import Callable
from typing import Any, Protocol

import boto3
from botocore.exceptions import ClientError, WaiterError

TOKEN_KEY = "password"
TOKEN_LENGTH = 64
# ElastiCache AUTH tokens: printable ASCII without space, '"', '/' and '@'; this function
# keeps to letters, digits and the same few symbols the platform's first token uses.
SAFE_SPECIAL_CHARACTERS = "!&#$^<>-"
EXCLUDED_CHARACTERS = "".join(c for c in string.punctuation if c not in SAFE_SPECIAL_CHARACTERS)
PROBE_TIMEOUT_SECONDS = 5.0
REFUSALS = (b"-WRONGPASS", b"-ERR invalid password")
"""How Valkey/Redis (6+ and older) answer AUTH with a token they do not accept. Any other
error (``-LOADING``, too many clients) says nothing about the token."""
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

WAIT_DELAY_SECONDS = 15
"""Polling interval while the group is ``modifying`` (boto3's own waiter default)."""
DEFAULT_WAIT_BUDGET_SECONDS = 840
"""Wait budget when no Lambda context tells the time left (900 s timeout less a margin)."""
WAIT_MARGIN_SECONDS = 30
"""Kept back from the Lambda's remaining time to fail cleanly (and be retried) instead of
being killed mid-call by the timeout."""


class RotationError(Exception):
    """The rotation cannot proceed; Secrets Manager retries or leaves the secret as it was."""


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def lambda_handler(event: dict[str, Any], context: LambdaContext | None = None) -> None:
    secret_id, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    secrets = boto3.client("secretsmanager")
    metadata = secrets.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"secret {secret_id} is not enabled for rotation")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError(f"version {token} of {secret_id} has no stage; nothing to rotate")
    rotation = Rotation(
        secrets=secrets,
        secret_id=secret_id,
        token=token,
        group_id=os.environ["REPLICATION_GROUP_ID"],
        wait_budget=_wait_budget(context),
    )
    if "AWSCURRENT" in stages[token]:
        # Already current: a retry after finishSecret moved the stage. The old token may
        # still be accepted if the SET that followed failed; retire it now.
        if step == "finishSecret":
            rotation.retire_previous()
        return
    if "AWSPENDING" not in stages[token]:
        raise RotationError(f"version {token} of {secret_id} is not staged as AWSPENDING")
    getattr(rotation, STEP_METHODS[step])()


def _wait_budget(context: LambdaContext | None) -> Callable[[], int]:
    """Seconds this invocation may still spend waiting, asked afresh before each wait."""
    if context is None:
        deadline = time.monotonic() + DEFAULT_WAIT_BUDGET_SECONDS
        return lambda: max(0, int(deadline - time.monotonic()))
    return lambda: max(0, context.get_remaining_time_in_millis() // 1000 - WAIT_MARGIN_SECONDS)


class Rotation:
    """One invocation's view of the rotation of one secret version."""

    def __init__(
        self,
        *,
        secrets: Any,
        secret_id: str,
        token: str,
        group_id: str,
        wait_budget: Callable[[], int],
    ) -> None:
        self.secrets = secrets
        self.secret_id = secret_id
        self.token = token
        self.group_id = group_id
        self.wait_budget = wait_budget

    def create_secret(self) -> None:
        try:
            self.secrets.get_secret_value(
                SecretId=self.secret_id, VersionId=self.token, VersionStage="AWSPENDING"
            )
            return  # created by an earlier attempt
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        current = _value(self.secrets, self.secret_id, "AWSCURRENT")
        new_token = self.secrets.get_random_password(
            PasswordLength=TOKEN_LENGTH,
            ExcludeCharacters=EXCLUDED_CHARACTERS,
            RequireEachIncludedType=True,
        )["RandomPassword"]
        self.secrets.put_secret_value(
            SecretId=self.secret_id,
            ClientRequestToken=self.token,
            SecretString=json.dumps({**current, TOKEN_KEY: new_token}),
            VersionStages=["AWSPENDING"],
        )

    def set_secret(self) -> None:
        pending = self._pending()
        # A change still applying (an earlier attempt's ROTATE, maintenance) must finish
        # first: ElastiCache refuses a modification while the group is ``modifying``.
        self._wait_available()
        if accepts(*endpoint(self.group_id), pending):
            return  # an earlier attempt's ROTATE took effect
        _modify_auth(self.group_id, pending, strategy="ROTATE")
        self._wait_available()

    def test_secret(self) -> None:
        pending = self._pending()
        self._wait_available()
        auth_ping(*endpoint(self.group_id), pending)

    def finish_secret(self) -> None:
        # The stage moves first: while SET applies (node by node, minutes on a sharded group)
        # clients re-reading the secret must get the new token, which the group accepts since
        # setSecret. A retry finds the version current and retires the old token then.
        current_version = self._current_version()
        self.secrets.update_secret_version_stage(
            SecretId=self.secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=self.token,
            RemoveFromVersionId=current_version,
        )
        self.retire_previous()

    def retire_previous(self) -> None:
        """SET the current token, if the group still accepts the previous one."""
        current = str(_value(self.secrets, self.secret_id, "AWSCURRENT")[TOKEN_KEY])
        try:
            previous = str(_value(self.secrets, self.secret_id, "AWSPREVIOUS")[TOKEN_KEY])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            return  # no previous version: nothing to retire
        self._wait_available()
        if previous != current and accepts(*endpoint(self.group_id), previous):
            _modify_auth(self.group_id, current, strategy="SET")
            self._wait_available()

    def _pending(self) -> str:
        return str(_value(self.secrets, self.secret_id, "AWSPENDING", self.token)[TOKEN_KEY])

    def _current_version(self) -> str:
        stages = self.secrets.describe_secret(SecretId=self.secret_id)["VersionIdsToStages"]
        return str(next(v for v, s in stages.items() if "AWSCURRENT" in s))

    def _wait_available(self) -> None:
        """Wait (within this invocation's budget) until the group is ``available``.

        On timeout the step fails; Secrets Manager then retries the whole rotation, and the
        steps above skip what is already done.
        """
        delay = max(WAIT_DELAY_SECONDS, 0)
        attempts = max(1, self.wait_budget() // max(delay, 1))
        waiter = boto3.client("elasticache").get_waiter("replication_group_available")
        try:
            waiter.wait(
                ReplicationGroupId=self.group_id,
                WaiterConfig={"Delay": delay, "MaxAttempts": attempts},
            )
        except WaiterError as exc:
            status = _group(self.group_id).get("Status", "unknown")
            raise RotationError(
                f"replication group {self.group_id} is still {status} after "
                f"{attempts} checks; Secrets Manager retries the rotation"
            ) from exc


STEP_METHODS = {
    "createSecret": "create_secret",
    "setSecret": "set_secret",
    "testSecret": "test_secret",
    "finishSecret": "finish_secret",
}


def _value(secrets: Any, secret_id: str, stage: str, version: str | None = None) -> dict[str, Any]:
    kwargs = {"VersionId": version} if version else {}
    raw = secrets.get_secret_value(SecretId=secret_id, VersionStage=stage, **kwargs)
    value = json.loads(raw["SecretString"])
    if not isinstance(value, dict) or TOKEN_KEY not in value:
        raise RotationError(f"{stage} value of {secret_id} is not a JSON object with {TOKEN_KEY!r}")
    return value


def _modify_auth(group_id: str, auth_token: str, *, strategy: str) -> None:
    boto3.client("elasticache").modify_replication_group(
        ReplicationGroupId=group_id,
        AuthToken=auth_token,
        AuthTokenUpdateStrategy=strategy,
        ApplyImmediately=True,
    )


def _group(group_id: str) -> dict[str, Any]:
    (group,) = boto3.client("elasticache").describe_replication_groups(ReplicationGroupId=group_id)[
        "ReplicationGroups"
    ]
    return dict(group)


def endpoint(group_id: str) -> tuple[str, int]:
    """The configuration endpoint (cluster mode) or the primary endpoint."""
    group = _group(group_id)
    address = group.get("ConfigurationEndpoint") or group["NodeGroups"][0]["PrimaryEndpoint"]
    return str(address["Address"]), int(address["Port"])


def _command(*parts: str) -> bytes:
    """A RESP array of bulk strings, as every Redis/Valkey client sends."""
    encoded = [p.encode() for p in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)


def accepts(host: str, port: int, auth_token: str, *, use_tls: bool = True) -> bool:
    """Whether the server accepts the token (``AUTH`` then ``PING``).

    False when the server refuses the token (:data:`REFUSALS`); a connection that fails, or
    any other answer, raises RotationError: only a server that was reached and said no to
    the token may count as "not accepted" (a wrong "no" would skip a SET).
    """
    try:
        raw = socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS)
    except OSError as exc:
        raise RotationError(f"cannot reach {host}:{port}: {exc}") from exc
    connection = (
        ssl.create_default_context().wrap_socket(raw, server_hostname=host) if use_tls else raw
    )
    with connection:
        reader = connection.makefile("rb")
        try:
            connection.sendall(_command("AUTH", auth_token))
            reply = reader.readline().rstrip(b"\r\n")
            if reply.startswith(REFUSALS):
                return False
            connection.sendall(_command("PING"))
            pong = reader.readline().rstrip(b"\r\n")
        except OSError as exc:  # reset, timeout, TLS failure: the server said nothing
            raise RotationError(f"{host}:{port} dropped the AUTH probe: {exc}") from exc
        if reply != b"+OK" or pong != b"+PONG":
            answered = (reply + b" / " + pong).decode(errors="replace")
            raise RotationError(f"AUTH/PING was answered {answered!r}")
        return True


def auth_ping(host: str, port: int, auth_token: str, *, use_tls: bool = True) -> None:
    """Raise RotationError unless the server accepts the token."""
    if not accepts(host, port, auth_token, use_tls=use_tls):
        raise RotationError(f"{host}:{port} refused AUTH with the pending token")
