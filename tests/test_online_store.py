"""The online store: TLS and RBAC users only, sized per environment, the platform user's password
rotated by Secrets Manager, the teams' users authenticated by IAM."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from typing import Any

import boto3
import pulumi
import pulumi_aws as aws
import pytest

from blueprint.capture import Plan, PlannedResource
from blueprint.diff.compare import compare
from components.cache_access import PLATFORM_ACCESS, CacheUser
from components.config import StackConfig
from components.config.models import PROD_MIN_SNAPSHOT_RETENTION_DAYS
from components.iam_documents import DATA_ACTIONS
from components.online_store import (
    AUTH_TOKEN_UPDATE_STRATEGY,
    CACHE_PORT,
    DEFAULT_USER_PASSWORD_VERSION,
    PASSWORD_VERSION,
    ROTATION_APIS,
    ROTATION_HANDLER_FILE,
    ROTATION_TIMEOUT_SECONDS,
    OnlineStore,
    OnlineStoreArgs,
)
from tests.conftest import as_list, policy, run_component, stack_config, statements

NAME = "online-store"
GROUP_ID = "feature-platform-dev-online"
VPC_ID = "vpc-0f1e2d3c4b5a69788"
VPC_CIDR = "10.10.0.0/16"
DATA_SUBNETS = ["subnet-0da7a000000000001", "subnet-0da7a000000000002"]
PRIVATE_SUBNETS = ["subnet-0b1a7e00000000001", "subnet-0b1a7e00000000002"]
CLIENT_SG = "sg-0c11e4700000000aa"
USER_GROUP_ID = "fp-dev-online-valkey"
DEFAULT_USER_ID = "fp-dev-default"
TEAM_USER = CacheUser(
    user_id="fpt-search-0123456789",
    access_string="on resetchannels ~search:a:* -@all +@read",
    tenant="search",
    workload="ranker",
    tags={"tenant": "search"},
)
USER = "aws:elasticache/user:User"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _key(config: StackConfig, purpose: str) -> str:
    return f"arn:aws:kms:{config.aws.region}:{config.aws.account_id}:key/{purpose}-0000"


def _build(config: StackConfig, *, multi_az: bool | None = None) -> Plan:
    def build() -> None:
        endpoints = {
            service: aws.ec2.VpcEndpoint(
                f"endpoint-{service}",
                vpc_id=VPC_ID,
                service_name=f"com.amazonaws.{config.aws.region}.{service}",
                vpc_endpoint_type="Interface",
            )
            for service in ROTATION_APIS
        }
        store = OnlineStore(
            NAME,
            OnlineStoreArgs(
                account_id=config.aws.account_id,
                region=config.aws.region,
                replication_group_id=GROUP_ID,
                user_group_id=USER_GROUP_ID,
                default_user_id=DEFAULT_USER_ID,
                team_users=(TEAM_USER,),
                settings=config.online_store,
                multi_az=config.data_stores.multi_az if multi_az is None else multi_az,
                vpc_id=VPC_ID,
                vpc_cidr=VPC_CIDR,
                data_subnet_ids=DATA_SUBNETS,
                private_subnet_ids=PRIVATE_SUBNETS,
                interface_endpoints=endpoints,
                client_security_group_id=CLIENT_SG,
                data_key_arn=_key(config, "data"),
                logs_key_arn=_key(config, "logs"),
                secrets_key_arn=_key(config, "secrets"),
                log_retention_days=config.logging.retention_days,
                recovery_window_days=config.secrets.recovery_window_days,
                permissions_boundary_arn=config.identity.permissions_boundary_arn,
                protect=config.protection.protect_stateful,
            ),
        )
        for key in (
            "replication_group_id",
            "replication_group_arn",
            "endpoint",
            "port",
            "auth_secret_arn",
            "security_group_id",
            "parameter_group_name",
            "rotation_function_arn",
            "rotation_security_group_id",
        ):
            pulumi.export(key, getattr(store, key))

    return run_component(build)


@cache
def _stack(stack: str) -> Plan:
    return _build(stack_config(stack))


@pytest.fixture(params=["dev", "prod"])
def env(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _group(plan: Plan) -> PlannedResource:
    return plan.named(GROUP, f"{NAME}-group")


def _cache_sg(plan: Plan) -> PlannedResource:
    return plan.named(SG, f"{NAME}-sg")


def _rotation_sg(plan: Plan) -> PlannedResource:
    return plan.named(SG, f"{NAME}-rotation-sg")


def _function(plan: Plan) -> PlannedResource:
    return plan.named(FUNCTION, f"{NAME}-rotation")


def _secret(plan: Plan) -> PlannedResource:
    return plan.named(SECRET, f"{NAME}-auth-secret")


def _role(plan: Plan) -> PlannedResource:
    return plan.named(ROLE, f"{NAME}-rotation-role")


def _rotation_statements(plan: Plan) -> dict[str, dict[str, Any]]:
    return statements(policy(plan.named(ROLE_POLICY, f"{NAME}-rotation-policy")))


def _params(plan: Plan) -> PlannedResource:
    (params,) = plan.of_type(PARAMS)
    return params


def _parameters(plan: Plan) -> dict[str, str]:
    return {p["name"]: p["value"] for p in _params(plan).inputs["parameters"]}


# --- encryption, users and the password -----------------------------------------------


def test_transit_encryption_is_required(env: str) -> None:
    group = _group(_stack(env)).inputs
    assert group["transitEncryptionEnabled"] is True
    assert group["transitEncryptionMode"] == "required"  # "preferred" still accepts plaintext
    assert group["port"] == CACHE_PORT


def test_at_rest_encryption_uses_the_data_key(env: str) -> None:
    group = _group(_stack(env)).inputs
    assert group["atRestEncryptionEnabled"] is True
    assert group["kmsKeyId"] == _key(stack_config(env), "data")


def _default_user(plan: Plan) -> PlannedResource:
    return plan.named(USER, f"{NAME}-default-user")


def test_password_reaches_the_default_user_and_secret_only_through_write_only_inputs(
    env: str,
) -> None:
    plan = _stack(env)
    user = _default_user(plan)
    password = user.inputs["passwordsWo"]
    assert len(password) == 64 and "passwordsWo" in user.secret_inputs
    # Secrets Manager holds the same password, encrypted with the secrets key.
    version = plan.named(SECRET_VERSION, f"{NAME}-auth-version")
    assert json.loads(version.inputs["secretStringWo"]) == {"password": password}
    assert "secretStringWo" in version.secret_inputs
    assert _secret(plan).inputs["kmsKeyId"] == _key(stack_config(env), "secrets")
    # Never a readable property; no other resource holds it (no generator resource), and
    # no resource's outputs (what the engine reads back into state) carry it.
    assert "passwords" not in user.inputs and "secretString" not in version.inputs
    holders = {r.urn for r in plan.resources if password in json.dumps(r.inputs, default=str)}
    assert holders == {user.urn, version.urn}
    assert not [r.urn for r in plan.resources if password in json.dumps(r.outputs, default=str)]
    assert not [r for r in plan.resources if r.type.startswith("random:")]


def test_write_only_outputs_never_carry_the_password(env: str) -> None:
    """The engine stores outputs in state: the bridge never reads a write-only value back."""
    plan = _stack(env)
    user, version = _default_user(plan), plan.named(SECRET_VERSION, f"{NAME}-auth-version")
    for resource, key in ((user, "passwords"), (version, "secretString")):
        assert resource.outputs.get(key) is None, resource.urn


def test_password_is_sent_once_with_its_version(env: str) -> None:
    assert _default_user(_stack(env)).inputs["passwordsWoVersion"] == DEFAULT_USER_PASSWORD_VERSION
    version = _stack(env).named(SECRET_VERSION, f"{NAME}-auth-version")
    # 1, as in the token era: a stack that had the token keeps its secret (the runbook moves it).
    assert version.inputs["secretStringWoVersion"] == PASSWORD_VERSION == 1


def test_the_group_authenticates_users_of_its_user_group_and_has_no_token(env: str) -> None:
    plan = _stack(env)
    group = _group(plan).inputs
    (user_group,) = plan.of_type(USER_GROUP)
    assert group["userGroupIds"] == [user_group.id] and user_group.id
    assert not {"authToken", "authTokenWo", "authTokenWoVersion"} & set(group)
    # A group that had a token loses it in the same call that adds the user group.
    assert group["authTokenUpdateStrategy"] == AUTH_TOKEN_UPDATE_STRATEGY == "DELETE"
    assert user_group.inputs["userGroupId"] == USER_GROUP_ID
    assert user_group.inputs["engine"] == group["engine"]


def test_the_user_group_holds_the_default_user_and_every_team_user(env: str) -> None:
    plan = _stack(env)
    (user_group,) = plan.of_type(USER_GROUP)
    assert user_group.inputs["userIds"] == [DEFAULT_USER_ID, TEAM_USER.user_id]
    default = _default_user(plan).inputs
    # AUTH <password> without a user name selects the user named "default".
    assert default["userName"] == "default" and default["userId"] == DEFAULT_USER_ID
    assert default["accessString"] == PLATFORM_ACCESS
    assert "-@dangerous" in PLATFORM_ACCESS.split()
    assert "authenticationMode" not in default  # a password user (passwordsWo)


def test_team_users_authenticate_by_iam_only(env: str) -> None:
    plan = _stack(env)
    (team,) = [u for u in plan.of_type(USER) if u.inputs["userId"] == TEAM_USER.user_id]
    assert team.inputs["authenticationMode"] == {"type": "iam"}
    # IAM authentication requires the user name to equal the id.
    assert team.inputs["userName"] == team.inputs["userId"]
    assert not {"passwords", "passwordsWo", "noPasswordRequired"} & set(team.inputs)
    assert team.inputs["accessString"] == TEAM_USER.access_string
    assert team.inputs["tags"] == {"tenant": "search"}
    assert team.delete_before_replace  # a fixed id


# --- sizing per environment -------------------------------------------------------------


def test_dev_is_a_single_node_without_failover() -> None:
    plan = _stack("dev")
    group = _group(plan).inputs
    assert group["clusterMode"] == "disabled"
    assert group["numCacheClusters"] == 1
    assert "numNodeGroups" not in group
    assert "replicasPerNodeGroup" not in group
    assert group["automaticFailoverEnabled"] is False
    assert group["multiAzEnabled"] is False
    assert _parameters(plan)["cluster-enabled"] == "no"
    assert plan.outputs["endpoint"] == _group(plan).outputs["primaryEndpointAddress"]


def test_prod_is_sharded_across_azs_with_failover() -> None:
    plan = _stack("prod")
    settings = stack_config("prod").online_store
    group = _group(plan).inputs
    assert group["clusterMode"] == "enabled"
    assert (group["numNodeGroups"], group["replicasPerNodeGroup"]) == (3, 2)
    assert (settings.shards, settings.replicas_per_shard) == (3, 2)
    assert "numCacheClusters" not in group  # conflicts with the shard arguments
    assert group["multiAzEnabled"] is True
    assert group["automaticFailoverEnabled"] is True
    assert _parameters(plan)["cluster-enabled"] == "yes"
    assert plan.outputs["endpoint"] == _group(plan).outputs["configurationEndpointAddress"]


def test_prod_keeps_its_data() -> None:
    plan = _stack("prod")
    group = _group(plan)
    assert group.inputs["snapshotRetentionLimit"] >= PROD_MIN_SNAPSHOT_RETENTION_DAYS
    assert group.inputs["finalSnapshotIdentifier"] == f"{GROUP_ID}-final"
    assert (group.protect, group.retain_on_delete) == (True, True)
    secret = _secret(plan)
    assert (secret.protect, secret.retain_on_delete) == (True, True)


def test_dev_is_unprotected_but_still_takes_a_final_snapshot() -> None:
    group = _group(_stack("dev"))
    assert (group.protect, group.retain_on_delete) == (False, False)
    assert group.inputs["finalSnapshotIdentifier"] == f"{GROUP_ID}-final"


def test_windows_and_upgrades_follow_config(env: str) -> None:
    settings = stack_config(env).online_store
    group = _group(_stack(env)).inputs
    assert group["snapshotWindow"] == settings.snapshot_window
    assert group["maintenanceWindow"] == settings.maintenance_window
    assert group["snapshotRetentionLimit"] == settings.snapshot_retention_days
    assert group["autoMinorVersionUpgrade"] is True
    assert group["applyImmediately"] is False


def test_multi_az_without_a_replica_is_refused() -> None:
    config = stack_config("dev")
    assert config.online_store.replicas_per_shard == 0
    with pytest.raises(ValueError, match="at least one replica per shard"):
        _build(config, multi_az=True)


# --- parameters and subnets -------------------------------------------------------------


def test_parameter_group_family_and_eviction_policy_come_from_config() -> None:
    config = stack_config("dev", onlineStore={"maxmemoryPolicy": "volatile-ttl"})
    plan = _build(config)
    params = _params(plan)
    assert params.inputs["family"] == "valkey8"
    assert _parameters(plan)["maxmemory-policy"] == "volatile-ttl"
    group = _group(plan).inputs
    assert group["parameterGroupName"] == params.outputs["name"]
    assert (group["engine"], group["engineVersion"]) == ("valkey", "8.0")
    assert group["nodeType"] == config.online_store.node_type


def test_profile_eviction_policy_reaches_the_cache(env: str) -> None:
    assert (
        _parameters(_stack(env))["maxmemory-policy"]
        == stack_config(env).online_store.maxmemory_policy.value
    )


def test_redis_engine_uses_its_own_family() -> None:
    plan = _build(stack_config("dev", onlineStore={"engine": "redis", "engineVersion": "7.1"}))
    assert _params(plan).inputs["family"] == "redis7"
    assert _group(plan).inputs["engine"] == "redis"


def test_nodes_live_in_the_data_subnets(env: str) -> None:
    plan = _stack(env)
    subnets = plan.named(SUBNET_GROUP, f"{NAME}-subnets")
    assert subnets.inputs["subnetIds"] == DATA_SUBNETS
    assert _group(plan).inputs["subnetGroupName"] == subnets.outputs["name"]


# --- network ----------------------------------------------------------------------------


def _rules(plan: Plan, type_: str, sg: PlannedResource) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.of_type(type_) if r.inputs["securityGroupId"] == sg.id]


def test_cache_accepts_6379_only_from_clients_and_the_rotation_function(env: str) -> None:
    plan = _stack(env)
    cache_sg, rotation_sg = _cache_sg(plan), _rotation_sg(plan)
    assert _group(plan).inputs["securityGroupIds"] == [cache_sg.id]
    assert "ingress" not in cache_sg.inputs and "egress" not in cache_sg.inputs  # no inline rules
    ingress = _rules(plan, INGRESS, cache_sg)
    assert sorted(r["referencedSecurityGroupId"] for r in ingress) == sorted(
        [CLIENT_SG, rotation_sg.id]
    )
    for rule in ingress:
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == (
            "tcp",
            CACHE_PORT,
            CACHE_PORT,
        )
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & rule.keys()
    assert _rules(plan, EGRESS, cache_sg) == []  # replies pass: security groups are stateful


def test_no_cidr_may_reach_the_cache_in_any_rule(env: str) -> None:
    plan = _stack(env)
    for rule in plan.of_type(INGRESS):
        assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs


def test_rotation_function_reaches_only_the_cache_and_https(env: str) -> None:
    plan = _stack(env)
    cache_sg, rotation_sg = _cache_sg(plan), _rotation_sg(plan)
    egress = {
        (r["fromPort"], r["toPort"], r.get("referencedSecurityGroupId") or r.get("cidrIpv4"))
        for r in _rules(plan, EGRESS, rotation_sg)
    }
    # Secrets Manager and ElastiCache both have interface endpoints: no internet egress.
    assert egress == {(CACHE_PORT, CACHE_PORT, cache_sg.id), (443, 443, VPC_CIDR)}
    assert _rules(plan, INGRESS, rotation_sg) == []


# --- logs -------------------------------------------------------------------------------


def test_slow_and_engine_logs_go_to_encrypted_groups(env: str) -> None:
    plan = _stack(env)
    config = stack_config(env)
    deliveries = _group(plan).inputs["logDeliveryConfigurations"]
    assert sorted(d["logType"] for d in deliveries) == ["engine-log", "slow-log"]
    groups = {g.outputs["name"]: g for g in plan.of_type(LOG_GROUP)}
    for delivery in deliveries:
        assert delivery["destinationType"] == "cloudwatch-logs"
        assert delivery["logFormat"] == "json"
        group = groups[delivery["destination"]]
        assert group.name == f"{NAME}-{delivery['logType']}"
        assert group.inputs["kmsKeyId"] == _key(config, "logs")
        assert group.inputs["retentionInDays"] == config.logging.retention_days


# --- rotation ---------------------------------------------------------------------------


def test_rotation_function_runs_the_handler_in_the_vpc(env: str) -> None:
    plan = _stack(env)
    config = stack_config(env)
    function = _function(plan)
    inputs = function.inputs
    assert (inputs["runtime"], inputs["handler"]) == ("python3.13", "handler.lambda_handler")
    # The bundle is exactly the handler file (captured as the engine's asset shapes).
    assert inputs["code"] == {"assets": {"handler.py": {"path": str(ROTATION_HANDLER_FILE)}}}
    assert inputs["environment"]["variables"] == {
        "REPLICATION_GROUP_ID": _group(plan).id,
        "USER_ID": DEFAULT_USER_ID,
    }
    assert inputs["vpcConfig"] == {
        "subnetIds": PRIVATE_SUBNETS,
        "securityGroupIds": [_rotation_sg(plan).id],
    }
    assert inputs["kmsKeyArn"] == _key(config, "secrets")
    # No reservation: it fails in accounts with little concurrency, and Secrets Manager
    # already refuses a second rotation while one is pending.
    assert "reservedConcurrentExecutions" not in inputs
    # setSecret/finishSecret wait for the group inside the step: Lambda's maximum.
    assert inputs["timeout"] == ROTATION_TIMEOUT_SECONDS == 900
    logs = plan.named(LOG_GROUP, f"{NAME}-rotation-logs")
    assert inputs["loggingConfig"]["logGroup"] == logs.outputs["name"]
    assert logs.inputs["kmsKeyId"] == _key(config, "logs")
    assert logs.inputs["retentionInDays"] == config.logging.retention_days
    # Lambda checks the ENI permissions when it creates the function.
    assert plan.named(ROLE_POLICY, f"{NAME}-rotation-policy").urn in function.depends_on


def test_function_gets_every_environment_variable_the_handler_reads() -> None:
    source = ROTATION_HANDLER_FILE.read_text()
    read = set(re.findall(r"os\.environ\[\"(\w+)\"\]", source))
    assert read == {"REPLICATION_GROUP_ID", "USER_ID"}
    assert set(_function(_stack("dev")).inputs["environment"]["variables"]) == read


def test_rotation_role_trusts_lambda_for_this_account_only(env: str) -> None:
    plan = _stack(env)
    config = stack_config(env)
    role = _role(plan)
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": config.aws.account_id}}
    assert role.inputs.get("permissionsBoundary") == config.identity.permissions_boundary_arn
    assert _function(plan).inputs["role"] == role.outputs["arn"]


def test_permissions_boundary_is_attached_where_configured() -> None:
    boundary = stack_config("prod").identity.permissions_boundary_arn
    assert boundary
    assert _role(_stack("prod")).inputs["permissionsBoundary"] == boundary
    assert "permissionsBoundary" not in _role(_stack("dev")).inputs


NO_RESOURCE_LEVEL_ACTIONS = {
    "secretsmanager:GetRandomPassword",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
}
"""The only actions the rotation role holds on "*": none of them has a resource type."""


def test_rotation_role_is_least_privilege(env: str) -> None:
    for statement in _rotation_statements(_stack(env)).values():
        actions = as_list(statement["Action"])
        resources = as_list(statement["Resource"])
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in actions), statement
        if "*" in resources:
            assert resources == ["*"]
            assert set(actions) <= NO_RESOURCE_LEVEL_ACTIONS, statement
            assert not set(actions) & DATA_ACTIONS


def test_rotation_role_touches_only_this_secret_group_key_and_log_group(env: str) -> None:
    plan = _stack(env)
    config = stack_config(env)
    granted: dict[str, set[str]] = {}
    for statement in _rotation_statements(plan).values():
        for action in as_list(statement["Action"]):
            granted.setdefault(action, set()).update(as_list(statement["Resource"]))
    secret_arn = _secret(plan).outputs["arn"]
    for action in (
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ):
        assert granted[action] == {secret_arn}, action
    group_arn = _group(plan).outputs["arn"]
    user_arn = _default_user(plan).outputs["arn"]
    assert "elasticache:ModifyReplicationGroup" not in granted
    assert granted["elasticache:ModifyUser"] == granted["elasticache:DescribeUsers"] == {user_arn}
    assert granted["elasticache:DescribeReplicationGroups"] == {group_arn}
    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"):
        assert granted[action] == {_key(config, "secrets")}, action
    logs_arn = plan.named(LOG_GROUP, f"{NAME}-rotation-logs").outputs["arn"]
    assert granted["logs:CreateLogStream"] == granted["logs:PutLogEvents"] == {f"{logs_arn}:*"}
    ec2 = f"arn:aws:ec2:{config.aws.region}:{config.aws.account_id}"
    assert granted["ec2:CreateNetworkInterface"] == {
        f"{ec2}:network-interface/*",
        f"{ec2}:subnet/*",
        _rotation_sg(plan).outputs["arn"],
    }
    for action in (
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ):
        assert granted[action] == {f"{ec2}:network-interface/*"}, action
    # No managed policy (AWSLambdaVPCAccessExecutionRole writes to every log group).
    assert not plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def test_rotation_role_grants_exactly_the_api_calls_the_handler_makes() -> None:
    source = ROTATION_HANDLER_FILE.read_text()
    calls = {f"secretsmanager:{_pascal(m)}" for m in re.findall(r"secrets\.(\w+)\(", source)}
    calls |= {
        f"elasticache:{_pascal(m)}"
        for m in re.findall(r"client\(\"elasticache\"\)\.(\w+)\(", source)
        if m != "get_waiter"
    }
    # A waiter polls one operation: botocore's waiter model names it.
    elasticache = boto3.client("elasticache", region_name="eu-central-1")
    calls |= {
        f"elasticache:{elasticache.get_waiter(w).config.operation}"
        for w in re.findall(r"get_waiter\(\"(\w+)\"\)", source)
    }
    assert "secretsmanager:GetRandomPassword" in calls  # why the "*" grant exists
    granted = {
        action
        for statement in _rotation_statements(_stack("dev")).values()
        for action in as_list(statement["Action"])
        if action.split(":")[0] in {"secretsmanager", "elasticache"}
    }
    assert granted == calls


def test_only_secrets_manager_may_invoke_the_function_for_this_secret(env: str) -> None:
    plan = _stack(env)
    permission = plan.named(PERMISSION, f"{NAME}-rotation-invoke").inputs
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "secretsmanager.amazonaws.com"
    assert permission["function"] == _function(plan).outputs["name"]
    assert permission["sourceArn"] == _secret(plan).outputs["arn"]
    assert permission["sourceAccount"] == stack_config(env).aws.account_id


def test_rotation_schedule_follows_config() -> None:
    plan = _build(stack_config("dev", onlineStore={"rotationDays": 7}))
    rotation = plan.named(ROTATION, f"{NAME}-rotation-schedule").inputs
    assert rotation["rotationRules"] == {"automaticallyAfterDays": 7}
    assert rotation["secretId"] == _secret(plan).outputs["arn"]
    assert rotation["rotationLambdaArn"] == _function(plan).outputs["arn"]


def test_rotation_waits_for_the_group_the_permission_and_the_network_path(env: str) -> None:
    plan = _stack(env)
    rotation = plan.named(ROTATION, f"{NAME}-rotation-schedule")
    assert rotation.inputs["rotationRules"] == {
        "automaticallyAfterDays": stack_config(env).online_store.rotation_days
    }
    required = {
        _group(plan).urn,
        plan.named(PERMISSION, f"{NAME}-rotation-invoke").urn,
        plan.named(SECRET_VERSION, f"{NAME}-auth-version").urn,
        plan.named(INGRESS, f"{NAME}-from-rotation").urn,
        plan.named(EGRESS, f"{NAME}-rotation-to-cache").urn,
        plan.named(EGRESS, f"{NAME}-rotation-to-endpoints").urn,
    }
    assert required <= set(rotation.depends_on)


def test_rotation_waits_for_the_interface_endpoints_it_calls(env: str) -> None:
    """The function reaches Secrets Manager and ElastiCache only through their endpoints."""
    plan = _stack(env)
    endpoints = {plan.named(ENDPOINT, f"endpoint-{service}").urn for service in ROTATION_APIS}
    assert endpoints <= set(plan.named(ROTATION, f"{NAME}-rotation-schedule").depends_on)
    assert endpoints <= set(_function(plan).depends_on)


# --- outputs ----------------------------------------------------------------------------


def test_outputs_name_the_group_the_secret_and_the_security_groups(env: str) -> None:
    plan = _stack(env)
    group = _group(plan)
    assert plan.outputs["replication_group_id"] == group.id
    assert plan.outputs["replication_group_arn"] == group.outputs["arn"]
    assert plan.outputs["port"] == CACHE_PORT
    assert plan.outputs["auth_secret_arn"] == _secret(plan).outputs["arn"]
    assert plan.outputs["security_group_id"] == _cache_sg(plan).id
    assert plan.outputs["rotation_function_arn"] == _function(plan).outputs["arn"]
    assert plan.outputs["rotation_security_group_id"] == _rotation_sg(plan).id


def test_children_are_named_after_and_parented_by_the_component(env: str) -> None:
    plan = _stack(env)
    (component,) = plan.of_type("featureplatform:data:OnlineStore")
    for resource in plan.children(component):
        assert resource.name.startswith(f"{NAME}-"), resource.name


# --- changes to a deployed store ----------------------------------------------------------


def test_an_engine_family_bump_adds_a_group_and_forgets_the_old_one_without_replacing() -> None:
    """7.2 -> 8.0 changes the family: the old parameter group stays attached until the
    maintenance window, so it must never be deleted in the same `up` (ADR 0011)."""
    old = _build(stack_config("dev", onlineStore={"engineVersion": "7.2"}))
    new = _build(stack_config("dev", onlineStore={"engineVersion": "8.0"}))
    changes = {r.urn: r for r in compare(old, new).resources}
    (old_params,) = old.of_type(PARAMS)
    (new_params,) = new.of_type(PARAMS)
    assert (old_params.inputs["family"], new_params.inputs["family"]) == ("valkey7", "valkey8")
    assert changes[old_params.urn].action == "delete" and old_params.retain_on_delete
    assert changes[new_params.urn].action == "create"
    group = changes[_group(new).urn]
    assert group.action == "update", group.reasons
    assert {c.path for c in group.changes} == {"engineVersion", "parameterGroupName"}
    assert _group(new).inputs["applyImmediately"] is False
    assert not compare(old, new).blocking


def test_a_new_generated_password_never_shows_as_a_change() -> None:
    """Write-only inputs are not diffed: a fresh GetRandomPassword on every run changes nothing."""
    plan = _stack("dev")
    other = Plan(
        project=plan.project,
        stack=plan.stack,
        resources=[
            replace(r, inputs={**r.inputs, "passwordsWo": "another-password-0123456789"})
            if r.type == USER
            else r
            for r in plan.resources
        ],
        outputs=plan.outputs,
    )
    assert [r.urn for r in compare(plan, other).changed()] == []


def test_a_replacement_of_the_group_deletes_first_and_blocks() -> None:
    old = _stack("dev")
    group = _group(old)
    assert group.delete_before_replace  # a fixed id: the new group cannot exist beside the old
    moved = Plan(
        project=old.project,
        stack=old.stack,
        resources=[
            replace(r, inputs={**r.inputs, "atRestEncryptionEnabled": False})
            if r.urn == group.urn
            else r
            for r in old.resources
        ],
        outputs=old.outputs,
    )
    (change,) = [r for r in compare(old, moved).resources if r.urn == group.urn]
    assert change.action == "replace" and change.blocking
