"""AWS-side validation in moto: the IAM documents and the network plan are accepted by the
same APIs a real deploy calls, and moto rejects the malformed or conflicting variants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from blueprint.capture import Plan
from tests.conftest import STACKS, stack_config, stack_plan

pytestmark = pytest.mark.moto

REGION = "eu-central-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _iam() -> Any:
    return boto3.client("iam", region_name=REGION)


@pytest.mark.parametrize("stack", STACKS)
def test_every_role_trust_and_policy_is_accepted_by_iam(aws: None, stack: str) -> None:
    plan: Plan = stack_plan(stack)
    iam = _iam()
    roles = {r.id: r for r in plan.of_type("aws:iam/role:Role")}
    for role in roles.values():
        iam.create_role(RoleName=role.id, AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])
    for policy in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        role_name = roles[policy.inputs["role"]].id
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName=policy.outputs["name"],
            PolicyDocument=policy.inputs["policy"],
        )
        # The managed-policy API runs the full document validator.
        iam.create_policy(PolicyName=f"{role_name}-check", PolicyDocument=policy.inputs["policy"])
    assert len(iam.list_roles()["Roles"]) == len(roles)


@pytest.mark.parametrize(
    "document",
    [
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]},
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3GetObject", "Resource": "arn:aws:s3:::b"}
            ],
        },
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}
            ],
        },
    ],
    ids=["no-resource", "malformed-action", "bad-effect"],
)
def test_moto_rejects_malformed_documents(aws: None, document: dict[str, Any]) -> None:
    """The control: the validation above is real, not a no-op."""
    with pytest.raises(ClientError, match="MalformedPolicyDocument"):
        _iam().create_policy(PolicyName="bad", PolicyDocument=json.dumps(document))


@pytest.mark.parametrize("stack", STACKS)
def test_network_plan_is_accepted_by_ec2(aws: None, stack: str) -> None:
    config = stack_config(stack)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock=config.network.cidr)["Vpc"]["VpcId"]
    for subnet in config.subnet_plan.subnets:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet.cidr, AvailabilityZone=subnet.zone)
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert len(subnets) == len(config.subnet_plan.subnets)


@pytest.mark.parametrize(
    ("cidr", "error"),
    [("10.10.0.0/18", "InvalidSubnet.Conflict"), ("10.99.0.0/24", "InvalidSubnet.Range")],
    ids=["overlapping", "outside-the-vpc"],
)
def test_ec2_rejects_a_conflicting_subnet(aws: None, cidr: str, error: str) -> None:
    """The control: an overlapping or out-of-range plan would fail in AWS."""
    config = stack_config("dev")
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock=config.network.cidr)["Vpc"]["VpcId"]
    first = config.subnet_plan.subnets[0]
    ec2.create_subnet(VpcId=vpc_id, CidrBlock=first.cidr, AvailabilityZone=first.zone)
    with pytest.raises(ClientError, match=error):
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=first.zone)
