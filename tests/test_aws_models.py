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
from tests.conftest import create_rbac_group

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
    with pytest.raises(ClientError) as refused:
        client.modify_replication_group(
            ReplicationGroupId=GROUP,
            AuthTokenUpdateStrategy="DELETE",
            UserGroupIdsToAdd=["no-such-group"],
            ApplyImmediately=True,
        )
    assert _code(refused) == "UserGroupNotFound"
    _user_group(client)
    client.modify_replication_group(
        ReplicationGroupId=GROUP,
        AuthTokenUpdateStrategy="DELETE",
        UserGroupIdsToAdd=[USER_GROUP],
        ApplyImmediately=True,
    )
    group = models.replication_group(GROUP, region=REGION)
    assert group.accepts(OLD) and not group.accepts(NEW), "applies when modifying ends"
    _settle(client)
    assert group.tokens == [] and group.user_group_ids == [USER_GROUP]
    assert group.accepts(NEW) and not group.accepts(OLD), "now the default user's password"
    (described,) = client.describe_user_groups(UserGroupId=USER_GROUP)["UserGroups"]
    assert described["ReplicationGroups"] == [GROUP]


# --- ElastiCache RBAC: users and user groups ---------------------------------------------------

USER = "fp-dev-default"
USER_GROUP = "fp-dev-online-store"
TEAM = "fpt-search-3fa9c1d2e4"
ACCESS = "on ~* &* +@all -@dangerous"


def _user(client: Any, passwords: list[str] | None = None, **overrides: Any) -> None:
    request: dict[str, Any] = {
        "UserId": USER,
        "UserName": "default",
        "Engine": "valkey",
        "AccessString": ACCESS,
        "Passwords": [NEW] if passwords is None else passwords,
        **overrides,
    }
    client.create_user(**{k: v for k, v in request.items() if v is not None})


def _team_user(client: Any) -> None:
    client.create_user(
        UserId=TEAM,
        UserName=TEAM,
        Engine="valkey",
        AccessString="on ~search:* -@all +@read",
        AuthenticationMode={"Type": "iam"},
    )


def _user_status(client: Any, user_id: str = USER) -> str:
    return str(client.describe_users(UserId=user_id)["Users"][0]["Status"])


def _user_group(client: Any, user_ids: list[str] | None = None) -> dict[str, Any]:
    """A user group made active (with the default user unless told otherwise)."""
    if user_ids is None:
        _user(client)
        user_ids = [USER]
    client.create_user_group(UserGroupId=USER_GROUP, Engine="valkey", UserIds=user_ids)
    while True:
        (group,) = client.describe_user_groups(UserGroupId=USER_GROUP)["UserGroups"]
        if group["Status"] == "active":
            return dict(group)


def _rbac_cache(client: Any) -> None:
    _user_group(client)
    create_rbac_group(client, GROUP, USER_GROUP)


def test_a_group_with_a_user_group_accepts_the_default_users_passwords(
    models: AwsModels,
) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    _rbac_cache(client)
    _team_user(client)
    group = models.replication_group(GROUP, region=REGION)
    assert group.accepts(NEW) and not group.accepts(OLD)
    assert group.default_user() is models.user(USER, region=REGION)
    client.modify_user(UserId=USER, Passwords=[NEW, NEWER])
    assert _user_status(client) == "modifying"
    assert group.accepts(NEW) and not group.accepts(NEWER), "applies when modifying ends"
    while _user_status(client) != "active":
        pass
    assert group.accepts(NEW) and group.accepts(NEWER), "both passwords work meanwhile"
    client.modify_user(UserId=USER, Passwords=[NEWER])
    while _user_status(client) != "active":
        pass
    assert group.accepts(NEWER) and not group.accepts(NEW), "the previous one is retired"
    (user,) = client.describe_users(UserId=USER)["Users"]
    assert user["Authentication"] == {"Type": "password", "PasswordCount": 1}
    assert user["UserGroupIds"] == [USER_GROUP] and user["AccessString"] == ACCESS
    assert models.user(USER, region=REGION).seen.count("modifying") == 4


def test_modify_user_while_modifying_is_refused(models: AwsModels) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    _user(client)
    client.modify_user(UserId=USER, Passwords=[NEW, NEWER])
    with pytest.raises(ClientError) as refused:
        client.modify_user(UserId=USER, Passwords=[NEWER])
    assert _code(refused) == "InvalidUserState"
    assert isinstance(refused.value, client.exceptions.InvalidUserStateFault)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _user_status(client) == "modifying"
    assert _user_status(client) == "modifying"
    assert _user_status(client) == "active"
    client.modify_user(UserId=USER, Passwords=[NEWER])


@pytest.mark.parametrize(
    ("passwords", "problem"),
    [
        ([OLD, NEW, NEWER], "1 to 2 passwords"),
        (["s" * 15], "16-128 characters"),
        (["s" * 129], "16-128 characters"),
        (["has,a,comma,in,it,too"], "','"),
        (["has-an-at-sign-@-in-it"], "'@'"),
        (["has a space in it sadly"], "' '"),
    ],
)
def test_password_rules_apply_on_create_and_modify(
    models: AwsModels, passwords: list[str], problem: str
) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    with pytest.raises(ClientError) as refused:
        _user(client, passwords)
    assert _code(refused) == "InvalidParameterValue" and problem in str(refused.value)
    _user(client)
    with pytest.raises(ClientError) as refused:
        client.modify_user(UserId=USER, Passwords=passwords)
    assert _code(refused) == "InvalidParameterValue" and problem in str(refused.value)
    assert _user_status(client) == "active", "a refused modification changes nothing"


def test_iam_users_have_no_password_and_their_name_is_their_id(models: AwsModels) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    with pytest.raises(ClientError) as refused:
        client.create_user(
            UserId=TEAM,
            UserName="search",
            Engine="valkey",
            AccessString="on ~search:* +@read",
            AuthenticationMode={"Type": "iam"},
        )
    assert _code(refused) == "InvalidParameterValue"
    _team_user(client)
    assert client.describe_users(UserId=TEAM)["Users"][0]["Authentication"]["Type"] == "iam"
    with pytest.raises(ClientError) as refused:
        client.modify_user(UserId=TEAM, Passwords=[NEW])
    assert _code(refused) == "InvalidParameterCombination"
    assert not models.user(TEAM, region=REGION).accepts(NEW)


def test_modify_user_of_an_unknown_user_is_refused(models: AwsModels) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    with pytest.raises(ClientError) as refused:
        client.modify_user(UserId="nobody", Passwords=[NEW])
    assert _code(refused) == "UserNotFound"


def test_a_user_group_is_creating_then_active(models: AwsModels) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    _user(client)
    answer = client.create_user_group(UserGroupId=USER_GROUP, Engine="valkey", UserIds=[USER])
    assert answer["Status"] == "creating" and answer["UserIds"] == [USER]
    assert answer["ARN"].endswith(f":usergroup:{USER_GROUP}")
    seen = [
        client.describe_user_groups(UserGroupId=USER_GROUP)["UserGroups"][0]["Status"]
        for _ in range(3)
    ]
    assert seen == ["creating", "creating", "active"]
    with pytest.raises(ClientError) as refused:
        client.create_user_group(UserGroupId=USER_GROUP, Engine="valkey", UserIds=[USER])
    assert _code(refused) == "UserGroupAlreadyExists"


@pytest.mark.parametrize(
    ("members", "code"),
    [
        (["nobody"], "UserNotFound"),
        ([TEAM], "DefaultUserRequired"),
        ([USER, "default"], "DuplicateUserName"),  # ours and AWS's own, both named default
    ],
)
def test_a_user_group_needs_known_users_and_one_default(
    models: AwsModels, members: list[str], code: str
) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    _user(client)
    _team_user(client)
    with pytest.raises(ClientError) as refused:
        client.create_user_group(UserGroupId=USER_GROUP, Engine="valkey", UserIds=members)
    assert _code(refused) == code


def test_modify_user_group_passes_through_modifying_and_keeps_a_default(
    models: AwsModels,
) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    _user_group(client)
    _team_user(client)
    answer = client.modify_user_group(UserGroupId=USER_GROUP, UserIdsToAdd=[TEAM])
    assert answer["Status"] == "modifying"
    assert answer["PendingChanges"] == {"UserIdsToAdd": [TEAM]}
    with pytest.raises(ClientError) as refused:
        client.modify_user_group(UserGroupId=USER_GROUP, UserIdsToRemove=[TEAM])
    assert _code(refused) == "InvalidUserGroupState"
    assert models.user_group(USER_GROUP, region=REGION).user_ids == [USER]
    _user_group_settle(client)
    assert models.user_group(USER_GROUP, region=REGION).user_ids == [USER, TEAM]
    with pytest.raises(ClientError) as refused:
        client.modify_user_group(UserGroupId=USER_GROUP, UserIdsToRemove=[USER])
    assert _code(refused) == "DefaultUserRequired"
    with pytest.raises(ClientError) as refused:
        client.modify_user_group(UserGroupId=USER_GROUP, UserIdsToAdd=["nobody"])
    assert _code(refused) == "UserNotFound"
    client.modify_user_group(UserGroupId=USER_GROUP, UserIdsToRemove=[TEAM])
    _user_group_settle(client)
    assert models.user_group(USER_GROUP, region=REGION).user_ids == [USER]


def _user_group_settle(client: Any) -> None:
    while client.describe_user_groups(UserGroupId=USER_GROUP)["UserGroups"][0]["Status"] != (
        "active"
    ):
        pass


def test_a_replication_group_needs_an_active_user_group_and_tls(models: AwsModels) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    _user(client)
    client.create_user_group(UserGroupId=USER_GROUP, Engine="valkey", UserIds=[USER])
    request: dict[str, Any] = {
        "ReplicationGroupId": GROUP,
        "ReplicationGroupDescription": "online store",
        "Engine": "valkey",
        "CacheNodeType": "cache.r7g.large",
        "TransitEncryptionEnabled": True,
        "UserGroupIds": [USER_GROUP],
    }
    with pytest.raises(ClientError) as refused:
        client.create_replication_group(**request)
    assert _code(refused) == "InvalidUserGroupState", "still creating"
    _user_group_settle(client)
    for change, code in (
        ({"UserGroupIds": ["no-such-group"]}, "UserGroupNotFound"),
        ({"UserGroupIds": [USER_GROUP, USER_GROUP]}, "InvalidParameterValue"),
        ({"TransitEncryptionEnabled": False}, "InvalidParameterCombination"),
        ({"AuthToken": OLD}, "InvalidParameterCombination"),
    ):
        with pytest.raises(ClientError) as refused:
            client.create_replication_group(**{**request, **change})
        assert _code(refused) == code, change
    client.create_replication_group(**request)
    with pytest.raises(ClientError) as refused:
        _auth(client, NEWER, "ROTATE")
    assert _code(refused) == "InvalidParameterCombination", "no AUTH token beside RBAC"


def test_users_and_groups_in_use_are_not_deleted(models: AwsModels) -> None:
    client = boto3.client("elasticache", region_name=REGION)
    _rbac_cache(client)
    with pytest.raises(ClientError) as refused:
        client.delete_user_group(UserGroupId=USER_GROUP)
    assert _code(refused) == "InvalidUserGroupState"
    with pytest.raises(ClientError) as refused:
        client.delete_user(UserId=USER)
    assert _code(refused) == "DefaultUserAssociatedToUserGroup"
    _team_user(client)
    client.delete_user(UserId=TEAM)


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
