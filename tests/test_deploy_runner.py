"""The in-VPC deploy runner: private, HTTPS out only, a role that can do little but assume the
deployer, encrypted logs, and a webhook that reacts to queued workflow jobs only."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from blueprint.capture import Plan, PlannedResource
from components.config import ConfigError, StackConfig, parse_stack_config
from components.deploy_runner import (
    CODEBUILD_PRINCIPAL,
    RUNNER_IMAGE,
    WORKFLOW_JOB_QUEUED,
    DeployRunner,
    DeployRunnerArgs,
)
from components.iam_documents import DATA_ACTIONS
from tests.conftest import (
    STACKS,
    as_list,
    namespace_values,
    policy,
    run_component,
    stack_config,
    stack_plan,
    statements,
)

NAME = "runner"
PROJECT_NAME = "feature-platform-dev-deploy-runner"
VPC_ID = "vpc-0f1e2d3c4b5a69788"
PRIVATE_SUBNETS = ["subnet-0b1a7e00000000001", "subnet-0b1a7e00000000002"]
CLUSTER_SG = "sg-0c1u57e400000000a"

PROJECT = "aws:codebuild/project:Project"
WEBHOOK = "aws:codebuild/webhook:Webhook"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _key(config: StackConfig, purpose: str) -> str:
    return f"arn:aws:kms:{config.aws.region}:{config.aws.account_id}:key/{purpose}-0000"


def _program(config: StackConfig) -> Callable[[], None]:
    """The runner alone, built from ``config`` as the platform builds it."""

    def build() -> None:
        DeployRunner(
            NAME,
            DeployRunnerArgs(
                project_name=PROJECT_NAME,
                account_id=config.aws.account_id,
                region=config.aws.region,
                settings=config.deploy_runner,
                vpc_id=VPC_ID,
                private_subnet_ids=PRIVATE_SUBNETS,
                cluster_security_group_id=CLUSTER_SG,
                data_key_arn=_key(config, "data"),
                logs_key_arn=_key(config, "logs"),
                log_retention_days=config.logging.retention_days,
                permissions_boundary_arn=config.identity.permissions_boundary_arn,
                protect=config.protection.protect_stateful,
            ),
        )

    return build


@cache
def _plan(stack: str = "dev") -> Plan:
    return run_component(_program(stack_config(stack)))


def _one(plan: Plan, type_: str) -> PlannedResource:
    (resource,) = plan.of_type(type_)
    return resource


def _runner_sg(plan: Plan) -> PlannedResource:
    return _one(plan, SG)


def _runner_sg_id(plan: Plan) -> str:
    return _runner_sg(plan).id


# --- placement and network ------------------------------------------------------------------


def test_jobs_run_in_the_private_subnets_only_behind_the_runner_security_group() -> None:
    plan = _plan()
    vpc = _one(plan, PROJECT).inputs["vpcConfig"]
    assert vpc["vpcId"] == VPC_ID
    assert vpc["subnets"] == PRIVATE_SUBNETS
    assert vpc["securityGroupIds"] == [_runner_sg_id(plan)]


def test_the_runner_sends_https_only_and_accepts_nothing() -> None:
    plan = _plan()
    runner_sg = _runner_sg_id(plan)
    egress = [r.inputs for r in plan.of_type(EGRESS)]
    assert egress == [
        {
            "securityGroupId": runner_sg,
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrIpv4": "0.0.0.0/0",
            "description": egress[0]["description"],
        }
    ]
    # No ingress on the runner's own group: a runner only dials out.
    assert [r for r in plan.of_type(INGRESS) if r.inputs["securityGroupId"] == runner_sg] == []
    assert "ingress" not in _runner_sg(plan).inputs and "egress" not in _runner_sg(plan).inputs


def test_the_cluster_api_admits_443_from_the_runner_security_group_only() -> None:
    plan = _plan()
    (rule,) = plan.of_type(INGRESS)
    assert rule.inputs["securityGroupId"] == CLUSTER_SG
    assert rule.inputs["referencedSecurityGroupId"] == _runner_sg_id(plan)
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    )
    assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs


def test_the_platform_opens_the_eks_cluster_security_group_to_the_runner() -> None:
    plan = stack_plan("dev")
    runner_sg = plan.named(SG, "deploy-runner-sg")
    (rule,) = [
        r
        for r in plan.of_type(INGRESS)
        if r.inputs.get("referencedSecurityGroupId") == runner_sg.id
    ]
    eks = plan.of_type("aws:eks/cluster:Cluster")[0]
    assert rule.inputs["securityGroupId"] == eks.outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == 443


# --- identity -------------------------------------------------------------------------------


def test_the_role_trusts_codebuild_for_this_project_in_this_account_only() -> None:
    config = stack_config("dev")
    role = _one(_plan(), ROLE)
    assert role.inputs["name"] == PROJECT_NAME  # the deployer's trust names it
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": CODEBUILD_PRINCIPAL}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": config.aws.account_id},
        "ArnLike": {
            "aws:SourceArn": (
                f"arn:aws:codebuild:{config.aws.region}:{config.aws.account_id}:project/"
                f"{PROJECT_NAME}"
            )
        },
    }


def test_the_role_cannot_reach_aws_beyond_running_the_runner() -> None:
    config = stack_config("dev")
    plan = _plan()
    found = statements(policy(_one(plan, ROLE_POLICY)))
    log_group = _one(plan, LOG_GROUP)
    region_account = f"{config.aws.region}:{config.aws.account_id}"
    ec2 = f"arn:aws:ec2:{region_account}"
    connection = config.deploy_runner.connection_arn
    assert {sid: (as_list(s["Action"]), as_list(s["Resource"])) for sid, s in found.items()} == {
        "WriteLogs": (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{log_group.outputs['arn']}:*"],
        ),
        "UseConnection": (
            ["codeconnections:GetConnectionToken", "codeconnections:GetConnection"],
            [connection],
        ),
        "EncryptBuildOutput": (
            ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"],
            [_key(config, "data")],
        ),
        "DescribeNetwork": (
            [
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            ["*"],
        ),
        "CreateInterfaces": (
            ["ec2:CreateNetworkInterface"],
            [f"{ec2}:network-interface/*", f"{ec2}:subnet/*", _runner_sg(plan).outputs["arn"]],
        ),
        "DeleteInterfaces": (["ec2:DeleteNetworkInterface"], [f"{ec2}:network-interface/*"]),
        "HandInterfacesToCodeBuild": (
            ["ec2:CreateNetworkInterfacePermission"],
            [f"{ec2}:network-interface/*"],
        ),
    }
    # Handing an interface to CodeBuild: only to CodeBuild, only in the runner's subnets.
    assert found["HandInterfacesToCodeBuild"]["Condition"] == {
        "StringEquals": {"ec2:AuthorizedService": CODEBUILD_PRINCIPAL},
        "ArnEquals": {"ec2:Subnet": [f"{ec2}:subnet/{s}" for s in PRIVATE_SUBNETS]},
    }
    # No data action on every resource, no wildcard action, no IAM or admin power.
    for statement in found.values():
        actions = as_list(statement["Action"])
        assert not any("*" in a for a in actions)
        if as_list(statement["Resource"]) == ["*"]:
            assert not set(actions) & DATA_ACTIONS
        assert not any(a.startswith(("iam:", "eks:", "s3:")) for a in actions)


def test_a_codestar_connections_arn_gets_the_matching_action_prefix() -> None:
    legacy = (
        "arn:aws:codestar-connections:eu-central-1:111111111111:connection/"
        "00000000-0000-4000-8000-000000000000"
    )
    runner = {**namespace_values("dev")["deployRunner"], "connectionArn": legacy}
    config = stack_config("dev", deployRunner=runner)
    found = statements(policy(_one(run_component(_program(config)), ROLE_POLICY)))
    assert found["UseConnection"]["Action"] == [
        "codestar-connections:GetConnectionToken",
        "codestar-connections:GetConnection",
    ]


# --- the project and its logs --------------------------------------------------------------


def test_the_project_is_a_github_runner_through_the_connection_without_privileges() -> None:
    config = stack_config("dev")
    project = _one(_plan(), PROJECT).inputs
    assert project["name"] == PROJECT_NAME
    assert project["source"] == {
        "type": "GITHUB",
        "location": f"https://github.com/{config.deploy_runner.repository}",
        "auth": {"type": "CODECONNECTIONS", "resource": config.deploy_runner.connection_arn},
    }
    assert project["artifacts"] == {"type": "NO_ARTIFACTS"}
    assert project["environment"] == {
        "type": "LINUX_CONTAINER",
        "image": RUNNER_IMAGE,
        "computeType": "BUILD_GENERAL1_SMALL",
        "imagePullCredentialsType": "CODEBUILD",
        "privilegedMode": False,
    }
    assert RUNNER_IMAGE.startswith("aws/codebuild/amazonlinux-x86_64-standard:")
    assert project["encryptionKey"] == _key(config, "data")
    # The runner mode ignores buildspecs; nothing overrides it.
    assert "buildspec" not in project["source"] and "buildBatchConfig" not in project


def test_logs_go_to_its_own_encrypted_group_with_retention() -> None:
    for stack in STACKS:
        config = stack_config(stack)
        plan = _plan(stack)
        group = _one(plan, LOG_GROUP)
        assert group.inputs["name"] == f"/aws/codebuild/{PROJECT_NAME}"
        assert group.inputs["kmsKeyId"] == _key(config, "logs")
        assert group.inputs["retentionInDays"] == config.logging.retention_days
        assert group.inputs["deletionProtectionEnabled"] is config.protection.protect_stateful
        logs = _one(plan, PROJECT).inputs["logsConfig"]
        assert logs["cloudwatchLogs"] == {"status": "ENABLED", "groupName": group.inputs["name"]}
        assert logs["s3Logs"] == {"status": "DISABLED"}


def test_the_webhook_reacts_to_queued_workflow_jobs_only() -> None:
    plan = _plan()
    webhook = _one(plan, WEBHOOK).inputs
    assert webhook["projectName"] == PROJECT_NAME
    # Queued jobs of the deploy and drift workflows only: no other workflow's job (a pull
    # request's above all) reaches the VPC.
    assert webhook["filterGroups"] == [
        {
            "filters": [
                {"type": "EVENT", "pattern": WORKFLOW_JOB_QUEUED},
                {"type": "WORKFLOW_NAME", "pattern": "^(deploy|drift)$"},
            ]
        }
    ]
    assert WORKFLOW_JOB_QUEUED == "WORKFLOW_JOB_QUEUED"


# --- the platform and the stacks -----------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_has_a_runner_in_its_own_account_and_exports_its_project(
    stack: str,
) -> None:
    config = stack_config(stack)
    assert config.deploy_runner.enabled
    assert config.deploy_runner.connection_account == config.aws.account_id
    plan = stack_plan(stack)
    project = plan.named(PROJECT, "deploy-runner-project")
    assert project.inputs["name"] == f"feature-platform-{stack}-deploy-runner"
    assert plan.outputs["deploy_runner_project"] == project.inputs["name"]


def test_the_runner_is_off_by_default() -> None:
    values = copy.deepcopy(namespace_values("dev"))
    del values["deployRunner"]
    config = parse_stack_config(values, source="stacks/Pulumi.dev.yaml", stack="dev")
    assert not config.deploy_runner.enabled


# --- config errors name the key --------------------------------------------------------------

OTHER_ACCOUNT_ARN = (
    "arn:aws:codeconnections:eu-central-1:999999999999:connection/"
    "00000000-0000-4000-8000-000000000000"
)
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "connection-in-another-account",
        {"connectionArn": OTHER_ACCOUNT_ARN},
        "deployRunner.connectionArn",
        "must be in account 111111111111",
    ),
    (
        "connection-not-an-arn",
        {"connectionArn": "arn:aws:iam::111111111111:role/x"},
        "deployRunner.connectionArn",
        "should match pattern",
    ),
    (
        "enabled-without-connection",
        {"connectionArn": None},
        "deployRunner.connectionArn",
        "required",
    ),
    ("enabled-without-repository", {"repository": None}, "deployRunner.repository", "required"),
    (
        "repository-not-owner-slash-repo",
        {"repository": "https://github.com/a/b"},
        "deployRunner.repository",
        "should match pattern",
    ),
    (
        "unknown-compute-type",
        {"computeType": "BUILD_GENERAL1_HUGE"},
        "deployRunner.computeType",
        "'BUILD_GENERAL1_SMALL'",
    ),
    ("typo", {"conectionArn": "x"}, "deployRunner.conectionArn", ""),
]


@pytest.mark.parametrize(
    ("change", "key", "allowed"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_runner_config_names_the_key(
    change: dict[str, Any], key: str, allowed: str
) -> None:
    values = copy.deepcopy(namespace_values("dev"))
    runner = {**values["deployRunner"], **change}
    values["deployRunner"] = {k: v for k, v in runner.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(values, source="stacks/Pulumi.dev.yaml", stack="dev")
    problems = dict(caught.value.problems)
    assert f"feature-platform:{key}" in problems, problems
    assert allowed in problems[f"feature-platform:{key}"], problems


def test_outputs_are_json_serialisable_for_the_export() -> None:
    assert json.dumps(stack_plan("dev").outputs["deploy_runner_project"])


def test_the_webhook_names_the_deploy_workflow_as_it_is_called() -> None:
    import re  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    from components.deploy_runner import DEPLOY_WORKFLOWS  # noqa: PLC0415
    from tests.conftest import PROJECT_DIR  # noqa: PLC0415

    workflows = {
        path.name: yaml.safe_load(path.read_text())["name"]
        for path in (PROJECT_DIR / ".github" / "workflows").glob("*.yml")
    }
    assert [f for f, name in workflows.items() if re.fullmatch(DEPLOY_WORKFLOWS, name)] == [
        "deploy.yml",
        "drift.yml",
    ]
