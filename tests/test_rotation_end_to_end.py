"""The online store's token rotation, end to end, against the AWS models in moto.

Secrets Manager drives the real handler (functions/online_store_rotation) the way AWS does:
one invocation per step, the whole rotation retried from createSecret when a step fails, a
bounded number of times, with the platform's own function timeout. The replication group
passes through ``modifying`` for every token change and refuses changes meanwhile; the
AUTH probe asks the group's model which tokens it accepts. Waits cost virtual time only.

Against the handler before d8ca0e8 (ROTATE on every setSecret, testSecret failing while
``modifying``), the slow-group tests fail: the rotation never completes.
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
    installed,
)
from blueprint.local.models.rotation import INCOMPLETE
from components.online_store import ROTATION_TIMEOUT_SECONDS
from functions.online_store_rotation import handler

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
GROUP = "online-store"
OLD_TOKEN = "Old-token-0123456789abcdef"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:online-store-rotation"
POLLS_PER_INVOCATION = (ROTATION_TIMEOUT_SECONDS - handler.WAIT_MARGIN_SECONDS) // 15
"""How many 15 s polls one invocation can afford: a group modifying longer fails the step."""


@dataclass
class Store:
    """The deployed pieces: secret, group (and its model), rotation function, AUTH probes."""

    models: AwsModels
    secrets: Any
    arn: str
    function: RotationFunction
    probes: list[tuple[str, str]]
    """(token, group status) for every AUTH probe the handler made."""

    @property
    def group(self) -> ReplicationGroupModel:
        return self.models.replication_group(GROUP, region=REGION)

    def rotate(self) -> str:
        version: str = self.secrets.rotate_secret(
            SecretId=self.arn,
            RotationLambdaARN=FUNCTION_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
        )["VersionId"]
        return version

    def token(self, stage: str = "AWSCURRENT") -> str:
        raw = self.secrets.get_secret_value(SecretId=self.arn, VersionStage=stage)
        return str(json.loads(raw["SecretString"])[handler.TOKEN_KEY])

    def stages(self) -> dict[str, list[str]]:
        stages: dict[str, list[str]] = self.secrets.describe_secret(SecretId=self.arn)[
            "VersionIdsToStages"
        ]
        return stages

    def strategies(self) -> list[tuple[str | None, str | None]]:
        """(strategy, token) of every token change the group accepted."""
        return [(c.strategy, c.auth_token) for c in self.group.requested if c.touches_auth]


def _deploy() -> tuple[Any, str]:
    """The group and the secret as the platform creates them."""
    boto3.client("elasticache", region_name=REGION).create_replication_group(
        ReplicationGroupId=GROUP,
        ReplicationGroupDescription="online store",
        Engine="valkey",
        CacheNodeType="cache.r7g.large",
        NumCacheClusters=2,
        TransitEncryptionEnabled=True,
        AuthToken=OLD_TOKEN,
    )
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(
        Name="online-store-auth",
        SecretString=json.dumps({handler.TOKEN_KEY: OLD_TOKEN, "host": "clustercfg"}),
    )["ARN"]
    return secrets, str(arn)


def _probe_the_model(models: AwsModels, probes: list[tuple[str, str]]) -> Any:
    """``handler.accepts`` answered by the group's model, at the group's real endpoint."""

    def accepts(host: str, port: int, auth_token: str, *, use_tls: bool = True) -> bool:
        group = elasticache_backends[DEFAULT_ACCOUNT_ID][REGION].replication_groups[GROUP]
        primary = group.node_groups[0]["primary_endpoint"]
        if (host, port) != (primary["address"], primary["port"]) or not use_tls:
            raise handler.RotationError(f"cannot reach {host}:{port} (TLS: {use_tls})")
        model = models.replication_group(GROUP, region=REGION)
        probes.append((auth_token, model.status))
        return model.accepts(auth_token)

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
            environment={"REPLICATION_GROUP_ID": GROUP},
        )
        probes: list[tuple[str, str]] = []
        monkeypatch.setattr(handler, "accepts", _probe_the_model(models, probes))
        yield Store(models, secrets, arn, function, probes)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """Every token change keeps the group ``modifying`` for three describes."""
    yield from _store(monkeypatch, 3)


@pytest.fixture
def slow_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The first token change outlasts one invocation's polling budget; later ones are quick."""
    yield from _store(monkeypatch, [POLLS_PER_INVOCATION + 10, 1])


@pytest.fixture
def stuck_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The first token change outlasts every attempt Secrets Manager makes."""
    yield from _store(monkeypatch, (ROTATION_ATTEMPTS + 1) * (POLLS_PER_INVOCATION + 2))


def _assert_rotated(store: Store, version: str) -> str:
    """The rotation finished: the new token alone opens the group and is AWSCURRENT."""
    new = store.token()
    assert new != OLD_TOKEN
    assert store.stages()[version] == ["AWSCURRENT"], "AWSPENDING cleared"
    assert not [v for v, s in store.stages().items() if "AWSPENDING" in s]
    assert store.group.accepts(new)
    assert not store.group.accepts(OLD_TOKEN)
    assert store.group.status == "available"
    assert store.strategies()[-2:] == [("ROTATE", new), ("SET", new)]
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
    assert store.strategies() == [("ROTATE", new), ("SET", new)]
    assert store.group.seen.count("modifying") == 6, "both changes were waited out"
    assert store.token("AWSPREVIOUS") == OLD_TOKEN
    tested = [status for token, status in store.probes if token == new]
    assert tested and set(tested) == {"available"}, "probed only once the change applied"
    value = json.loads(store.secrets.get_secret_value(SecretId=store.arn)["SecretString"])
    assert value["host"] == "clustercfg", "the other fields of the secret are kept"


def test_a_second_rotation_replaces_the_first(store: Store) -> None:
    first = _assert_rotated(store, store.rotate())

    second = _assert_rotated(store, store.rotate())

    assert second != first
    assert not store.group.accepts(first)
    assert store.strategies() == [
        ("ROTATE", first),
        ("SET", first),
        ("ROTATE", second),
        ("SET", second),
    ]


def test_a_group_modifying_past_the_step_budget_converges_on_the_retry(
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
    assert slow_store.strategies() == [("ROTATE", new), ("SET", new)], "no second ROTATE"


def test_a_rotation_that_never_converges_stays_pending_and_blocks_the_next(
    stuck_store: Store,
) -> None:
    version = stuck_store.rotate()

    steps = stuck_store.function.steps(version)
    assert steps.count("createSecret") == ROTATION_ATTEMPTS
    assert "finishSecret" not in steps
    assert stuck_store.stages()[version] == ["AWSPENDING"]
    assert stuck_store.token() == OLD_TOKEN, "AWSCURRENT untouched"
    pending = stuck_store.token("AWSPENDING")
    assert stuck_store.strategies() == [("ROTATE", pending)], "one ROTATE, never repeated"
    assert stuck_store.group.accepts(OLD_TOKEN), "clients holding the current token still work"

    with pytest.raises(ClientError) as refused:
        stuck_store.rotate()
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert refused.value.response["Error"]["Message"] == INCOMPLETE
