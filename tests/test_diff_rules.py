"""The replacement rules as data (``blueprint/diff/data``): complete for the stacks, named as
the installed pulumi-aws SDK names its inputs, and right on representative changes.

A type the stacks register without a ForceNew table would make ``blueprint diff`` lenient:
an update there may really be a replacement. A path the SDK does not have (a snake_case
slip, a Terraform name pulumi-aws renames) would silently never match. Both fail here.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
import yaml

from blueprint.capture import Plan, PlannedResource
from blueprint.checkov import tfplan
from blueprint.diff.compare import compare
from blueprint.diff.rules import FORCE_NEW_FILE, TypeRules, load
from tests.conftest import (
    STACKS,
    bootstrap_plan,
    planned_resource,
    stack_plan,
    synthetic_plan,
)

COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _aws_types_registered() -> set[str]:
    return {
        r.type
        for stack in STACKS
        for plan in (stack_plan(stack), bootstrap_plan(stack))  # bootstrap/ too
        for r in plan.resources
        if r.custom and r.type.startswith("aws:")
    }


# --- completeness ------------------------------------------------------------------------------


def test_every_aws_type_the_stacks_register_has_a_force_new_entry() -> None:
    rules = load()
    missing = sorted(_aws_types_registered() - set(rules.types))
    assert missing == [], f"no ForceNew entry in {FORCE_NEW_FILE.name}: {missing}"
    assert not (_aws_types_registered() & rules.not_derived)


def test_each_entry_cites_its_file_and_version() -> None:
    entries: dict[str, dict[str, Any]] = yaml.safe_load(FORCE_NEW_FILE.read_text())["types"]
    for type_, entry in entries.items():
        assert entry["file"].startswith("internal/service/"), type_
        assert entry["terraform"].startswith("aws_"), type_
        # A commit, or the stored version's index id when the index named no commit.
        assert COMMIT.match(entry.get("commit", "")) or entry.get("indexId", "").isdigit(), type_
        assert "forceNew" in entry, f"{type_}: an empty list says 'read, none found'"


# --- names as the SDK has them -----------------------------------------------------------------


@cache
def sdk_inputs(type_: str) -> frozenset[str]:
    """Every input path (dotted, no indices) of a pulumi-aws resource type, read from the
    installed SDK the way the checkov translation reads it."""
    args = tfplan.resource_args(type_)
    assert args is not None, f"{type_}: no Args type in the installed SDK"
    paths: set[str] = set()

    def walk(cls: type, prefix: str) -> None:
        for name, prop in tfplan.properties(cls).items():
            path = f"{prefix}.{name}" if prefix else name
            paths.add(path)
            if prop.args is not None and path.count(".") < 5:
                walk(prop.args, path)

    walk(args, "")
    return frozenset(paths)


def _rule_paths(rules: TypeRules) -> set[str]:
    notes = {p.strip() for entry in rules.customize_diff for p in entry.split(":", 1)[0].split(",")}
    return {*rules.force_new, *rules.force_new_blocks, *notes}


@pytest.mark.parametrize("type_", sorted(load().types))
def test_force_new_paths_are_inputs_of_the_installed_sdk(type_: str) -> None:
    unknown = sorted(_rule_paths(load().types[type_]) - sdk_inputs(type_))
    assert unknown == [], f"{type_}: not inputs of the pulumi-aws SDK: {unknown}"


def test_region_is_force_new_exactly_where_the_sdk_has_region() -> None:
    rules = load()
    assert {t for t in rules.types if "region" in rules.types[t].force_new} == {
        t for t in rules.types if "region" in sdk_inputs(t)
    }


# --- representative changes on synthetic plans -------------------------------------------------

VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
LAMBDA = "aws:lambda/function:Function"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
MSK = "aws:msk/cluster:Cluster"

ENDPOINT: dict[str, Any] = {
    "vpcId": "vpc-1",
    "serviceName": "com.amazonaws.eu-central-1.sts",
    "vpcEndpointType": "Interface",
    "securityGroupIds": ["sg-1"],
    "privateDnsEnabled": True,
}
GROUP: dict[str, Any] = {
    "vpcId": "vpc-1",
    "description": "MSK brokers: SASL/IAM over TLS",
    "tags": {"a": "1"},
}
FUNCTION: dict[str, Any] = {
    "role": "arn:aws:iam::1:role/r",
    "runtime": "python3.12",
    "memorySize": 256,
}


CACHE_USER = "aws:elasticache/user:User"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
TEAM_USER: dict[str, Any] = {
    "userId": "fp-dev-search-0123456789",
    "userName": "fp-dev-search-0123456789",
    "engine": "valkey",
    "accessString": "on ~search:a:* -@all +@read",
    "authenticationMode": {"type": "iam"},
}
DEFAULT_USER: dict[str, Any] = {
    "userId": "fp-dev-default",
    "userName": "default",
    "engine": "valkey",
    "accessString": "on ~* &* +@all -@dangerous",
    "passwordsWo": "p" * 16,
    "passwordsWoVersion": 1,
}
GROUP_OF_USERS: dict[str, Any] = {
    "userGroupId": "fp-dev-online",
    "engine": "valkey",
    "userIds": ["fp-dev-default"],
}
TOKEN_GROUP: dict[str, Any] = {
    "replicationGroupId": "feature-platform-dev-online",
    "engine": "valkey",
    "transitEncryptionEnabled": True,
    "authTokenWo": "t" * 32,
    "authTokenWoVersion": 1,
}
RBAC_CHANGE: dict[str, Any] = {
    "authTokenWo": None,
    "authTokenWoVersion": None,
    "userGroupIds": ["fp-dev-online"],
    "authTokenUpdateStrategy": "DELETE",
}


def _resource(name: str, type_: str, inputs: dict[str, Any], **options: Any) -> PlannedResource:
    return planned_resource(name, type_, inputs=inputs, **options)


_plan = synthetic_plan


def _judge(type_: str, old: dict[str, Any], new: dict[str, Any]) -> tuple[str, list[str]]:
    (change,) = compare(
        _plan(_resource("r", type_, old)), _plan(_resource("r", type_, new))
    ).resources
    return change.action, [str(r) for r in change.reasons]


@pytest.mark.parametrize(
    ("type_", "old", "change", "action", "reason"),
    [
        # fail: the change makes a new resource
        (VPC_ENDPOINT, ENDPOINT, {"serviceName": "com.amazonaws.eu-central-1.kms"}, "replace",
         "serviceName (ForceNew serviceName)"),
        (VPC_ENDPOINT, ENDPOINT, {"vpcEndpointType": "Gateway"}, "replace",
         "vpcEndpointType (ForceNew vpcEndpointType)"),
        (SECURITY_GROUP, GROUP, {"description": "MSK brokers: reworded"}, "replace",
         "description (ForceNew description)"),
        (LAMBDA, FUNCTION, {"region": "eu-west-1"}, "replace", "region (ForceNew region)"),
        (SECRET_VERSION, {"secretId": "s", "secretStringWoVersion": 1},
         {"secretStringWoVersion": 2}, "replace",
         "secretStringWoVersion (ForceNew secretStringWoVersion)"),
        # pass: the same resource, updated in place
        (VPC_ENDPOINT, ENDPOINT, {"securityGroupIds": ["sg-1", "sg-2"]}, "update", None),
        (SECURITY_GROUP, GROUP, {"tags": {"a": "2"}}, "update", None),
        (LAMBDA, FUNCTION, {"memorySize": 512}, "update", None),
        (LAMBDA, FUNCTION, {"runtime": "python3.13"}, "update", None),
        (SECRET_VERSION, {"secretId": "s", "secretStringWo": "a"}, {"secretStringWo": "b"},
         "same", None),
        # ElastiCache RBAC: ids and names are new users and groups; the rest is Modify*
        (CACHE_USER, TEAM_USER, {"userId": "fp-dev-search-1111111111"}, "replace",
         "userId (ForceNew userId)"),
        (CACHE_USER, DEFAULT_USER, {"userName": "platform"}, "replace",
         "userName (ForceNew userName)"),
        (USER_GROUP, GROUP_OF_USERS, {"engine": "redis"}, "replace", "engine (ForceNew engine)"),
        (USER_GROUP, GROUP_OF_USERS, {"userGroupId": "fp-dev-new"}, "replace",
         "userGroupId (physical name)"),
        (CACHE_USER, TEAM_USER, {"engine": "redis"}, "update", None),
        (CACHE_USER, TEAM_USER, {"accessString": "on ~search:b:* -@all +@read"}, "update", None),
        (CACHE_USER, DEFAULT_USER, {"passwordsWo": "q" * 16}, "same", None),
        (CACHE_USER, DEFAULT_USER, {"passwordsWoVersion": 2}, "update", None),
        (USER_GROUP, GROUP_OF_USERS, {"userIds": ["fp-dev-default", "fp-dev-x"]}, "update", None),
        # the replication group's move from an AUTH token to the user group: in place
        (REPLICATION_GROUP, TOKEN_GROUP, RBAC_CHANGE, "update", None),
        (REPLICATION_GROUP, {**TOKEN_GROUP, **RBAC_CHANGE}, {"userGroupIds": ["fp-dev-new"]},
         "update", None),
        (REPLICATION_GROUP, {**TOKEN_GROUP, **RBAC_CHANGE}, {"authTokenUpdateStrategy": "SET"},
         "update", None),
    ],
)  # fmt: skip
def test_representative_changes(
    type_: str, old: dict[str, Any], change: dict[str, Any], action: str, reason: str | None
) -> None:
    found, reasons = _judge(type_, old, {**old, **change})
    assert found == action
    assert reasons == ([reason] if reason else [])


def test_a_value_dependent_replacement_is_a_note_not_a_verdict() -> None:
    gateway = {**ENDPOINT, "vpcEndpointType": "Gateway", "serviceName": "com.amazonaws.x.s3"}
    (change,) = compare(
        _plan(_resource("e", VPC_ENDPOINT, gateway)),
        _plan(_resource("e", VPC_ENDPOINT, {**gateway, "privateDnsEnabled": False})),
    ).resources
    assert change.action == "update"
    assert change.notes == [
        "may also be replaced by the provider: privateDnsEnabled: replaced when changed on an "
        "endpoint that is not of type Interface (the S3 Gateway endpoint)"
    ]


def test_moving_a_token_group_to_rbac_names_its_runbook_and_later_changes_do_not() -> None:
    (moved,) = compare(
        _plan(_resource("g", REPLICATION_GROUP, TOKEN_GROUP)),
        _plan(_resource("g", REPLICATION_GROUP, {**TOKEN_GROUP, **RBAC_CHANGE})),
    ).resources
    assert moved.action == "update" and not moved.blocking
    (note,) = moved.notes
    assert note.startswith("needs a procedure: the online store moves to RBAC users")
    assert "rotate-online-store-token.md#moving-a-stack-from-the-auth-token" in note
    rbac = {**TOKEN_GROUP, **RBAC_CHANGE}
    (later,) = compare(
        _plan(_resource("g", REPLICATION_GROUP, rbac)),
        _plan(_resource("g", REPLICATION_GROUP, {**rbac, "userGroupIds": ["fp-dev-new"]})),
    ).resources
    assert later.action == "update" and later.notes == []


def test_a_replaced_log_group_blocks_and_a_retention_change_does_not() -> None:
    group = {"name": "/aws/eks/c/cluster", "retentionInDays": 30}
    renamed = compare(
        _plan(_resource("l", LOG_GROUP, group)),
        _plan(_resource("l", LOG_GROUP, {**group, "name": "/aws/eks/d/cluster"})),
    )
    assert [(r.action, r.blocking) for r in renamed.resources] == [("replace", True)]
    kept = compare(
        _plan(_resource("l", LOG_GROUP, group)),
        _plan(_resource("l", LOG_GROUP, {**group, "retentionInDays": 90})),
    )
    assert [(r.action, r.blocking) for r in kept.resources] == [("update", False)]


def test_a_reworded_security_group_replaces_the_brokers_that_use_it() -> None:
    """The group's new ID reaches the cluster's ForceNew brokerNodeGroupInfo.securityGroups."""
    group_id = "sg-0123456789abcdef0"

    def plan(description: str) -> Plan:
        group = _resource("sg", SECURITY_GROUP, {**GROUP, "description": description})
        group.id = group_id
        cluster = _resource(
            "k",
            MSK,
            {"brokerNodeGroupInfo": {"securityGroups": [group_id], "instanceType": "m7g.large"}},
            property_dependencies={"brokerNodeGroupInfo": [group.urn]},
        )
        return _plan(group, cluster)

    diff = compare(plan(GROUP["description"]), plan("MSK brokers: reworded"))
    actions = {r.type: (r.action, r.blocking) for r in diff.resources}
    assert actions == {SECURITY_GROUP: ("replace", False), MSK: ("replace", True)}
    (cluster,) = (r for r in diff.resources if r.type == MSK)
    assert [str(r) for r in cluster.reasons] == [
        "brokerNodeGroupInfo.securityGroups[0] (ForceNew brokerNodeGroupInfo.securityGroups)"
    ]
