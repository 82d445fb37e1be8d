"""The online store's password rotation (RBAC), end to end, against the AWS models in moto.

Secrets Manager drives the real handler (functions/online_store_rotation) the way AWS does:
one invocation per step, the whole rotation retried from createSecret when a step fails, a
bounded number of times, with the platform's own function timeout. The replication group
authenticates through its user group; the group's ``default`` user passes through
``modifying`` for every password change and refuses ModifyUser meanwhile; the AUTH probe asks
the group's model whether the default user has the password. Waits cost virtual time only.

A handler that modifies the user on every setSecret, or tests while ``modifying``, fails the
slow-user tests: the rotation never completes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.elasticache.models import elasticache_backends

from blueprint.local.models import (
    ROTATION_ATTEMPTS,
    AwsModels,
    ReplicationGroupModel,
    RotationFunction,
    UserModel,
    installed,
)
from blueprint.local.models.rotation import INCOMPLETE
from components.online_store import ROTATION_TIMEOUT_SECONDS
from functions.online_store_rotation import handler
from tests.conftest import create_rbac_group

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
GROUP = "online-store"
USER = "fp-dev-default"
USER_GROUP = "fp-dev-online-store"
OLD_PASSWORD = "Old-password-0123456789abcdef"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:online-store-rotation"
POLLS_PER_INVOCATION = (ROTATION_TIMEOUT_SECONDS - handler.WAIT_MARGIN_SECONDS) // 15
"""How many 15 s polls one invocation can afford: a user modifying longer fails the step."""


@dataclass
class Store:
    """The deployed pieces: secret, group and default user (their models), rotation function,
    AUTH probes."""

    models: AwsModels
    secrets: Any
    arn: str
    function: RotationFunction
    probes: list[tuple[str, str]]
    """(password, default user's status) for every AUTH probe the handler made."""

    @property
    def group(self) -> ReplicationGroupModel:
        return self.models.replication_group(GROUP, region=REGION)

    @property
    def user(self) -> UserModel:
        return self.models.user(USER, region=REGION)

    def rotate(self) -> str:
        version: str = self.secrets.rotate_secret(
            SecretId=self.arn,
            RotationLambdaARN=FUNCTION_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
        )["VersionId"]
        return version

    def password(self, stage: str = "AWSCURRENT") -> str:
        raw = self.secrets.get_secret_value(SecretId=self.arn, VersionStage=stage)
        return str(json.loads(raw["SecretString"])[handler.PASSWORD_KEY])

    def stages(self) -> dict[str, list[str]]:
        stages: dict[str, list[str]] = self.secrets.describe_secret(SecretId=self.arn)[
            "VersionIdsToStages"
        ]
        return stages

    def password_changes(self) -> list[list[str]]:
        """The passwords every ModifyUser the default user accepted set, in order."""
        return [list(c.passwords) for c in self.user.requested if c.passwords is not None]


def _deploy() -> tuple[Any, str]:
    """The default user, its user group, the group and the secret as the platform creates
    them (the user's first password is the secret's first version)."""
    elasticache = boto3.client("elasticache", region_name=REGION)
    elasticache.create_user(
        UserId=USER,
        UserName="default",
        Engine="valkey",
        AccessString="on ~* &* +@all -@dangerous",
        Passwords=[OLD_PASSWORD],
    )
    elasticache.create_user_group(UserGroupId=USER_GROUP, Engine="valkey", UserIds=[USER])
    while (
        elasticache.describe_user_groups(UserGroupId=USER_GROUP)["UserGroups"][0]["Status"]
        != "active"
    ):
        pass
    create_rbac_group(elasticache, GROUP, USER_GROUP)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(
        Name="online-store-auth",
        SecretString=json.dumps({handler.PASSWORD_KEY: OLD_PASSWORD, "host": "clustercfg"}),
    )["ARN"]
    return secrets, str(arn)


def _probe_the_model(models: AwsModels, probes: list[tuple[str, str]]) -> Any:
    """``handler.accepts`` answered by the group's model, at the group's real endpoint."""

    def accepts(host: str, port: int, password: str, *, use_tls: bool = True) -> bool:
        group = elasticache_backends[DEFAULT_ACCOUNT_ID][REGION].replication_groups[GROUP]
        primary = group.node_groups[0]["primary_endpoint"]
        if (host, port) != (primary["address"], primary["port"]) or not use_tls:
            raise handler.RotationError(f"cannot reach {host}:{port} (TLS: {use_tls})")
        model = models.replication_group(GROUP, region=REGION)
        probes.append((password, models.user(USER, region=REGION).status))
        return model.accepts(password)

    return accepts


def _store(monkeypatch: pytest.MonkeyPatch, describes: int | list[int]) -> Iterator[Store]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws(), installed(AwsModels(describes_while_modifying=describes)) as models:
        secrets, arn = _deploy()
        function = models.register_rotation_function(
            FUNCTION_ARN,
            handler.lambda_handler,
            timeout_seconds=ROTATION_TIMEOUT_SECONDS,
            environment={"REPLICATION_GROUP_ID": GROUP, "USER_ID": USER},
        )
        probes: list[tuple[str, str]] = []
        monkeypatch.setattr(handler, "accepts", _probe_the_model(models, probes))
        yield Store(models, secrets, arn, function, probes)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """Every password change keeps the user ``modifying`` for three describes."""
    yield from _store(monkeypatch, 3)


@pytest.fixture
def slow_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The first password change outlasts one invocation's polling budget; later ones are
    quick."""
    yield from _store(monkeypatch, [POLLS_PER_INVOCATION + 10, 1])


@pytest.fixture
def stuck_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The first password change outlasts every attempt Secrets Manager makes."""
    yield from _store(monkeypatch, (ROTATION_ATTEMPTS + 1) * (POLLS_PER_INVOCATION + 2))


@pytest.fixture
def interrupted_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """setSecret's change is quick; the retirement outlasts one invocation's budget."""
    yield from _store(monkeypatch, [1, POLLS_PER_INVOCATION + 10, 1])


def _assert_rotated(store: Store, version: str) -> str:
    """The rotation finished: the new password alone opens the group and is AWSCURRENT."""
    new = store.password()
    assert new != OLD_PASSWORD
    assert store.stages()[version] == ["AWSCURRENT"], "AWSPENDING cleared"
    assert not [v for v, s in store.stages().items() if "AWSPENDING" in s]
    assert store.group.accepts(new)
    assert not store.group.accepts(OLD_PASSWORD)
    assert store.user.passwords == [new] and store.user.status == "active"
    assert store.group.status == "available" and store.group.requested == [], "group untouched"
    assert store.password_changes()[-1] == [new]
    return new


def test_rotation_completes_through_modifying(store: Store) -> None:
    version = store.rotate()

    new = _assert_rotated(store, version)
    assert store.function.steps(version) == [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ], "one attempt, no retries"
    assert store.password_changes() == [[OLD_PASSWORD, new], [new]]
    assert store.user.seen.count("modifying") == 6, "both changes were waited out"
    assert store.password("AWSPREVIOUS") == OLD_PASSWORD
    tested = [status for password, status in store.probes if password == new]
    assert tested and set(tested) == {"active"}, "probed only once the change applied"
    value = json.loads(store.secrets.get_secret_value(SecretId=store.arn)["SecretString"])
    assert value["host"] == "clustercfg", "the other fields of the secret are kept"


def test_the_old_password_works_until_finish_secret(store: Store) -> None:
    """Clients holding the current password keep working through set and test: every probe
    the handler made before finishSecret found the old password still accepted."""
    accepted_old: list[bool] = []

    def watching(event: dict[str, str], context: Any) -> None:
        if event["Step"] == "finishSecret":
            accepted_old.append(store.group.accepts(OLD_PASSWORD))
        handler.lambda_handler(event, context)

    store.function.handler = watching
    store.rotate()
    assert accepted_old == [True], "accepted right up to finishSecret"
    assert not store.group.accepts(OLD_PASSWORD)


def test_a_second_rotation_replaces_the_first(store: Store) -> None:
    first = _assert_rotated(store, store.rotate())

    second = _assert_rotated(store, store.rotate())

    assert second != first
    assert not store.group.accepts(first)
    assert store.password_changes() == [
        [OLD_PASSWORD, first],
        [first],
        [first, second],
        [second],
    ]


def test_a_user_modifying_past_the_step_budget_converges_on_the_retry(
    slow_store: Store,
) -> None:
    version = slow_store.rotate()

    failed = [i for i in slow_store.function.invocations if i.error]
    assert [(i.attempt, i.step) for i in failed] == [(1, "setSecret")]
    assert failed[0].error is not None and "still modifying" in failed[0].error
    assert slow_store.function.steps(version) == [
        "createSecret",
        "setSecret",
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ], "Secrets Manager restarted the whole rotation from createSecret"
    new = _assert_rotated(slow_store, version)
    assert slow_store.password_changes() == [[OLD_PASSWORD, new], [new]], "no second ModifyUser"


def test_an_interrupted_finish_retires_the_old_password_on_the_retry(
    interrupted_store: Store,
) -> None:
    """finishSecret moved AWSCURRENT, then its retirement outlasted the invocation: the
    rotation's retry finds the version current and retires the old password then."""
    store = interrupted_store
    version = store.rotate()

    failed = [(i.attempt, i.step) for i in store.function.invocations if i.error]
    assert failed == [(1, "finishSecret")]
    assert store.function.steps(version)[-1] == "finishSecret"
    new = _assert_rotated(store, version)
    assert store.password_changes() == [[OLD_PASSWORD, new], [new]], "retired once"


def test_a_rotation_that_never_converges_stays_pending_and_blocks_the_next(
    stuck_store: Store,
) -> None:
    version = stuck_store.rotate()

    steps = stuck_store.function.steps(version)
    assert steps.count("createSecret") == ROTATION_ATTEMPTS
    assert "finishSecret" not in steps
    assert stuck_store.stages()[version] == ["AWSPENDING"]
    assert stuck_store.password() == OLD_PASSWORD, "AWSCURRENT untouched"
    pending = stuck_store.password("AWSPENDING")
    assert stuck_store.password_changes() == [[OLD_PASSWORD, pending]], (
        "one ModifyUser, never repeated"
    )
    assert stuck_store.group.accepts(OLD_PASSWORD), "clients holding the current one still work"

    with pytest.raises(ClientError) as refused:
        stuck_store.rotate()
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert refused.value.response["Error"]["Message"] == INCOMPLETE
