"""EC2 and VPC resources: the calls the provider makes for each."""

from __future__ import annotations

import zlib
from typing import Any

from blueprint.local.registry import Created, Ctx, translates


def _tag(ctx: Ctx, resource_id: str) -> None:
    if ctx.tags:
        ctx.client("ec2").create_tags(Resources=[resource_id], Tags=ctx.tag_list())


def _arn(ctx: Ctx, kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{ctx.region}:{ctx.account}:{kind}/{resource_id}"


@translates("aws:ec2/vpc:Vpc")
def vpc(ctx: Ctx) -> Created:
    ec2 = ctx.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=ctx.inputs["cidrBlock"])["Vpc"]["VpcId"]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        if attribute in ctx.inputs:
            ec2.modify_vpc_attribute(
                VpcId=vpc_id,
                **{attribute[0].upper() + attribute[1:]: {"Value": ctx.inputs[attribute]}},
            )
    _tag(ctx, vpc_id)
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    tables = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    return Created(
        vpc_id,
        {
            "arn": _arn(ctx, "vpc", vpc_id),
            "defaultSecurityGroupId": groups[0]["GroupId"],
            "mainRouteTableId": tables[0]["RouteTableId"],
            "ownerId": ctx.account,
        },
    )


@translates("aws:ec2/subnet:Subnet")
def subnet(ctx: Ctx) -> Created:
    ec2 = ctx.client("ec2")
    subnet_id = ec2.create_subnet(
        VpcId=ctx.inputs["vpcId"],
        CidrBlock=ctx.inputs["cidrBlock"],
        AvailabilityZone=ctx.inputs["availabilityZone"],
    )["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(
        SubnetId=subnet_id,
        MapPublicIpOnLaunch={"Value": bool(ctx.inputs.get("mapPublicIpOnLaunch", False))},
    )
    _tag(ctx, subnet_id)
    return Created(subnet_id, {"arn": _arn(ctx, "subnet", subnet_id), "ownerId": ctx.account})


@translates("aws:ec2/internetGateway:InternetGateway")
def internet_gateway(ctx: Ctx) -> Created:
    ec2 = ctx.client("ec2")
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    if ctx.inputs.get("vpcId"):
        ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=ctx.inputs["vpcId"])
    _tag(ctx, igw_id)
    return Created(igw_id, {"arn": _arn(ctx, "internet-gateway", igw_id)})


@translates("aws:ec2/eip:Eip")
def eip(ctx: Ctx) -> Created:
    address = ctx.client("ec2").allocate_address(Domain=ctx.inputs.get("domain", "vpc"))
    _tag(ctx, address["AllocationId"])
    return Created(
        address["AllocationId"],
        {"allocationId": address["AllocationId"], "publicIp": address["PublicIp"]},
    )


@translates("aws:ec2/natGateway:NatGateway")
def nat_gateway(ctx: Ctx) -> Created:
    nat = ctx.client("ec2").create_nat_gateway(
        SubnetId=ctx.inputs["subnetId"],
        AllocationId=ctx.inputs["allocationId"],
        ConnectivityType=ctx.inputs.get("connectivityType", "public"),
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": ctx.tag_list()}],
    )["NatGateway"]
    return Created(nat["NatGatewayId"], {"publicIp": nat["NatGatewayAddresses"][0].get("PublicIp")})


@translates("aws:ec2/routeTable:RouteTable")
def route_table(ctx: Ctx) -> Created:
    table_id = ctx.client("ec2").create_route_table(VpcId=ctx.inputs["vpcId"])["RouteTable"][
        "RouteTableId"
    ]
    _tag(ctx, table_id)
    return Created(table_id, {"arn": _arn(ctx, "route-table", table_id)})


ROUTE_TARGETS = {
    "gatewayId": "GatewayId",
    "natGatewayId": "NatGatewayId",
    "vpcEndpointId": "VpcEndpointId",
    "transitGatewayId": "TransitGatewayId",
}


@translates("aws:ec2/route:Route")
def route(ctx: Ctx) -> Created:
    target = {api: ctx.inputs[key] for key, api in ROUTE_TARGETS.items() if ctx.inputs.get(key)}
    ctx.client("ec2").create_route(
        RouteTableId=ctx.inputs["routeTableId"],
        DestinationCidrBlock=ctx.inputs["destinationCidrBlock"],
        **target,
    )
    # The provider's ID for a route: "r-" + table + CRC-32 of the destination.
    destination = zlib.crc32(ctx.inputs["destinationCidrBlock"].encode())
    return Created(f"r-{ctx.inputs['routeTableId']}{destination}")


@translates("aws:ec2/routeTableAssociation:RouteTableAssociation")
def route_table_association(ctx: Ctx) -> Created:
    association = ctx.client("ec2").associate_route_table(
        RouteTableId=ctx.inputs["routeTableId"], SubnetId=ctx.inputs["subnetId"]
    )
    return Created(association["AssociationId"])


def _permissions(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inline ``ingress``/``egress`` blocks to IpPermissions."""
    permissions = []
    for rule in rules:
        permission: dict[str, Any] = {"IpProtocol": str(rule["protocol"])}
        if rule.get("fromPort") is not None:
            permission["FromPort"] = rule["fromPort"]
            permission["ToPort"] = rule["toPort"]
        permission["IpRanges"] = [{"CidrIp": c} for c in rule.get("cidrBlocks", [])]
        permission["UserIdGroupPairs"] = [{"GroupId": g} for g in rule.get("securityGroups", [])]
        permissions.append(permission)
    return permissions


@translates("aws:ec2/securityGroup:SecurityGroup")
def security_group(ctx: Ctx) -> Created:
    ec2 = ctx.client("ec2")
    group_id = ec2.create_security_group(
        GroupName=ctx.physical_name(),
        Description=ctx.inputs.get("description", "Managed by Pulumi"),
        VpcId=ctx.inputs["vpcId"],
    )["GroupId"]
    # Like the provider: drop AWS's default allow-all egress unless egress is declared.
    ec2.revoke_security_group_egress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    if ctx.inputs.get("ingress"):
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=_permissions(ctx.inputs["ingress"])
        )
    if ctx.inputs.get("egress"):
        ec2.authorize_security_group_egress(
            GroupId=group_id, IpPermissions=_permissions(ctx.inputs["egress"])
        )
    _tag(ctx, group_id)
    return Created(
        group_id, {"arn": _arn(ctx, "security-group", group_id), "name": ctx.physical_name()}
    )


@translates("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
def default_security_group(ctx: Ctx) -> Created:
    """Adopt the VPC's default group and strip every rule not declared (none, here)."""
    ec2 = ctx.client("ec2")
    (group,) = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [ctx.inputs["vpcId"]]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(
            GroupId=group["GroupId"], IpPermissions=group["IpPermissions"]
        )
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(
            GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"]
        )
    if ctx.inputs.get("ingress"):
        ec2.authorize_security_group_ingress(
            GroupId=group["GroupId"], IpPermissions=_permissions(ctx.inputs["ingress"])
        )
    _tag(ctx, group["GroupId"])
    return Created(group["GroupId"], {"arn": _arn(ctx, "security-group", group["GroupId"])})


def _rule_permission(ctx: Ctx) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": str(ctx.inputs["ipProtocol"])}
    if ctx.inputs.get("fromPort") is not None:
        permission["FromPort"] = ctx.inputs["fromPort"]
        permission["ToPort"] = ctx.inputs["toPort"]
    description = (
        {"Description": ctx.inputs["description"]} if ctx.inputs.get("description") else {}
    )
    if ctx.inputs.get("cidrIpv4"):
        permission["IpRanges"] = [{"CidrIp": ctx.inputs["cidrIpv4"], **description}]
    if ctx.inputs.get("referencedSecurityGroupId"):
        permission["UserIdGroupPairs"] = [
            {"GroupId": ctx.inputs["referencedSecurityGroupId"], **description}
        ]
    if ctx.inputs.get("prefixListId"):
        permission["PrefixListIds"] = [{"PrefixListId": ctx.inputs["prefixListId"], **description}]
    return permission


@translates(
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)
def security_group_rule(ctx: Ctx) -> Created:
    ec2 = ctx.client("ec2")
    authorize = (
        ec2.authorize_security_group_ingress
        if ctx.type.endswith("IngressRule")
        else ec2.authorize_security_group_egress
    )
    response = authorize(
        GroupId=ctx.inputs["securityGroupId"], IpPermissions=[_rule_permission(ctx)]
    )
    rule_id = response["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    return Created(rule_id, {"securityGroupRuleId": rule_id})


@translates("aws:ec2/vpcEndpoint:VpcEndpoint")
def vpc_endpoint(ctx: Ctx) -> Created:
    kind = ctx.inputs.get("vpcEndpointType", "Gateway")
    request: dict[str, Any] = {
        "VpcId": ctx.inputs["vpcId"],
        "ServiceName": ctx.inputs["serviceName"],
        "VpcEndpointType": kind,
        "TagSpecifications": [{"ResourceType": "vpc-endpoint", "Tags": ctx.tag_list()}],
    }
    if kind == "Interface":
        request["SubnetIds"] = ctx.inputs.get("subnetIds", [])
        request["SecurityGroupIds"] = ctx.inputs.get("securityGroupIds", [])
        request["PrivateDnsEnabled"] = bool(ctx.inputs.get("privateDnsEnabled", False))
    else:
        request["RouteTableIds"] = ctx.inputs.get("routeTableIds", [])
    if ctx.inputs.get("policy"):
        request["PolicyDocument"] = ctx.inputs["policy"]
    endpoint = ctx.client("ec2").create_vpc_endpoint(**request)["VpcEndpoint"]
    return Created(
        endpoint["VpcEndpointId"],
        {"arn": _arn(ctx, "vpc-endpoint", endpoint["VpcEndpointId"]), "state": endpoint["State"]},
    )


@translates("aws:ec2/flowLog:FlowLog")
def flow_log(ctx: Ctx) -> Created:
    resource_type, resource_id = next(
        (kind, ctx.inputs[key])
        for key, kind in (("vpcId", "VPC"), ("subnetId", "Subnet"), ("eniId", "NetworkInterface"))
        if ctx.inputs.get(key)
    )
    request: dict[str, Any] = {
        "ResourceIds": [resource_id],
        "ResourceType": resource_type,
        "TrafficType": ctx.inputs["trafficType"],
        "LogDestinationType": ctx.inputs.get("logDestinationType", "cloud-watch-logs"),
        "LogDestination": ctx.inputs["logDestination"],
        "MaxAggregationInterval": ctx.inputs.get("maxAggregationInterval", 600),
        "TagSpecifications": [{"ResourceType": "vpc-flow-log", "Tags": ctx.tag_list()}],
    }
    if ctx.inputs.get("iamRoleArn"):
        request["DeliverLogsPermissionArn"] = ctx.inputs["iamRoleArn"]
    response = ctx.client("ec2").create_flow_logs(**request)
    if response.get("Unsuccessful"):
        error = response["Unsuccessful"][0]["Error"]
        raise RuntimeError(f"{error['Code']}: {error['Message']}")
    flow_log_id = response["FlowLogIds"][0]
    return Created(flow_log_id, {"arn": _arn(ctx, "vpc-flow-log", flow_log_id)})
