"""The online-store token rotation function, step by step on moto, including its refusals."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID as ACCOUNT
from moto.elasticache.models import elasticache_backends
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

from functions.online_store_rotation import handler
from functions.online_store_rotation.handler import (
    RotationError,
    accepts,
    auth_ping,
    lambda_handler,
)

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
GROUP = "online-store"
OLD_TOKEN = "Old-token-0123456789abcdef"


class Rotation:
    """A secret with rotation started (AWSPENDING staged) and the cache it guards."""

    def __init__(self) -> None:
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        self.elasticache = boto3.client("elasticache", region_name=REGION)
        self.elasticache.create_replication_group(
            ReplicationGroupId=GROUP,
            ReplicationGroupDescription="online store",
            Engine="valkey",
            CacheNodeType="cache.r7g.large",
            NumCacheClusters=2,
            TransitEncryptionEnabled=True,
            AuthToken=OLD_TOKEN,
        )
        self.arn = self.secrets.create_secret(
            Name="online-store-auth", SecretString=json.dumps({"password": OLD_TOKEN})
        )["ARN"]
        self.token = self.start_rotation()
        self.auth_calls: list[dict[str, Any]] = []
        self.probed: list[tuple[str, int, str]] = []
        self.accepted = {OLD_TOKEN}
        self.current_when_modified: list[str] = []
        """AWSCURRENT's token at each ModifyReplicationGroup (what clients would read)."""
        """Tokens the group accepts: ROTATE adds one, SET leaves only the one it sets."""

    def modified(self, params: dict[str, Any]) -> None:
        self.auth_calls.append(dict(params))
        self.current_when_modified.append(self.value("AWSCURRENT"))
        token = params["AuthToken"]
        self.accepted = (
            {token} if params["AuthTokenUpdateStrategy"] == "SET" else self.accepted | {token}
        )

    def accepts(self, host: str, port: int, token: str, *, use_tls: bool = True) -> bool:
        self.probed.append((host, port, token))
        return token in self.accepted

    def start_rotation(self) -> str:
        """The state RotateSecret leaves before it invokes the function: rotation enabled and
        a new version id staged AWSPENDING, with no value yet. (moto's own RotateSecret,
        without a Lambda to call, rotates by itself, so the state is set on its model.)"""
        secret = secretsmanager_backends[ACCOUNT][REGION].secrets[self.arn]
        assert isinstance(secret, FakeSecret)
        secret.rotation_requested = secret.rotation_enabled = True
        secret.auto_rotate_after_days = 30
        token = str(uuid.uuid4())
        secret.remove_version_stages_from_old_versions(["AWSPENDING"])
        secret.versions[token] = {
            "createdate": int(time.time()),
            "version_id": token,
            "version_stages": ["AWSPENDING"],
        }
        return token

    def event(self, step: str, token: str | None = None) -> dict[str, str]:
        return {"SecretId": self.arn, "ClientRequestToken": token or self.token, "Step": step}

    def run(self, step: str) -> None:
        lambda_handler(self.event(step))

    def value(self, stage: str) -> str:
        raw = self.secrets.get_secret_value(SecretId=self.arn, VersionStage=stage)
        return str(json.loads(raw["SecretString"])["password"])

    def stages(self) -> dict[str, list[str]]:
        stages: dict[str, list[str]] = self.secrets.describe_secret(SecretId=self.arn)[
            "VersionIdsToStages"
        ]
        return stages


@pytest.fixture
def rotation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rotation]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("REPLICATION_GROUP_ID", GROUP)
    with mock_aws():
        state = Rotation()
        # moto accepts but does not keep AuthToken changes: record what the function asks
        # and keep the set of tokens the group would accept.
        real_client: Any = boto3.client

        def client(service: str, *args: Any, **kwargs: Any) -> Any:
            made = real_client(service, *args, **kwargs)
            if service == "elasticache":
                made.meta.events.register(
                    "provide-client-params.elasticache.ModifyReplicationGroup",
                    lambda params, **_: state.modified(params),
                )
            return made

        monkeypatch.setattr(boto3, "client", client)
        monkeypatch.setattr(handler, "accepts", state.accepts)
        monkeypatch.setattr(handler, "WAIT_DELAY_SECONDS", 0)
        yield state


def test_full_rotation_replaces_the_token_everywhere(rotation: Rotation) -> None:
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.run(step)
    new = rotation.value("AWSCURRENT")
    assert new != OLD_TOKEN and len(new) == handler.TOKEN_LENGTH
    assert set(new) <= set(handler.SAFE_SPECIAL_CHARACTERS) | {c for c in new if c.isalnum()}
    assert "AWSCURRENT" in rotation.stages()[rotation.token]
    assert [(c["AuthToken"], c["AuthTokenUpdateStrategy"]) for c in rotation.auth_calls] == [
        (new, "ROTATE"),  # setSecret: both tokens valid while clients move over
        (new, "SET"),  # finishSecret: the old token is retired
    ]
    assert all(
        c["ReplicationGroupId"] == GROUP and c["ApplyImmediately"] for c in rotation.auth_calls
    )
    # setSecret: pending not yet accepted; testSecret: now it is; finishSecret: old still is.
    assert [token for _, _, token in rotation.probed] == [new, new, OLD_TOKEN]
    assert rotation.accepted == {new}


def test_set_secret_after_an_applied_rotate_does_not_rotate_again(rotation: Rotation) -> None:
    """Secrets Manager retries the whole rotation after a failed step: the retry's setSecret
    must find the pending token already accepted and leave the group alone."""
    rotation.run("createSecret")
    rotation.run("setSecret")
    rotation.run("createSecret")  # the retry starts over
    rotation.run("setSecret")
    assert [c["AuthTokenUpdateStrategy"] for c in rotation.auth_calls] == ["ROTATE"]


def test_finish_moves_the_stage_before_it_retires_the_old_token(rotation: Rotation) -> None:
    """While SET applies, clients that re-read the secret must get the new token."""
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.run(step)
    new = rotation.value("AWSCURRENT")
    assert [c["AuthTokenUpdateStrategy"] for c in rotation.auth_calls] == ["ROTATE", "SET"]
    assert rotation.current_when_modified == [OLD_TOKEN, new]


def test_a_finish_retried_after_the_stage_moved_still_retires_the_old_token(
    rotation: Rotation,
) -> None:
    """finishSecret moved AWSCURRENT, then its SET failed: the retry must SET, not skip."""
    for step in ("createSecret", "setSecret", "testSecret"):
        rotation.run(step)
    current = next(v for v, s in rotation.stages().items() if "AWSCURRENT" in s)
    rotation.secrets.update_secret_version_stage(
        SecretId=rotation.arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=rotation.token,
        RemoveFromVersionId=current,
    )
    assert rotation.accepted == {OLD_TOKEN, rotation.value("AWSCURRENT")}
    rotation.run("finishSecret")  # the version is already current
    assert [c["AuthTokenUpdateStrategy"] for c in rotation.auth_calls] == ["ROTATE", "SET"]
    assert rotation.accepted == {rotation.value("AWSCURRENT")}
    rotation.run("finishSecret")  # and once retired, nothing more
    assert len(rotation.auth_calls) == 2


def test_finish_after_an_applied_set_only_moves_the_stage(rotation: Rotation) -> None:
    for step in ("createSecret", "setSecret", "testSecret"):
        rotation.run(step)
    new = rotation.secrets.get_secret_value(
        SecretId=rotation.arn, VersionId=rotation.token, VersionStage="AWSPENDING"
    )["SecretString"]
    rotation.accepted = {json.loads(new)["password"]}  # an earlier attempt's SET took effect
    rotation.run("finishSecret")
    assert [c["AuthTokenUpdateStrategy"] for c in rotation.auth_calls] == ["ROTATE"]
    assert "AWSCURRENT" in rotation.stages()[rotation.token]


class Remaining:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_a_group_still_modifying_fails_the_step_within_the_lambda_budget(
    rotation: Rotation,
) -> None:
    rotation.run("createSecret")
    group = elasticache_backends[ACCOUNT][REGION].replication_groups[GROUP]
    group.status = "modifying"
    with pytest.raises(RotationError, match="still modifying"):
        lambda_handler(rotation.event("setSecret"), Remaining(handler.WAIT_MARGIN_SECONDS * 1000))
    assert rotation.auth_calls == []  # nothing modified while another change applies


def test_create_secret_is_idempotent_and_keeps_other_fields(rotation: Rotation) -> None:
    rotation.secrets.put_secret_value(
        SecretId=rotation.arn,
        SecretString=json.dumps({"password": OLD_TOKEN, "username": "platform"}),
        VersionStages=["AWSCURRENT"],
    )
    rotation.token = rotation.start_rotation()
    rotation.run("createSecret")
    first = rotation.secrets.get_secret_value(
        SecretId=rotation.arn, VersionId=rotation.token, VersionStage="AWSPENDING"
    )["SecretString"]
    rotation.run("createSecret")
    again = rotation.secrets.get_secret_value(
        SecretId=rotation.arn, VersionId=rotation.token, VersionStage="AWSPENDING"
    )["SecretString"]
    assert first == again
    assert json.loads(first)["username"] == "platform"


def test_a_finished_version_is_left_alone(rotation: Rotation) -> None:
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.run(step)
    calls = len(rotation.auth_calls)
    rotation.run("setSecret")  # a late retry
    assert len(rotation.auth_calls) == calls


def test_unknown_step_is_refused(rotation: Rotation) -> None:
    with pytest.raises(RotationError, match="unknown step 'deleteSecret'"):
        rotation.run("deleteSecret")


def test_a_version_without_stage_is_refused(rotation: Rotation) -> None:
    with pytest.raises(RotationError, match="has no stage"):
        lambda_handler(rotation.event("createSecret", token="00000000-0000-0000-0000-000000000000"))


def test_a_version_not_pending_is_refused(rotation: Rotation) -> None:
    rotation.run("createSecret")
    rotation.secrets.update_secret_version_stage(
        SecretId=rotation.arn, VersionStage="AWSPENDING", RemoveFromVersionId=rotation.token
    )
    rotation.secrets.update_secret_version_stage(
        SecretId=rotation.arn, VersionStage="AWSPREVIOUS", MoveToVersionId=rotation.token
    )
    assert "AWSPENDING" not in rotation.stages()[rotation.token]
    with pytest.raises(RotationError, match="not staged as AWSPENDING"):
        rotation.run("setSecret")


def test_a_secret_without_rotation_is_refused(rotation: Rotation) -> None:
    arn = rotation.secrets.create_secret(
        Name="not-rotated", SecretString=json.dumps({"password": OLD_TOKEN})
    )["ARN"]
    with pytest.raises(RotationError, match="not enabled for rotation"):
        lambda_handler({"SecretId": arn, "ClientRequestToken": rotation.token, "Step": "setSecret"})


def test_a_failing_probe_stops_the_rotation_before_finish(
    rotation: Rotation, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotation.run("createSecret")
    rotation.run("setSecret")
    rotation.accepted = {OLD_TOKEN}  # the ROTATE did not take
    with pytest.raises(RotationError, match="refused AUTH with the pending token"):
        rotation.run("testSecret")
    assert rotation.value("AWSCURRENT") == OLD_TOKEN


# --- the AUTH/PING probe against a local RESP server -------------------------------------


@pytest.fixture
def resp_server() -> Iterator[tuple[int, str]]:
    """A minimal server speaking RESP: AUTH <password> then PING, as Valkey answers them."""
    password = "s3cret-token"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection, connection.makefile("rb") as reader:
                authed = False
                while header := reader.readline():
                    args = []
                    for _ in range(int(header[1:])):
                        length = int(reader.readline()[1:])
                        args.append(reader.read(length + 2)[:-2].decode())
                    if args[0] == "AUTH":
                        authed = args[1] == password
                        connection.sendall(b"+OK\r\n" if authed else b"-WRONGPASS invalid\r\n")
                    elif args[0] == "PING":
                        connection.sendall(b"+PONG\r\n" if authed else b"-NOAUTH required\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, password
    listener.close()


def test_probe_accepts_the_right_token(resp_server: tuple[int, str]) -> None:
    port, password = resp_server
    auth_ping("127.0.0.1", port, password, use_tls=False)


def test_probe_rejects_a_wrong_token(resp_server: tuple[int, str]) -> None:
    port, _ = resp_server
    assert not accepts("127.0.0.1", port, "not-the-token", use_tls=False)
    with pytest.raises(RotationError, match="refused AUTH"):
        auth_ping("127.0.0.1", port, "not-the-token", use_tls=False)


@pytest.mark.parametrize("reply", [b"-LOADING Valkey is loading the dataset", b"-ERR max clients"])
def test_an_error_that_is_not_about_the_token_is_no_refusal(reply: bytes) -> None:
    """Only WRONGPASS / invalid password mean "not accepted": a wrong "no" would skip a SET."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(reply + b"\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        with pytest.raises(RotationError, match=r"was answered|dropped the AUTH probe"):
            accepts("127.0.0.1", listener.getsockname()[1], "any-token", use_tls=False)
    finally:
        listener.close()


def test_probe_that_cannot_connect_is_an_error_not_a_refusal() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(RotationError, match="cannot reach"):
        accepts("127.0.0.1", port, "any-token", use_tls=False)
