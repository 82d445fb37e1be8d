"""Secrets Manager rotation of the online store's password (ElastiCache for Valkey/Redis, RBAC).

The replication group authenticates through its user group. The platform's clients send
``AUTH <password>`` without a user name, which Valkey/Redis resolve to the group's user named
``default``: rotating the secret rotates that user's passwords (an ElastiCache user holds one
or two, and AUTH with either succeeds).

The four steps of the rotation protocol. Secrets Manager retries the **whole** rotation,
from ``createSecret``, when any step fails, so every step finds out what an earlier attempt
already did instead of doing it again:

* ``createSecret``: generate a new password and store it as ``AWSPENDING`` (once per
  version);
* ``setSecret``: give the default user the passwords ``[current, pending]``
  (``ModifyUser``), so clients holding the current one keep working. Skipped when the server
  already accepts the pending password (an earlier attempt's ModifyUser applied). A user
  passes through ``modifying`` and ElastiCache refuses ModifyUser meanwhile
  (``InvalidUserState``): the step waits until the user is ``active`` before and after;
* ``testSecret``: ``AUTH`` and ``PING`` against the group with the pending password, over
  TLS;
* ``finishSecret``: move ``AWSCURRENT`` to the new version first (clients that re-read the
  secret get a password the server accepts since ``setSecret``), then retire the previous
  password (``ModifyUser`` with ``[current]`` only, skipped when the server already refuses
  it) and wait for ``active``. A retry of ``finishSecret`` for a version already current
  still retires the ``AWSPREVIOUS`` password if the server accepts it, so a failed
  retirement is never forgotten.

Environment: ``USER_ID`` (the default user's id, e.g. ``fp-dev-default``) and
``REPLICATION_GROUP_ID`` (the online store: where the AUTH probes go). The function runs in
the VPC's private subnets (it must reach the cache for the probes) and its role may only
read and stage this one secret and modify this one user.
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
from botocore.waiter import WaiterModel, create_waiter_with_client

PASSWORD_KEY = "password"
PASSWORD_LENGTH = 64
# ElastiCache user passwords: printable ASCII without space, ',', '"', '/' and '@'; this
# function keeps to letters, digits and the same few symbols the platform's first one uses.
SAFE_SPECIAL_CHARACTERS = "!&#$^<>-"
EXCLUDED_CHARACTERS = "".join(c for c in string.punctuation if c not in SAFE_SPECIAL_CHARACTERS)
PROBE_TIMEOUT_SECONDS = 5.0
REFUSALS = (b"-WRONGPASS", b"-ERR invalid password")
"""How Valkey/Redis (6+ and older) answer AUTH with a password they do not accept. Any other
error (``-LOADING``, too many clients) says nothing about the password."""
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

WAIT_DELAY_SECONDS = 15
"""Polling interval while the user is ``modifying`` (boto3's ElastiCache waiters' default)."""
DEFAULT_WAIT_BUDGET_SECONDS = 840
"""Wait budget when no Lambda context tells the time left (900 s timeout less a margin)."""
WAIT_MARGIN_SECONDS = 30
"""Kept back from the Lambda's remaining time to fail cleanly (and be retried) instead of
being killed mid-call by the timeout."""
USER_ACTIVE = "UserActive"
USER_WAITERS = WaiterModel(
    {
        "version": 2,
        "waiters": {
            USER_ACTIVE: {
                "operation": "DescribeUsers",
                "delay": WAIT_DELAY_SECONDS,
                "maxAttempts": 56,
                "acceptors": [
                    {
                        "matcher": "pathAll",
                        "argument": "Users[].Status",
                        "expected": "active",
                        "state": "success",
                    },
                    {
                        "matcher": "pathAny",
                        "argument": "Users[].Status",
                        "expected": "deleting",
                        "state": "failure",
                    },
                ],
            }
        },
    }
)
"""boto3 has no waiter for ElastiCache users; this one is built the way botocore builds its
own (``waiters-2.json``), so it polls and sleeps exactly as ``replication_group_available``
does."""


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
    missing = [name for name in ("USER_ID", "REPLICATION_GROUP_ID") if not os.environ.get(name)]
    if missing:
        raise RotationError(f"the function's environment has no {' or '.join(missing)}")
    rotation = Rotation(
        secrets=secrets,
        secret_id=secret_id,
        token=token,
        user_id=os.environ["USER_ID"],
        group_id=os.environ["REPLICATION_GROUP_ID"],
        wait_budget=_wait_budget(context),
    )
    if "AWSCURRENT" in stages[token]:
        # Already current: a retry after finishSecret moved the stage. The previous password
        # may still be accepted if the ModifyUser that followed failed; retire it now.
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
        user_id: str,
        group_id: str,
        wait_budget: Callable[[], int],
    ) -> None:
        self.secrets = secrets
        self.secret_id = secret_id
        self.token = token
        self.user_id = user_id
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
        new_password = self.secrets.get_random_password(
            PasswordLength=PASSWORD_LENGTH,
            ExcludeCharacters=EXCLUDED_CHARACTERS,
            RequireEachIncludedType=True,
        )["RandomPassword"]
        self.secrets.put_secret_value(
            SecretId=self.secret_id,
            ClientRequestToken=self.token,
            SecretString=json.dumps({**current, PASSWORD_KEY: new_password}),
            VersionStages=["AWSPENDING"],
        )

    def set_secret(self) -> None:
        pending = self._pending()
        # A change still applying (an earlier attempt's ModifyUser) must finish first:
        # ElastiCache refuses ModifyUser while the user is ``modifying``.
        self._wait_active()
        if accepts(*endpoint(self.group_id), pending):
            return  # an earlier attempt's ModifyUser took effect
        current = str(_value(self.secrets, self.secret_id, "AWSCURRENT")[PASSWORD_KEY])
        _set_passwords(self.user_id, [current, pending])
        self._wait_active()

    def test_secret(self) -> None:
        pending = self._pending()
        self._wait_active()
        auth_ping(*endpoint(self.group_id), pending)

    def finish_secret(self) -> None:
        # The stage moves first: while the retirement applies, clients re-reading the secret
        # must get the new password, which the server accepts since setSecret. A retry finds
        # the version current and retires the previous password then.
        current_version = self._current_version()
        self.secrets.update_secret_version_stage(
            SecretId=self.secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=self.token,
            RemoveFromVersionId=current_version,
        )
        self.retire_previous()

    def retire_previous(self) -> None:
        """Leave the user only the current password, if the server still accepts the
        previous one."""
        current = str(_value(self.secrets, self.secret_id, "AWSCURRENT")[PASSWORD_KEY])
        try:
            previous = str(_value(self.secrets, self.secret_id, "AWSPREVIOUS")[PASSWORD_KEY])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            return  # no previous version: nothing to retire
        self._wait_active()
        if previous != current and accepts(*endpoint(self.group_id), previous):
            _set_passwords(self.user_id, [current])
            self._wait_active()

    def _pending(self) -> str:
        return str(_value(self.secrets, self.secret_id, "AWSPENDING", self.token)[PASSWORD_KEY])

    def _current_version(self) -> str:
        stages = self.secrets.describe_secret(SecretId=self.secret_id)["VersionIdsToStages"]
        return str(next(v for v, s in stages.items() if "AWSCURRENT" in s))

    def _wait_active(self) -> None:
        """Wait (within this invocation's budget) until the user is ``active``.

        On timeout the step fails; Secrets Manager then retries the whole rotation, and the
        steps above skip what is already done.
        """
        delay = max(WAIT_DELAY_SECONDS, 0)
        attempts = max(1, self.wait_budget() // max(delay, 1))
        client = boto3.client("elasticache")
        waiter = create_waiter_with_client(USER_ACTIVE, USER_WAITERS, client)
        try:
            waiter.wait(UserId=self.user_id, WaiterConfig={"Delay": delay, "MaxAttempts": attempts})
        except WaiterError as exc:
            status = _user(self.user_id).get("Status", "unknown")
            raise RotationError(
                f"user {self.user_id} is still {status} after {attempts} checks; "
                "Secrets Manager retries the rotation"
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
    if not isinstance(value, dict) or PASSWORD_KEY not in value:
        raise RotationError(
            f"{stage} value of {secret_id} is not a JSON object with {PASSWORD_KEY!r}"
        )
    return value


def _set_passwords(user_id: str, passwords: list[str]) -> None:
    """The user's passwords become exactly ``passwords`` (ModifyUser replaces the list)."""
    boto3.client("elasticache").modify_user(UserId=user_id, Passwords=passwords)


def _user(user_id: str) -> dict[str, Any]:
    (user,) = boto3.client("elasticache").describe_users(UserId=user_id)["Users"]
    return dict(user)


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


def accepts(host: str, port: int, password: str, *, use_tls: bool = True) -> bool:
    """Whether the server accepts the password (``AUTH <password>`` then ``PING``): with RBAC,
    as the user named ``default``.

    False when the server refuses the password (:data:`REFUSALS`); a connection that fails,
    or any other answer, raises RotationError: only a server that was reached and said no to
    the password may count as "not accepted" (a wrong "no" would skip a retirement).
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
            connection.sendall(_command("AUTH", password))
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


def auth_ping(host: str, port: int, password: str, *, use_tls: bool = True) -> None:
    """Raise RotationError unless the server accepts the password."""
    if not accepts(host, port, password, use_tls=use_tls):
        raise RotationError(f"{host}:{port} refused AUTH with the pending password")
