"""Secrets Manager rotation for the online store's AUTH token (ElastiCache for Valkey/Redis).

The four steps of the rotation protocol, each safe to run again:

* ``createSecret``: generate a new token and store it as ``AWSPENDING`` (once per version);
* ``setSecret``: add it to the replication group beside the current token
  (``AuthTokenUpdateStrategy=ROTATE``), so clients holding the old one keep working;
* ``testSecret``: ``AUTH`` and ``PING`` against the group with the pending token, over TLS;
* ``finishSecret``: move ``AWSCURRENT`` to the new version, then retire the old token
  (``AuthTokenUpdateStrategy=SET``) so only the new one is accepted.

Environment: ``REPLICATION_GROUP_ID`` (the online store). The function runs in the VPC's
private subnets (it must reach the cache for ``testSecret``) and its role may only read and
stage this one secret and modify this one replication group.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import string
from typing import Any

import boto3
from botocore.exceptions import ClientError

TOKEN_KEY = "password"
TOKEN_LENGTH = 64
# ElastiCache AUTH tokens: printable ASCII without space, '"', '/' and '@'; this function
# keeps to letters, digits and the same few symbols the platform's first token uses.
SAFE_SPECIAL_CHARACTERS = "!&#$^<>-"
EXCLUDED_CHARACTERS = "".join(c for c in string.punctuation if c not in SAFE_SPECIAL_CHARACTERS)
PROBE_TIMEOUT_SECONDS = 5.0
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(Exception):
    """The rotation cannot proceed; Secrets Manager retries or leaves the secret as it was."""


def lambda_handler(event: dict[str, Any], context: object = None) -> None:
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
    if "AWSCURRENT" in stages[token]:
        return  # already finished: a retry after success
    if "AWSPENDING" not in stages[token]:
        raise RotationError(f"version {token} of {secret_id} is not staged as AWSPENDING")
    group_id = os.environ["REPLICATION_GROUP_ID"]
    STEP_FUNCTIONS[step](secrets, secret_id, token, group_id)


def create_secret(secrets: Any, secret_id: str, token: str, group_id: str) -> None:
    try:
        secrets.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
        return  # created by an earlier attempt
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    current = _value(secrets, secret_id, "AWSCURRENT")
    new_token = secrets.get_random_password(
        PasswordLength=TOKEN_LENGTH,
        ExcludeCharacters=EXCLUDED_CHARACTERS,
        RequireEachIncludedType=True,
    )["RandomPassword"]
    secrets.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps({**current, TOKEN_KEY: new_token}),
        VersionStages=["AWSPENDING"],
    )


def set_secret(secrets: Any, secret_id: str, token: str, group_id: str) -> None:
    pending = _value(secrets, secret_id, "AWSPENDING", token)
    _group(group_id, available=True)
    _modify_auth(group_id, pending[TOKEN_KEY], strategy="ROTATE")


def test_secret(secrets: Any, secret_id: str, token: str, group_id: str) -> None:
    pending = _value(secrets, secret_id, "AWSPENDING", token)
    # The ROTATE of setSecret takes effect only once the group is available again.
    _group(group_id, available=True)
    host, port = endpoint(group_id)
    auth_ping(host, port, pending[TOKEN_KEY])


def finish_secret(secrets: Any, secret_id: str, token: str, group_id: str) -> None:
    # SET before moving AWSCURRENT: a version already current is skipped on a retry, so if
    # the stage moved first and SET then failed, the old token would stay valid for good.
    pending = _value(secrets, secret_id, "AWSPENDING", token)
    _group(group_id, available=True)
    _modify_auth(group_id, pending[TOKEN_KEY], strategy="SET")
    stages = secrets.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    secrets.update_secret_version_stage(
        SecretId=secret_id,
        VersionStage="AWSCURRENT",
        MoveToVersionId=token,
        RemoveFromVersionId=current,
    )


STEP_FUNCTIONS = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
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


def _group(group_id: str, *, available: bool = False) -> dict[str, Any]:
    """The replication group; with ``available``, refuse while a change is still applying.

    ElastiCache rejects a modification while the group is ``modifying``; raising lets
    Secrets Manager retry the step later instead of failing the rotation for good.
    """
    (group,) = boto3.client("elasticache").describe_replication_groups(ReplicationGroupId=group_id)[
        "ReplicationGroups"
    ]
    status = group.get("Status", "available")
    if available and status != "available":
        raise RotationError(f"replication group {group_id} is {status}; retrying later")
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


def auth_ping(host: str, port: int, auth_token: str, *, use_tls: bool = True) -> None:
    """Authenticate with the token and PING; raise RotationError unless both succeed."""
    raw = socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS)
    connection = (
        ssl.create_default_context().wrap_socket(raw, server_hostname=host) if use_tls else raw
    )
    with connection:
        reader = connection.makefile("rb")
        for command, expected in ((("AUTH", auth_token), b"+OK"), (("PING",), b"+PONG")):
            connection.sendall(_command(*command))
            reply = reader.readline().rstrip(b"\r\n")
            if reply != expected:
                raise RotationError(f"{command[0]} was answered {reply.decode(errors='replace')!r}")
