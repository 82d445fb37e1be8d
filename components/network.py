"""The VPC: three subnet tiers, NAT, VPC endpoints and flow logs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import NatGateways, SubnetPlan
from components.iam_documents import (
    Statement,
    identity_policy,
    s3_gateway_endpoint_policy,
    service_trust,
)
from components.log_group import encrypted_log_group
from components.options import child

INTERFACE_ENDPOINT_SERVICES = (
    "sts",
    "ecr.api",
    "ecr.dkr",
    "secretsmanager",
    "kms",
    "logs",
    # The rotation function calls the ElastiCache API; with an endpoint it needs no
    # internet egress at all.
    "elasticache",
)
"""Reached privately from the workload subnets: image pulls, credentials, secrets, keys, logs."""

HTTPS = 443

# EKS discovers subnets for load balancers by these tags.
INTERNAL_LB_TAG = "kubernetes.io/role/internal-elb"
PUBLIC_LB_TAG = "kubernetes.io/role/elb"


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    region: str
    """Region of the VPC (endpoint service names)."""
    account_id: str
    """The environment's account (flow-log role trust)."""
    plan: SubnetPlan
    """CIDRs of the VPC and of every subnet, validated by the config."""
    nat_gateways: NatGateways
    """One NAT per AZ, or a single one (dev only)."""
    flow_log_retention_days: int
    """Retention of the flow-log group."""
    logs_key_arn: pulumi.Input[str]
    """KMS key encrypting the flow-log group."""
    protect: bool
    """Turn on CloudWatch deletion protection for the flow-log group (prod)."""


class Network(pulumi.ComponentResource):
    """VPC with public, private (workloads) and data (no internet route) subnets."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    data_subnet_ids: pulumi.Output[list[str]]
    endpoint_security_group_id: pulumi.Output[str]
    interface_endpoints: dict[str, aws.ec2.VpcEndpoint]
    """By service; resources that call an API from the VPC depend on its endpoint."""
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    flow_log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:network:Network", name, None, opts)
        plan = args.plan

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=plan.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # required for private DNS on interface endpoints
            tags={"Name": f"{name}-vpc"},
            opts=child(self),
        )
        # The default SG allows all traffic between its members; with no rules here the
        # provider strips them, so nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            tags={"Name": f"{name}-default-deny"},
            opts=child(self),
        )

        subnets: dict[str, list[aws.ec2.Subnet]] = {"public": [], "private": [], "data": []}
        for subnet in plan.subnets:
            tags = {"Name": f"{name}-{subnet.tier}-{subnet.zone}", "tier": subnet.tier}
            if subnet.tier == "private":
                tags[INTERNAL_LB_TAG] = "1"
            elif subnet.tier == "public":
                tags[PUBLIC_LB_TAG] = "1"
            subnets[subnet.tier].append(
                aws.ec2.Subnet(
                    f"{name}-{subnet.tier}-{subnet.zone}",
                    vpc_id=vpc.id,
                    cidr_block=subnet.cidr,
                    availability_zone=subnet.zone,
                    # No subnet hands out public IPs: NAT gateways get Elastic IPs and load
                    # balancers their own; nothing else should be reachable from outside.
                    map_public_ip_on_launch=False,
                    tags=tags,
                    opts=child(self),
                )
            )

        # Public tier: internet gateway.
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child(self)
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"}, opts=child(self)
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child(self),
        )
        for subnet_res, subnet in zip(subnets["public"], plan.tier("public"), strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{subnet.zone}-rta",
                route_table_id=public_rt.id,
                subnet_id=subnet_res.id,
                opts=child(self),
            )

        # NAT: one per AZ keeps egress alive when a zone fails; dev may share one.
        nat_count = len(subnets["public"]) if args.nat_gateways is NatGateways.PER_AZ else 1
        nats = []
        for subnet_res, subnet in list(zip(subnets["public"], plan.tier("public"), strict=True))[
            :nat_count
        ]:
            eip = aws.ec2.Eip(
                f"{name}-nat-{subnet.zone}-eip",
                domain="vpc",
                tags={"Name": f"{name}-nat-{subnet.zone}"},
                opts=child(self),
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{subnet.zone}",
                    allocation_id=eip.allocation_id,
                    subnet_id=subnet_res.id,
                    connectivity_type="public",
                    tags={"Name": f"{name}-nat-{subnet.zone}"},
                    opts=child(self, depends_on=[igw]),
                )
            )

        # Private tier: default route through the zone's NAT.
        private_rts = []
        for index, (subnet_res, subnet) in enumerate(
            zip(subnets["private"], plan.tier("private"), strict=True)
        ):
            rt = aws.ec2.RouteTable(
                f"{name}-private-{subnet.zone}-rt",
                vpc_id=vpc.id,
                tags={"Name": f"{name}-private-{subnet.zone}"},
                opts=child(self),
            )
            aws.ec2.Route(
                f"{name}-private-{subnet.zone}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[index % len(nats)].id,
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{subnet.zone}-rta",
                route_table_id=rt.id,
                subnet_id=subnet_res.id,
                opts=child(self),
            )
            private_rts.append(rt)

        # Data tier: local routes only (plus the S3 gateway endpoint). Brokers and cache
        # nodes never need the internet, so none of them can reach it.
        data_rt = aws.ec2.RouteTable(
            f"{name}-data-rt", vpc_id=vpc.id, tags={"Name": f"{name}-data"}, opts=child(self)
        )
        for subnet_res, subnet in zip(subnets["data"], plan.tier("data"), strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-data-{subnet.zone}-rta",
                route_table_id=data_rt.id,
                subnet_id=subnet_res.id,
                opts=child(self),
            )

        # VPC endpoints. S3 is a gateway endpoint (free, route-table based); its policy
        # lets through only this account's buckets and ECR's layer bucket.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts] + [data_rt.id],
            policy=s3_gateway_endpoint_policy(args.account_id, args.region).to_json(),
            tags={"Name": f"{name}-s3"},
            opts=child(self),
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            tags={"Name": f"{name}-endpoints"},
            opts=child(self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https",
            security_group_id=endpoint_sg.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4=vpc.cidr_block,
            description="HTTPS from the VPC",
            opts=child(self),
        )
        interface_endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        for service in INTERFACE_ENDPOINT_SERVICES:
            interface_endpoints[service] = aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in subnets["private"]],
                security_group_ids=[endpoint_sg.id],
                tags={"Name": f"{name}-{service}"},
                opts=child(self),
            )

        # Flow logs: every accepted and rejected flow, to an encrypted group.
        flow_group = encrypted_log_group(
            f"{name}-flow-logs",
            self,
            retention_days=args.flow_log_retention_days,
            key_arn=args.logs_key_arn,
            protect=args.protect,
        )
        flow_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description="VPC flow logs delivery to CloudWatch Logs",
            assume_role_policy=service_trust(
                "vpc-flow-logs.amazonaws.com",
                args.account_id,
                source_arn=f"arn:aws:ec2:{args.region}:{args.account_id}:vpc-flow-log/*",
            ).to_json(),
            opts=child(self),
        )
        flow_policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=flow_role.id,
            policy=identity_policy(
                Statement(
                    sid="DeliverFlowLogs",
                    actions=(
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ),
                    resources=(pulumi.Output.concat(flow_group.arn, ":*"),),
                ),
                # Part of the role AWS documents for flow-log delivery; lists names only.
                Statement(
                    sid="FindLogGroup", actions=("logs:DescribeLogGroups",), resources=("*",)
                ),
            ).to_json(),
            opts=child(self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=flow_group.arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{name}-flow-log"},
            # Without the policy in place, delivery starts failing with an access error.
            opts=child(self, depends_on=[flow_policy]),
        )

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["public"]])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["private"]])
        self.data_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["data"]])
        self.endpoint_security_group_id = endpoint_sg.id
        self.interface_endpoints = interface_endpoints
        self.interface_endpoint_ids = {s: e.id for s, e in interface_endpoints.items()}
        self.flow_log_group_name = flow_group.name
        self.nat_gateway_ids: list[pulumi.Output[str]] = [nat.id for nat in nats]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "data_subnet_ids": self.data_subnet_ids,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "interface_endpoint_ids": self.interface_endpoint_ids,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )
