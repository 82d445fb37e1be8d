"""Network isolation: subnet tiers, routes, NAT, endpoints, default SG and flow logs."""

from __future__ import annotations

import json

import pytest

from blueprint.capture import Plan, PlannedResource
from components.network import INTERFACE_ENDPOINT_SERVICES
from tests.conftest import stack_config

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _subnets(plan: Plan, tier: str) -> list[PlannedResource]:
    return [s for s in plan.of_type(SUBNET) if s.inputs["tags"]["tier"] == tier]


def _route_table_of(plan: Plan, subnet: PlannedResource) -> PlannedResource:
    (assoc,) = [a for a in plan.of_type(ASSOCIATION) if a.inputs["subnetId"] == subnet.id]
    return next(rt for rt in plan.of_type(ROUTE_TABLE) if rt.id == assoc.inputs["routeTableId"])


def _routes(plan: Plan, route_table: PlannedResource) -> list[PlannedResource]:
    return [r for r in plan.of_type(ROUTE) if r.inputs["routeTableId"] == route_table.id]


def test_subnets_follow_the_config_plan(plan: Plan) -> None:
    config = stack_config(plan.stack)
    planned = {(s.tier, s.zone, s.cidr) for s in config.subnet_plan.subnets}
    built = {
        (s.inputs["tags"]["tier"], s.inputs["availabilityZone"], s.inputs["cidrBlock"])
        for s in plan.of_type(SUBNET)
    }
    assert built == planned


def test_no_subnet_assigns_public_ips(plan: Plan) -> None:
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in plan.of_type(SUBNET))


def test_data_subnets_have_no_route_to_the_internet(plan: Plan) -> None:
    for subnet in _subnets(plan, "data"):
        routes = _routes(plan, _route_table_of(plan, subnet))
        assert routes == [], f"{subnet.name} has routes {[r.inputs for r in routes]}"


def test_private_subnets_leave_only_through_a_nat_gateway_in_their_zone(plan: Plan) -> None:
    nats = {n.id: n for n in plan.of_type("aws:ec2/natGateway:NatGateway")}
    public_zone = {s.id: s.inputs["availabilityZone"] for s in _subnets(plan, "public")}
    per_az = stack_config(plan.stack).network.nat_gateways.value == "per-az"
    for subnet in _subnets(plan, "private"):
        (route,) = _routes(plan, _route_table_of(plan, subnet))
        assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
        assert "gatewayId" not in route.inputs  # never straight to the internet gateway
        nat = nats[route.inputs["natGatewayId"]]
        if per_az:
            assert public_zone[nat.inputs["subnetId"]] == subnet.inputs["availabilityZone"]


def test_public_subnets_route_to_the_internet_gateway(plan: Plan) -> None:
    igw = plan.of_type("aws:ec2/internetGateway:InternetGateway")[0]
    for subnet in _subnets(plan, "public"):
        (route,) = _routes(plan, _route_table_of(plan, subnet))
        assert route.inputs["gatewayId"] == igw.id


def test_prod_has_one_nat_per_zone_and_dev_a_single_one(dev: Plan, prod: Plan) -> None:
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1


def test_default_security_group_has_no_rules(plan: Plan) -> None:
    (default_sg,) = plan.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default_sg.inputs.get("ingress") and not default_sg.inputs.get("egress")


def test_interface_endpoints_are_private_and_behind_the_endpoint_sg(plan: Plan) -> None:
    config = stack_config(plan.stack)
    private_ids = sorted(s.id for s in _subnets(plan, "private"))
    sg = plan.named("aws:ec2/securityGroup:SecurityGroup", "-endpoints-sg")
    interface = [e for e in plan.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]
    services = {e.inputs["serviceName"] for e in interface}
    assert services == {
        f"com.amazonaws.{config.aws.region}.{svc}" for svc in INTERFACE_ENDPOINT_SERVICES
    }
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.inputs["subnetIds"]) == private_ids
        assert endpoint.inputs["securityGroupIds"] == [sg.id]


def test_endpoint_sg_allows_only_https_from_the_vpc(plan: Plan) -> None:
    sg = plan.named("aws:ec2/securityGroup:SecurityGroup", "-endpoints-sg")
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress")  # no inline rules
    rules = [
        r
        for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == sg.id
    ]
    (rule,) = rules
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (
        443,
        443,
        "tcp",
    )
    assert rule.inputs["cidrIpv4"] == stack_config(plan.stack).network.cidr


def test_s3_gateway_endpoint_serves_private_and_data_route_tables(plan: Plan) -> None:
    (gateway,) = [e for e in plan.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"]
    assert gateway.inputs["serviceName"].endswith(".s3")
    expected = {_route_table_of(plan, s).id for s in _subnets(plan, "private")} | {
        _route_table_of(plan, s).id for s in _subnets(plan, "data")
    }
    assert set(gateway.inputs["routeTableIds"]) == expected


def test_s3_endpoint_passes_only_own_account_buckets_and_ecr_layers(plan: Plan) -> None:
    config = stack_config(plan.stack)
    (gateway,) = [e for e in plan.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"]
    by_sid = {s["Sid"]: s for s in json.loads(gateway.inputs["policy"])["Statement"]}
    assert set(by_sid) == {"OwnAccountBuckets", "EcrImageLayers"}
    own = by_sid["OwnAccountBuckets"]
    assert own["Condition"] == {"StringEquals": {"aws:ResourceAccount": config.aws.account_id}}
    assert not any("*" in action for action in own["Action"])
    ecr = by_sid["EcrImageLayers"]
    assert ecr["Resource"] == f"arn:aws:s3:::prod-{config.aws.region}-starport-layer-bucket/*"
    assert ecr["Action"] == "s3:GetObject"


@pytest.mark.parametrize(
    ("tier", "tag"),
    [("private", "kubernetes.io/role/internal-elb"), ("public", "kubernetes.io/role/elb")],
)
def test_subnets_are_tagged_for_load_balancer_discovery(plan: Plan, tier: str, tag: str) -> None:
    assert all(s.inputs["tags"].get(tag) == "1" for s in _subnets(plan, tier))
    assert not any(tag in s.inputs["tags"] for s in _subnets(plan, "data"))


def test_flow_logs_capture_all_traffic_to_an_encrypted_group(plan: Plan) -> None:
    config = stack_config(plan.stack)
    (flow_log,) = plan.of_type("aws:ec2/flowLog:FlowLog")
    vpc = plan.of_type("aws:ec2/vpc:Vpc")[0]
    group = plan.named("aws:cloudwatch/logGroup:LogGroup", "-flow-logs")
    logs_key = plan.named("aws:kms/key:Key", "-logs")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["vpcId"] == vpc.id
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["kmsKeyId"] == logs_key.outputs["arn"]
    assert group.inputs["retentionInDays"] == config.network.flow_log_retention_days


def test_flow_log_role_may_only_write_to_its_group(plan: Plan) -> None:
    group = plan.named("aws:cloudwatch/logGroup:LogGroup", "-flow-logs")
    policy = json.loads(
        plan.named("aws:iam/rolePolicy:RolePolicy", "-flow-logs-policy").inputs["policy"]
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"DeliverFlowLogs", "FindLogGroup"}
    deliver = by_sid["DeliverFlowLogs"]
    assert deliver["Resource"] == f"{group.outputs['arn']}:*"
    assert all(a.startswith("logs:") and "*" not in a for a in deliver["Action"])
    # The one statement on "*" lists log-group names: no data action.
    assert by_sid["FindLogGroup"]["Action"] == "logs:DescribeLogGroups"


def test_flow_log_waits_for_its_role_policy(plan: Plan) -> None:
    (flow_log,) = plan.of_type("aws:ec2/flowLog:FlowLog")
    policy = plan.named("aws:iam/rolePolicy:RolePolicy", "-flow-logs-policy")
    assert policy.urn in flow_log.depends_on
