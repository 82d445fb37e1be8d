"""VPC and security-group checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from blueprint.audit.model import AuditContext, Finding, Status, check, tag_dict

WORLD = ("0.0.0.0/0", "::/0")


def _tag_filters(ctx: AuditContext) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in ctx.scope.items()]


@check(
    "EC2.NO_WORLD_INGRESS",
    "Security groups allow no ingress from 0.0.0.0/0 or ::/0",
    service="ec2",
    permissions=("ec2:DescribeSecurityGroups",),
    types=("aws:ec2/securityGroup:SecurityGroup",),
)
def world_ingress(ctx: AuditContext) -> Iterable[Finding]:
    for group in ctx.pages(
        "ec2", "describe_security_groups", "SecurityGroups", Filters=_tag_filters(ctx)
    ):
        open_rules = [
            f"{p.get('IpProtocol')}:{p.get('FromPort', 'all')}-{p.get('ToPort', 'all')}"
            for p in group.get("IpPermissions", [])
            if any(r.get("CidrIp") in WORLD for r in p.get("IpRanges", []))
            or any(r.get("CidrIpv6") in WORLD for r in p.get("Ipv6Ranges", []))
        ]
        if open_rules:
            yield Finding(
                "EC2.NO_WORLD_INGRESS",
                group["GroupId"],
                Status.FAIL,
                f"open to the world: {', '.join(open_rules)}",
            )
        else:
            yield Finding("EC2.NO_WORLD_INGRESS", group["GroupId"], Status.PASS)


@check(
    "EC2.DEFAULT_SG_CLOSED",
    "Default security groups have no rules",
    service="ec2",
    permissions=("ec2:DescribeVpcs", "ec2:DescribeSecurityGroups"),
    types=("aws:ec2/vpc:Vpc",),
)
def default_sg_closed(ctx: AuditContext) -> Iterable[Finding]:
    ec2 = ctx.client("ec2")
    for vpc in ctx.pages("ec2", "describe_vpcs", "Vpcs", Filters=_tag_filters(ctx)):
        (group,) = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        rules = len(group.get("IpPermissions", [])) + len(group.get("IpPermissionsEgress", []))
        yield Finding(
            "EC2.DEFAULT_SG_CLOSED",
            group["GroupId"],
            Status.FAIL if rules else Status.PASS,
            f"{rules} rules" if rules else "",
        )


@check(
    "EC2.FLOW_LOGS",
    "Every VPC records ALL traffic in flow logs",
    service="ec2",
    permissions=("ec2:DescribeVpcs", "ec2:DescribeFlowLogs"),
    types=("aws:ec2/vpc:Vpc",),
)
def flow_logs(ctx: AuditContext) -> Iterable[Finding]:
    ec2 = ctx.client("ec2")
    for vpc in ctx.pages("ec2", "describe_vpcs", "Vpcs", Filters=_tag_filters(ctx)):
        logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])[
            "FlowLogs"
        ]
        if any(log.get("TrafficType") == "ALL" for log in logs):
            yield Finding("EC2.FLOW_LOGS", vpc["VpcId"], Status.PASS)
        else:
            kinds = ", ".join(log.get("TrafficType", "?") for log in logs) or "none"
            yield Finding("EC2.FLOW_LOGS", vpc["VpcId"], Status.FAIL, f"flow logs: {kinds}")


@check(
    "EC2.NO_PUBLIC_IP_ON_LAUNCH",
    "Subnets do not assign public IPs",
    service="ec2",
    permissions=("ec2:DescribeSubnets",),
    types=("aws:ec2/subnet:Subnet",),
)
def public_ip_on_launch(ctx: AuditContext) -> Iterable[Finding]:
    for subnet in ctx.pages("ec2", "describe_subnets", "Subnets", Filters=_tag_filters(ctx)):
        tier = tag_dict(subnet.get("Tags")).get("tier", "")
        assigns = bool(subnet.get("MapPublicIpOnLaunch"))
        yield Finding(
            "EC2.NO_PUBLIC_IP_ON_LAUNCH",
            subnet["SubnetId"],
            Status.FAIL if assigns else Status.PASS,
            f"{tier} subnet assigns public IPs" if assigns else tier,
        )
