"""The AWS state-machine models (blueprint.local.models), transition by transition, on moto.

Each test drives moto through boto3, as the code under test would, and asserts what AWS
documents: the transitional state, how long it lasts in describe calls, and the refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import ThreadedMotoServer

from blueprint.local.models import (
    ROTATION_ATTEMPTS,
    AwsModels,
    Durations,
    RotationFunction,
    install,
    installed,
    uninstall,
)
from blueprint.local.models.rotation import (
    INCOMPLETE,
    MOTO_ROTATE_SECRET,
    STEPS,
    LambdaContext,
)

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
GROUP = "online-store"
OLD = "Old-token-0123456789abcdef"
NEW = "New-token-0123456789abcdef"
NEWER = "Newer-token-0123456789abcd"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:rotate"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _models(aws: None, **settings: Any) -> Iterator[AwsModels]:
    with installed(AwsModels(**settings)) as models:
        yield models


@pytest.fixture
def models(aws: None) -> Iterator[AwsModels]:
    """Two describes in each transitional state (the default)."""
    yield from _models(aws)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# --- ElastiCache ---------------------------------------------------------------------------


def _cache(token: str | None = OLD, *, transit: bool = True) -> Any:
    client = boto3.client("elasticache", region_name=REGION)
    request: dict[str, Any] = {
        "ReplicationGroupId": GROUP,
        "ReplicationGroupDescription": "online store",
        "Engine": "valkey",
        "CacheNodeType": "cache.r7g.large",
        "NumCacheClusters": 2,
        "TransitEncryptionEnabled": transit,
    }
    if token is not None:
        request["AuthToken"] = token
    client.create_replication_group(**request)
    return client


def _status(client: Any) -> str:
    groups = client.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"]
    return str(groups[0]["Status"])


def _settle(client: Any) -> list[str]:
    """Describe until available; every status seen on the way."""
    seen = [_status(client)]
    while seen[-1] != "available":
        seen.append(_status(client))
    return seen


def _auth(client: Any, token: str, strategy: str) -> dict[str, Any]:
    group: dict[str, Any] = client.modify_replication_group(
        ReplicationGroupId=GROUP,
        AuthToken=token,
        AuthTokenUpdateStrategy=strategy,
        ApplyImmediately=True,
    )["ReplicationGroup"]
    return group


def test_rotate_adds_the_token_beside_the_current_one(models: AwsModels) -> None:
    client = _cache()
    group = models.replication_group(GROUP, region=REGION)
    assert group.tokens == [OLD]

    answer = _auth(client, NEW, "ROTATE")

    assert answer["Status"] == "modifying"
    assert answer["PendingModifiedValues"]["AuthTokenStatus"] == "ROTATING"
    assert group.accepts(OLD) and not group.accepts(NEW), "applies when modifying ends"
    assert _settle(client) == ["modifying", "modifying", "available"]
    assert group.accepts(OLD) and group.accepts(NEW)


def test_set_leaves_the_new_token_as_the_only_one(models: AwsModels) -> None:
    client = _cache()
    _auth(client, NEW, "ROTATE")
    _settle(client)

    assert _auth(client, NEW, "SET")["PendingModifiedValues"]["AuthTokenStatus"] == "SETTING"
    assert _settle(client)[0] == "modifying"

    group = models.replication_group(GROUP, region=REGION)
    assert group.accepts(NEW) and not group.accepts(OLD)
    assert [(c.strategy, c.auth_token) for c in group.applied] == [("ROTATE", NEW), ("SET", NEW)]


def test_a_modification_while_modifying_is_refused(models: AwsModels) -> None:
    client = _cache()
    _auth(client, NEW, "ROTATE")

    for change in (
        {"AuthToken": NEW, "AuthTokenUpdateStrategy": "SET"},
        {"ReplicationGroupDescription": "only a description"},
        {"EngineVersion": "8.0"},
    ):
        with pytest.raises(ClientError) as refused:
            client.modify_replication_group(
                ReplicationGroupId=GROUP, ApplyImmediately=True, **change
            )
        assert _code(refused) == "InvalidReplicationGroupState"
        assert isinstance(refused.value, client.exceptions.InvalidReplicationGroupStateFault)
    _settle(client)
    client.modify_replication_group(ReplicationGroupId=GROUP, ReplicationGroupDescription="ok")


@pytest.mark.parametrize("describes", [0, 1, 4])
def test_available_after_the_configured_number_of_describes(aws: None, describes: int) -> None:
    with installed(AwsModels(describes_while_modifying=describes)):
        client = _cache()
        _auth(client, NEW, "ROTATE")
        assert _settle(client) == ["modifying"] * describes + ["available"]


def test_successive_changes_can_take_different_times(aws: None) -> None:
    with installed(AwsModels(describes_while_modifying=[3, 0])):
        client = _cache()
        _auth(client, NEW, "ROTATE")
        assert len(_settle(client)) == 4
        _auth(client, NEW, "SET")
        assert _settle(client) == ["available"]


def test_engine_version_and_parameter_group_pass_through_modifying(models: AwsModels) -> None:
    client = _cache()
    answer = client.modify_replication_group(
        ReplicationGroupId=GROUP,
        EngineVersion="8.0",
        CacheParameterGroupName="online-store-params",
        ApplyImmediately=True,
    )["ReplicationGroup"]
    assert answer["Status"] == "modifying"
    group = models.replication_group(GROUP, region=REGION)
    assert group.engine_version is None, "applies when modifying ends"
    _settle(client)
    assert group.describe() == "available"
    assert [group.engine_version, group.parameter_group] == ["8.0", "online-store-params"]


def test_without_apply_immediately_a_change_waits_for_the_maintenance_window(
    models: AwsModels,
) -> None:
    client = _cache()
    client.modify_replication_group(
        ReplicationGroupId=GROUP, AuthToken=NEW, AuthTokenUpdateStrategy="ROTATE"
    )
    assert _status(client) == "available"
    group = models.replication_group(GROUP, region=REGION)
    assert group.tokens == [OLD] and len(group.deferred) == 1


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("short-token-15ch", None),
        ("s" * 15, "16-128 characters"),
        ("s" * 129, "16-128 characters"),
        ("has-an-at-sign-@-in-it", "'@'"),
        ("has/a/slash/in/it/too", "'/'"),
        ('has-a-"quote"-in-it-too', "'\"'"),
        ("has-a-percent-%-in-it", "'%'"),
        ("has a space in it, sadly", "' '"),
        ("non-ascii-token-é-in-it", "'é'"),
    ],
)
def test_auth_token_rules_apply_on_create_and_modify(
    models: AwsModels, token: str, problem: str | None
) -> None:
    if problem is None:
        client = _cache(token)
        assert models.replication_group(GROUP, region=REGION).accepts(token)
        return
    client = boto3.client("elasticache", region_name=REGION)
    with pytest.raises(ClientError) as refused:
        _cache(token)
    assert _code(refused) == "InvalidParameterValue"
    assert problem in str(refused.value)
    client = _cache()
    with pytest.raises(ClientError) as refused:
        _auth(client, token, "ROTATE")
    assert _code(refused) == "InvalidParameterValue"
    assert _status(client) == "available", "a refused modification changes nothing"


def test_auth_needs_encryption_in_transit(models: AwsModels) -> None:
    with pytest.raises(ClientError) as refused:
        _cache(OLD, transit=False)
    assert _code(refused) == "InvalidParameterCombination"
    client = _cache(None, transit=False)
    with pytest.raises(ClientError) as refused:
        _auth(client, NEW, "ROTATE")
    assert _code(refused) == "InvalidParameterCombination"


def test_set_needs_a_token_added_by_rotate(models: AwsModels) -> None:
    client = _cache()
    with pytest.raises(ClientError) as refused:
        _auth(client, NEW, "SET")
    assert "allowed only after ROTATE" in str(refused.value)


def test_a_third_token_is_refused(models: AwsModels) -> None:
    client = _cache()
    _auth(client, NEW, "ROTATE")
    _settle(client)
    with pytest.raises(ClientError) as refused:
        _auth(client, NEWER, "ROTATE")
    assert "already accepts 2" in str(refused.value)


def test_delete_is_only_for_the_move_to_rbac(models: AwsModels) -> None:
    client = _cache()
    with pytest.raises(ClientError) as refused:
        client.modify_replication_group(
            ReplicationGroupId=GROUP, AuthTokenUpdateStrategy="DELETE", ApplyImmediately=True
        )
    assert _code(refused) == "InvalidParameterCombination"
    client.modify_replication_group(
        ReplicationGroupId=GROUP,
        AuthTokenUpdateStrategy="DELETE",
        UserGroupIdsToAdd=["online-store-users"],
        ApplyImmediately=True,
    )
    _settle(client)
    assert models.replication_group(GROUP, region=REGION).tokens == []


def test_durations_repeat_their_last_value() -> None:
    durations = Durations([5, 1])
    assert [durations.next() for _ in range(4)] == [5, 1, 1, 1]
    with pytest.raises(ValueError, match="non-negative"):
        Durations(-1)


def test_uninstalling_restores_moto(aws: None) -> None:
    with installed():
        client = _cache()
        assert _auth(client, NEW, "ROTATE")["Status"] == "modifying"
    assert _status(client) == "available", "a change under way completes on uninstall"
    answer = _auth(client, NEWER, "SET")  # moto alone: no state, no refusal
    assert answer["Status"] == "available"


def test_installations_nest(aws: None) -> None:
    outer = install(AwsModels(describes_while_modifying=0))
    try:
        inner = install(AwsModels(describes_while_modifying=3))
        try:
            client = _cache()
            _auth(client, NEW, "ROTATE")
            assert len(_settle(client)) == 4, "the innermost installation, once"
        finally:
            uninstall(inner)
        _auth(client, NEW, "SET")  # through the outer installation, once (else: refused)
        assert len(_settle(client)) == 4, "a group keeps the durations it was created with"
    finally:
        uninstall(outer)
    with pytest.raises(ValueError, match="not installed"):
        uninstall(outer)


# --- MSK -----------------------------------------------------------------------------------


def _kafka() -> tuple[Any, str]:
    client = boto3.client("kafka", region_name=REGION)
    arn = client.create_cluster(
        ClusterName="streaming",
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={
            "InstanceType": "kafka.m7g.large",
            "ClientSubnets": ["subnet-a", "subnet-b", "subnet-c"],
            "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 100}},
        },
    )["ClusterArn"]
    return client, str(arn)


def _cluster(client: Any, arn: str) -> dict[str, Any]:
    info: dict[str, Any] = client.describe_cluster(ClusterArn=arn)["ClusterInfo"]
    return info


def _until_active(client: Any, arn: str) -> list[str]:
    seen = [_cluster(client, arn)["State"]]
    while seen[-1] != "ACTIVE":
        seen.append(_cluster(client, arn)["State"])
    return seen


def test_a_new_cluster_is_creating_then_active(models: AwsModels) -> None:
    client, arn = _kafka()
    assert _until_active(client, arn) == ["CREATING", "CREATING", "ACTIVE"]


def test_an_update_passes_through_updating_then_applies(models: AwsModels) -> None:
    client, arn = _kafka()
    _until_active(client, arn)
    version = _cluster(client, arn)["CurrentVersion"]

    client.update_broker_storage(
        ClusterArn=arn,
        CurrentVersion=version,
        TargetBrokerEBSVolumeInfo=[{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 200}],
    )

    info = client.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    assert info["State"] == "UPDATING"
    assert info["CurrentVersion"] != version, "each update gives the cluster a new version"
    assert _until_active(client, arn) == ["UPDATING", "ACTIVE"]
    storage = _cluster(client, arn)["BrokerNodeGroupInfo"]["StorageInfo"]
    assert storage["EbsStorageInfo"]["VolumeSize"] == 200
    assert models.msk_cluster(arn, region=REGION).applied == ["UpdateBrokerStorage"]


@pytest.mark.parametrize(
    ("call", "arguments"),
    [
        ("update_broker_count", {"TargetNumberOfBrokerNodes": 6}),
        ("update_broker_type", {"TargetInstanceType": "kafka.m7g.xlarge"}),
        ("update_cluster_configuration", {"ConfigurationInfo": {"Arn": "arn:c", "Revision": 2}}),
        ("update_cluster_kafka_version", {"TargetKafkaVersion": "3.7.x"}),
        ("update_monitoring", {"EnhancedMonitoring": "PER_BROKER"}),
        ("update_security", {"ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}}),
    ],
)
def test_updates_are_refused_unless_active(
    models: AwsModels, call: str, arguments: dict[str, Any]
) -> None:
    client, arn = _kafka()
    update: Callable[..., Any] = getattr(client, call)
    version = _cluster(client, arn)["CurrentVersion"]
    with pytest.raises(ClientError) as refused:
        update(ClusterArn=arn, CurrentVersion=version, **arguments)  # still CREATING
    assert _code(refused) == "BadRequestException"
    _until_active(client, arn)
    version = _cluster(client, arn)["CurrentVersion"]

    update(ClusterArn=arn, CurrentVersion=version, **arguments)
    with pytest.raises(ClientError) as refused:
        update(ClusterArn=arn, CurrentVersion=_cluster(client, arn)["CurrentVersion"], **arguments)
    assert _code(refused) == "BadRequestException"
    assert "UPDATING" in str(refused.value)
    assert _until_active(client, arn)[-1] == "ACTIVE"


def test_a_stale_current_version_is_refused(models: AwsModels) -> None:
    client, arn = _kafka()
    _until_active(client, arn)
    version = _cluster(client, arn)["CurrentVersion"]
    client.update_broker_count(ClusterArn=arn, CurrentVersion=version, TargetNumberOfBrokerNodes=6)
    _until_active(client, arn)
    with pytest.raises(ClientError, match="not the cluster's current version"):
        client.update_broker_count(
            ClusterArn=arn, CurrentVersion=version, TargetNumberOfBrokerNodes=9
        )
    assert _cluster(client, arn)["NumberOfBrokerNodes"] == 6


# --- Secrets Manager rotation ----------------------------------------------------------------


class Toy:
    """A minimal rotation function: a new random value, made current in finishSecret; any
    step can be told to fail a number of times."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}
        self.contexts: list[LambdaContext] = []
        self.environment: list[dict[str, str]] = []

    def __call__(self, event: dict[str, str], context: LambdaContext) -> None:
        import os  # noqa: PLC0415 (read inside the invocation, where Lambda's env is set)

        self.contexts.append(context)
        self.environment.append({k: os.environ.get(k, "") for k in ("AWS_REGION", "STAGE")})
        step, secret_id, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
        if self.failures.get(step, 0):
            self.failures[step] -= 1
            raise RuntimeError(f"{step} failed on purpose")
        secrets = boto3.client("secretsmanager")
        if step == "createSecret":
            try:
                secrets.get_secret_value(
                    SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING"
                )
            except ClientError:
                value = secrets.get_random_password(PasswordLength=32)["RandomPassword"]
                secrets.put_secret_value(
                    SecretId=secret_id,
                    ClientRequestToken=token,
                    SecretString=json.dumps({"password": value}),
                    VersionStages=["AWSPENDING"],
                )
        elif step == "finishSecret":
            stages = secrets.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
            current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
            secrets.update_secret_version_stage(
                SecretId=secret_id,
                VersionStage="AWSCURRENT",
                MoveToVersionId=token,
                RemoveFromVersionId=current,
            )


@pytest.fixture
def toy(models: AwsModels) -> tuple[Toy, RotationFunction]:
    function = Toy()
    registered = models.register_rotation_function(
        FUNCTION_ARN, function, timeout_seconds=60, environment={"STAGE": "test"}
    )
    return function, registered


def _secret() -> tuple[Any, str]:
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="token", SecretString=json.dumps({"password": OLD}))["ARN"]
    return client, str(arn)


def _rotate(client: Any, arn: str) -> str:
    version: str = client.rotate_secret(
        SecretId=arn, RotationLambdaARN=FUNCTION_ARN, RotationRules={"AutomaticallyAfterDays": 30}
    )["VersionId"]
    return version


def _stages(client: Any, arn: str) -> dict[str, list[str]]:
    stages: dict[str, list[str]] = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return stages


def test_rotation_invokes_the_four_steps_in_order(toy: tuple[Toy, RotationFunction]) -> None:
    function, registered = toy
    client, arn = _secret()

    version = _rotate(client, arn)

    assert registered.steps(version) == list(STEPS)
    assert _stages(client, arn)[version] == ["AWSCURRENT"], "AWSPENDING cleared when done"
    assert "AWSPREVIOUS" in next(s for v, s in _stages(client, arn).items() if v != version)
    assert client.describe_secret(SecretId=arn)["RotationEnabled"] is True
    assert function.environment[0] == {"AWS_REGION": REGION, "STAGE": "test"}
    assert function.contexts[0].get_remaining_time_in_millis() == 60_000
    _rotate(client, arn)  # a finished rotation does not block the next


def test_a_failing_step_restarts_the_whole_rotation_from_create_secret(
    toy: tuple[Toy, RotationFunction],
) -> None:
    function, registered = toy
    function.failures = {"testSecret": 1}
    client, arn = _secret()

    version = _rotate(client, arn)

    assert registered.steps(version) == [
        "createSecret",
        "setSecret",
        "testSecret",
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert {i.version_id for i in registered.invocations} == {version}, "same token"
    assert [i.attempt for i in registered.invocations if i.step == "createSecret"] == [1, 2]
    assert _stages(client, arn)[version] == ["AWSCURRENT"]


def test_attempts_are_bounded_and_leave_awspending_staged(
    toy: tuple[Toy, RotationFunction],
) -> None:
    function, registered = toy
    function.failures = {"setSecret": 1_000}
    client, arn = _secret()

    version = _rotate(client, arn)  # RotateSecret itself succeeds: rotation is asynchronous

    assert registered.steps(version).count("createSecret") == ROTATION_ATTEMPTS
    assert "finishSecret" not in registered.steps(version)
    assert _stages(client, arn)[version] == ["AWSPENDING"]
    current = client.get_secret_value(SecretId=arn)["SecretString"]
    assert json.loads(current)["password"] == OLD, "AWSCURRENT untouched"


def test_rotate_secret_is_refused_while_a_rotation_is_incomplete(
    toy: tuple[Toy, RotationFunction],
) -> None:
    function, registered = toy
    function.failures = {"finishSecret": 1_000}
    client, arn = _secret()
    _rotate(client, arn)
    invoked = len(registered.invocations)

    with pytest.raises(ClientError) as refused:
        _rotate(client, arn)
    assert _code(refused) == "InvalidRequestException"
    assert refused.value.response["Error"]["Message"] == INCOMPLETE
    assert len(registered.invocations) == invoked, "the function was not invoked again"


def test_rotate_secret_needs_a_rotation_function(models: AwsModels) -> None:
    client, arn = _secret()
    with pytest.raises(ClientError) as refused:
        client.rotate_secret(SecretId=arn)
    assert _code(refused) == "InvalidRequestException"


def test_waiting_uses_up_the_invocation_budget_in_virtual_time(models: AwsModels) -> None:
    """A step that polls with a boto3 waiter costs virtual seconds, not real ones; one that
    runs past the function's timeout fails like a timed-out Lambda."""
    client = _cache()
    _auth(client, NEW, "ROTATE")
    remaining: list[int] = []

    def waits(event: dict[str, str], context: LambdaContext) -> None:
        remaining.append(context.get_remaining_time_in_millis())
        boto3.client("elasticache").get_waiter("replication_group_available").wait(
            ReplicationGroupId=GROUP, WaiterConfig={"Delay": 15, "MaxAttempts": 10}
        )
        remaining.append(context.get_remaining_time_in_millis())

    registered = models.register_rotation_function(FUNCTION_ARN, waits, timeout_seconds=20)
    secrets, arn = _secret()
    _rotate(secrets, arn)

    assert remaining[:2] == [20_000, 0], "two polls of 15 s used up a 20 s budget"
    assert registered.invocations[0].error == "Task timed out after 20 seconds"


def test_rotate_immediately_false_only_tests_and_removes_the_pending_version(
    toy: tuple[Toy, RotationFunction],
) -> None:
    _, registered = toy
    client, arn = _secret()
    version = client.rotate_secret(
        SecretId=arn, RotationLambdaARN=FUNCTION_ARN, RotateImmediately=False
    )["VersionId"]
    assert registered.steps() == ["testSecret"]
    assert version not in _stages(client, arn)


# --- a moto server in this process ---------------------------------------------------------


def test_the_models_serve_a_threaded_moto_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        with installed():
            client = boto3.client(
                "elasticache", region_name=REGION, endpoint_url=f"http://{host}:{port}"
            )
            client.create_replication_group(
                ReplicationGroupId=GROUP,
                ReplicationGroupDescription="online store",
                CacheNodeType="cache.r7g.large",
                TransitEncryptionEnabled=True,
                AuthToken=OLD,
            )
            assert _auth(client, NEW, "ROTATE")["Status"] == "modifying"
            assert _settle(client) == ["modifying", "modifying", "available"]
    finally:
        server.stop()


# --- the local deploy ------------------------------------------------------------------------


def test_the_local_deploy_runs_under_the_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """``blueprint up --local`` (engine.deploy) captures the program with the models in moto."""
    from blueprint.local import engine  # noqa: PLC0415 (imports Pulumi; only this test needs it)
    from blueprint.local.target import AwsTarget  # noqa: PLC0415

    patched: list[bool] = []

    def capture(*args: Any, **kwargs: Any) -> Any:
        patched.append(SecretsManagerResponse.rotate_secret is not MOTO_ROTATE_SECRET)
        return None

    monkeypatch.setattr(engine, "capture", capture)
    engine.deploy(Path(), "dev", AwsTarget(region=REGION))
    assert patched == [True]
    assert SecretsManagerResponse.rotate_secret is MOTO_ROTATE_SECRET, "removed afterwards"
