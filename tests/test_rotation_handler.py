"""The online store's password rotation function (RBAC: the default user's passwords), step by
step on moto with the AWS models, including its refusals."""

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
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

from blueprint.local.models import AwsModels, UserModel, installed
from functions.online_store_rotation import handler
from functions.online_store_rotation.handler import (
    RotationError,
    accepts,
    auth_ping,
    lambda_handler,
)
from tests.conftest import create_rbac_group

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
GROUP = "online-store"
USER = "fp-dev-default"
USER_GROUP = "fp-dev-online-store"
OLD_PASSWORD = "Old-password-0123456789abcdef"


class Rotation:
    """A secret with rotation started (AWSPENDING staged) and the cache it guards: a
    replication group authenticating through a user group whose ``default`` user has the
    secret's password."""

    def __init__(self, models: AwsModels) -> None:
        self.models = models
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        self.elasticache = boto3.client("elasticache", region_name=REGION)
        self.elasticache.create_user(
            UserId=USER,
            UserName="default",
            Engine="valkey",
            AccessString="on ~* &* +@all -@dangerous",
            Passwords=[OLD_PASSWORD],
        )
        self.elasticache.create_user_group(UserGroupId=USER_GROUP, Engine="valkey", UserIds=[USER])
        while models.user_group(USER_GROUP, region=REGION).describe() != "active":
            pass
        create_rbac_group(self.elasticache, GROUP, USER_GROUP)
        self.arn = self.secrets.create_secret(
            Name="online-store-auth", SecretString=json.dumps({"password": OLD_PASSWORD})
        )["ARN"]
        self.token = self.start_rotation()
        self.password_calls: list[dict[str, Any]] = []
        """Every ModifyUser the function made."""
        self.probed: list[tuple[str, int, str]] = []
        self.accepted = {OLD_PASSWORD}
        """Passwords the server accepts as ``default``: what the last ModifyUser set."""
        self.current_when_modified: list[str] = []
        """AWSCURRENT's password at each ModifyUser (what clients would read)."""

    @property
    def user(self) -> UserModel:
        return self.models.user(USER, region=REGION)

    def modified(self, params: dict[str, Any]) -> None:
        self.password_calls.append(dict(params))
        self.current_when_modified.append(self.value("AWSCURRENT"))
        self.accepted = set(params["Passwords"])

    def passwords_set(self) -> list[list[str]]:
        return [list(c["Passwords"]) for c in self.password_calls]

    def accepts(self, host: str, port: int, password: str, *, use_tls: bool = True) -> bool:
        self.probed.append((host, port, password))
        return password in self.accepted

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
    monkeypatch.setenv("USER_ID", USER)
    # The models give moto ModifyUser and user groups; a change applies at the next describe.
    with mock_aws(), installed(AwsModels(describes_while_modifying=0)) as models:
        state = Rotation(models)
        # The AUTH probe is answered from what the function asked ModifyUser to set, so
        # tests can also pretend a change did or did not take.
        real_client: Any = boto3.client

        def client(service: str, *args: Any, **kwargs: Any) -> Any:
            made = real_client(service, *args, **kwargs)
            if service == "elasticache":
                made.meta.events.register(
                    "provide-client-params.elasticache.ModifyUser",
                    lambda params, **_: state.modified(params),
                )
            return made

        monkeypatch.setattr(boto3, "client", client)
        monkeypatch.setattr(handler, "accepts", state.accepts)
        monkeypatch.setattr(handler, "WAIT_DELAY_SECONDS", 0)
        yield state


def test_full_rotation_replaces_the_password_everywhere(rotation: Rotation) -> None:
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.run(step)
    new = rotation.value("AWSCURRENT")
    assert new != OLD_PASSWORD and len(new) == handler.PASSWORD_LENGTH
    assert set(new) <= set(handler.SAFE_SPECIAL_CHARACTERS) | {c for c in new if c.isalnum()}
    assert "AWSCURRENT" in rotation.stages()[rotation.token]
    assert rotation.passwords_set() == [
        [OLD_PASSWORD, new],  # setSecret: both passwords valid while clients move over
        [new],  # finishSecret: the old password is retired
    ]
    assert {c["UserId"] for c in rotation.password_calls} == {USER}
    assert all(set(c) == {"UserId", "Passwords"} for c in rotation.password_calls), (
        "only the passwords change: the access string is left alone"
    )
    # setSecret: pending not yet accepted; testSecret: now it is; finishSecret: old still is.
    assert [password for _, _, password in rotation.probed] == [new, new, OLD_PASSWORD]
    assert rotation.accepted == {new}
    assert rotation.user.passwords == [new], "the user itself (the models) agrees"
    assert rotation.models.replication_group(GROUP, region=REGION).accepts(new)


def test_set_secret_after_an_applied_modify_user_does_not_modify_again(
    rotation: Rotation,
) -> None:
    """Secrets Manager retries the whole rotation after a failed step: the retry's setSecret
    must find the pending password already accepted and leave the user alone."""
    rotation.run("createSecret")
    rotation.run("setSecret")
    rotation.run("createSecret")  # the retry starts over
    rotation.run("setSecret")
    assert len(rotation.password_calls) == 1


def test_the_old_password_keeps_working_until_finish_secret(rotation: Rotation) -> None:
    for step in ("createSecret", "setSecret", "testSecret"):
        rotation.run(step)
        assert OLD_PASSWORD in rotation.user.passwords, step
        assert rotation.models.replication_group(GROUP, region=REGION).accepts(OLD_PASSWORD)
    rotation.run("finishSecret")
    assert OLD_PASSWORD not in rotation.user.passwords


def test_finish_moves_the_stage_before_it_retires_the_old_password(rotation: Rotation) -> None:
    """While the retirement applies, clients that re-read the secret must get the new one."""
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.run(step)
    new = rotation.value("AWSCURRENT")
    assert rotation.passwords_set() == [[OLD_PASSWORD, new], [new]]
    assert rotation.current_when_modified == [OLD_PASSWORD, new]


def test_a_finish_retried_after_the_stage_moved_still_retires_the_old_password(
    rotation: Rotation,
) -> None:
    """finishSecret moved AWSCURRENT, then its ModifyUser failed: the retry must retire."""
    for step in ("createSecret", "setSecret", "testSecret"):
        rotation.run(step)
    current = next(v for v, s in rotation.stages().items() if "AWSCURRENT" in s)
    rotation.secrets.update_secret_version_stage(
        SecretId=rotation.arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=rotation.token,
        RemoveFromVersionId=current,
    )
    new = rotation.value("AWSCURRENT")
    assert rotation.accepted == {OLD_PASSWORD, new}
    rotation.run("finishSecret")  # the version is already current
    assert rotation.passwords_set() == [[OLD_PASSWORD, new], [new]]
    assert rotation.accepted == {new}
    rotation.run("finishSecret")  # and once retired, nothing more
    assert len(rotation.password_calls) == 2


def test_finish_after_an_applied_retirement_only_moves_the_stage(rotation: Rotation) -> None:
    for step in ("createSecret", "setSecret", "testSecret"):
        rotation.run(step)
    new = rotation.secrets.get_secret_value(
        SecretId=rotation.arn, VersionId=rotation.token, VersionStage="AWSPENDING"
    )["SecretString"]
    rotation.accepted = {json.loads(new)["password"]}  # an earlier attempt's retirement applied
    rotation.run("finishSecret")
    assert len(rotation.password_calls) == 1
    assert "AWSCURRENT" in rotation.stages()[rotation.token]


class Remaining:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_a_user_still_modifying_fails_the_step_within_the_lambda_budget(
    rotation: Rotation,
) -> None:
    rotation.run("createSecret")
    user = rotation.user
    user.status, user.describes_left = "modifying", 1_000  # another change is applying
    with pytest.raises(RotationError, match=f"user {USER} is still modifying"):
        lambda_handler(rotation.event("setSecret"), Remaining(handler.WAIT_MARGIN_SECONDS * 1000))
    assert rotation.password_calls == []  # nothing modified while another change applies


@pytest.mark.parametrize("missing", ["USER_ID", "REPLICATION_GROUP_ID"])
def test_an_environment_without_the_user_or_the_group_is_refused(
    rotation: Rotation, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delenv(missing)
    with pytest.raises(RotationError, match=f"environment has no {missing}"):
        rotation.run("createSecret")


def test_create_secret_is_idempotent_and_keeps_other_fields(rotation: Rotation) -> None:
    rotation.secrets.put_secret_value(
        SecretId=rotation.arn,
        SecretString=json.dumps({"password": OLD_PASSWORD, "username": "platform"}),
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
    calls = len(rotation.password_calls)
    rotation.run("setSecret")  # a late retry
    assert len(rotation.password_calls) == calls


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
        Name="not-rotated", SecretString=json.dumps({"password": OLD_PASSWORD})
    )["ARN"]
    with pytest.raises(RotationError, match="not enabled for rotation"):
        lambda_handler({"SecretId": arn, "ClientRequestToken": rotation.token, "Step": "setSecret"})


def test_a_failing_probe_stops_the_rotation_before_finish(
    rotation: Rotation, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotation.run("createSecret")
    rotation.run("setSecret")
    rotation.accepted = {OLD_PASSWORD}  # the ModifyUser did not take
    with pytest.raises(RotationError, match="refused AUTH with the pending password"):
        rotation.run("testSecret")
    assert rotation.value("AWSCURRENT") == OLD_PASSWORD


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
    """Only WRONGPASS / invalid password mean "not accepted": a wrong "no" would skip a
    retirement."""
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
