"""KMS: one rotated key per purpose, explicit key policies, deletion windows per environment."""

from __future__ import annotations

import pytest

from blueprint.capture import Plan
from components.encryption import KEY_USAGE_ACTIONS, KeyPurpose
from tests.conftest import as_list, policy, stack_config, statements

KEY = "aws:kms/key:Key"


def test_one_key_per_purpose_with_an_alias(plan: Plan) -> None:
    keys = plan.of_type(KEY)
    assert sorted(k.inputs["tags"]["purpose"] for k in keys) == sorted(p.value for p in KeyPurpose)
    aliases = {
        a.inputs["name"]: a.inputs["targetKeyId"] for a in plan.of_type("aws:kms/alias:Alias")
    }
    for key in keys:
        alias = f"alias/feature-platform-{plan.stack}-{key.inputs['tags']['purpose']}"
        assert aliases[alias] == key.outputs["keyId"]


def test_keys_rotate_and_keep_the_configured_deletion_window(plan: Plan) -> None:
    window = stack_config(plan.stack).kms.deletion_window_days
    for key in plan.of_type(KEY):
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] == window
        assert key.inputs["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"


def test_prod_keys_have_the_longest_deletion_window(prod: Plan) -> None:
    assert {k.inputs["deletionWindowInDays"] for k in prod.of_type(KEY)} == {30}


def test_no_key_policy_allows_everyone_or_every_kms_action(plan: Plan) -> None:
    for key in plan.of_type(KEY):
        for statement in policy(key)["Statement"]:
            assert statement["Principal"] != "*", key.name
            assert "kms:*" not in as_list(statement["Action"]), key.name
            assert "*" not in as_list(statement["Action"]), key.name


def test_key_admin_role_administers_but_cannot_use_the_keys(plan: Plan) -> None:
    admin = stack_config(plan.stack).kms.key_admin_role_arn
    for key in plan.of_type(KEY):
        admin_statements = [
            s for s in policy(key)["Statement"] if admin in as_list(s["Principal"].get("AWS", []))
        ]
        (statement,) = admin_statements
        granted = set(statement["Action"])
        assert "kms:PutKeyPolicy" in granted and "kms:ScheduleKeyDeletion" in granted
        assert not granted & {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}


def test_the_deployer_uses_every_key_but_never_administers_one(plan: Plan) -> None:
    deployer = stack_config(plan.stack).aws.assume_role_arn
    for key in plan.of_type(KEY):
        granted = statements(policy(key))
        use, grants = granted["DeployerUse"], granted["DeployerGrantsForAwsResources"]
        for statement in (use, grants):
            assert as_list(statement["Principal"]["AWS"]) == [deployer]
        assert set(as_list(use["Action"])) == set(KEY_USAGE_ACTIONS)
        # Grants only to AWS services acting on resources it creates, never to a person.
        assert as_list(grants["Action"]) == ["kms:CreateGrant"]
        assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
        mine = [
            s
            for s in policy(key)["Statement"]
            if deployer in as_list(s["Principal"].get("AWS", []))
        ]
        assert not {a for s in mine for a in as_list(s["Action"])} & {
            "kms:PutKeyPolicy",
            "kms:ScheduleKeyDeletion",
            "kms:DisableKey",
        }


def test_only_the_logs_key_trusts_cloudwatch_logs_and_only_for_this_account(plan: Plan) -> None:
    config = stack_config(plan.stack)
    for key in plan.of_type(KEY):
        by_sid = statements(policy(key))
        if key.inputs["tags"]["purpose"] == KeyPurpose.LOGS:
            logs = by_sid["CloudWatchLogs"]
            assert logs["Principal"] == {"Service": f"logs.{config.aws.region}.amazonaws.com"}
            assert set(logs["Action"]) == set(KEY_USAGE_ACTIONS)
            assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
                f"arn:aws:logs:{config.aws.region}:{config.aws.account_id}:log-group:*"
            )
        else:
            assert "CloudWatchLogs" not in by_sid


def test_only_the_data_key_lets_auto_scaling_encrypt_node_volumes(plan: Plan) -> None:
    account = stack_config(plan.stack).aws.account_id
    service_role = (
        f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    for key in plan.of_type(KEY):
        by_sid = statements(policy(key))
        if key.inputs["tags"]["purpose"] != KeyPurpose.DATA:
            assert not {"AutoScalingVolumes", "AutoScalingVolumeGrants"} & set(by_sid)
            continue
        use, grants = by_sid["AutoScalingVolumes"], by_sid["AutoScalingVolumeGrants"]
        assert use["Principal"] == grants["Principal"] == {"AWS": service_role}
        assert set(use["Action"]) == set(KEY_USAGE_ACTIONS)
        # Grants only for AWS resources (the volumes), never for an arbitrary grantee.
        assert grants["Action"] == "kms:CreateGrant"
        assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_account_delegation_names_this_account_only(plan: Plan) -> None:
    account = stack_config(plan.stack).aws.account_id
    for key in plan.of_type(KEY):
        delegation = statements(policy(key))["AccountIamDelegation"]
        assert delegation["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}


@pytest.mark.parametrize("stack_fixture", ["dev", "prod"])
def test_keys_are_protected_exactly_when_config_says(
    stack_fixture: str, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(stack_fixture)
    expected = stack_config(plan.stack).protection.protect_stateful
    assert {(k.protect, k.retain_on_delete) for k in plan.of_type(KEY)} == {(expected, expected)}
