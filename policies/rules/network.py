"""Network exposure: security groups, subnets, public endpoints, IMDS and VPC endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from ._base import (
    Config,
    Props,
    Severity,
    as_list,
    cis,
    fsbp,
    get,
    plain,
    platform,
    resource_policy,
    statements,
)

_ALL_PROTOCOLS = {"-1", "all"}
_PORT_PROTOCOLS = {"tcp", "udp", "6", "17"}
_MAX_PORT = 65535


def _is_world(cidr: Any) -> bool:
    """``0.0.0.0/0``, ``::/0`` or any spelling of a zero-length prefix."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _port(value: Any, default: int) -> int:
    # The engine sends numbers as floats (443.0).
    return int(value) if isinstance(value, (int, float)) else default


def _port_label(protocol: str, low: int, high: int) -> str:
    if protocol in _ALL_PROTOCOLS:
        return "all protocols and ports"
    if protocol not in _PORT_PROTOCOLS:
        return protocol  # ICMP and others: the "ports" are types and codes
    return f"{protocol}/{low}" if low == high else f"{protocol}/{low}-{high}"


def _ports_allowed(protocol: str, low: int, high: int, allowed: set[int]) -> bool:
    """Every port the rule opens is an allowed one (all-protocol and ICMP rules never are)."""
    if protocol not in _PORT_PROTOCOLS or low > high:
        return False
    if high - low + 1 > len(allowed):
        return False
    return all(port in allowed for port in range(low, high + 1))


def _world_cidrs(block: Mapping[str, Any], *keys: str) -> list[tuple[str, str]]:
    return [(key, cidr) for key in keys for cidr in as_list(block.get(key)) if _is_world(cidr)]


def _world_ingress(
    where: str,
    block: Mapping[str, Any],
    cidr_keys: tuple[str, ...],
    protocol_key: str,
    allowed: set[int],
) -> Iterator[str]:
    world = _world_cidrs(block, *cidr_keys)
    if not world:
        return
    protocol = str(block.get(protocol_key, "-1")).lower()
    all_ports = protocol in _ALL_PROTOCOLS
    low = 0 if all_ports else _port(block.get("fromPort"), 0)
    high = _MAX_PORT if all_ports else _port(block.get("toPort"), low)
    if _ports_allowed(protocol, low, high, allowed):
        return
    for key, cidr in world:
        yield f"{where} admits {cidr} ({key}) on {_port_label(protocol, low, high)}"


def _sg_no_world_ingress(props: Props, config: Config) -> Iterator[str]:
    allowed = {int(p) for p in config.get("allowedPorts") or []}
    # The check sees properties, not the type; each type carries a required property of its own.
    if "ipProtocol" in props:  # aws.vpc.SecurityGroupIngressRule
        yield from _world_ingress(
            "ingress rule", props, ("cidrIpv4", "cidrIpv6"), "ipProtocol", allowed
        )
    elif "type" in props:  # aws.ec2.SecurityGroupRule (ingress or egress)
        if props.get("type") == "ingress":
            yield from _world_ingress(
                "ingress rule", props, ("cidrBlocks", "ipv6CidrBlocks"), "protocol", allowed
            )
    else:  # aws.ec2.SecurityGroup with inline blocks
        for index, block in enumerate(as_list(props.get("ingress"))):
            if isinstance(block, Mapping):
                yield from _world_ingress(
                    f"ingress[{index}]",
                    block,
                    ("cidrBlocks", "ipv6CidrBlocks"),
                    "protocol",
                    allowed,
                )


resource_policy(
    "sg-no-world-ingress",
    description="Security groups admit no traffic from the whole internet (0.0.0.0/0 or ::/0).",
    severity=Severity.HIGH,
    refs=(fsbp("EC2.18"), fsbp("EC2.19"), cis("5.2"), cis("5.3")),
    remediation=(
        "Replace `cidr_ipv4`/`cidr_ipv6` (or `cidr_blocks`/`ipv6_cidr_blocks`) of 0.0.0.0/0 and "
        "::/0 with `referenced_security_group_id` of the clients' security group or the VPC CIDR. "
        "A public load balancer's listener port may be listed in the policy config "
        "`allowedPorts` (tcp/udp only; never all protocols)."
    ),
    types=(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:ec2/securityGroup:SecurityGroup",
    ),
    check=_sg_no_world_ingress,
    config_schema={
        "allowedPorts": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": _MAX_PORT},
            "default": [],
            "description": "Ports that may be open to the internet (e.g. 443 on a public "
            "load balancer); none by default.",
        }
    },
)


def _sg_no_inline_rules(props: Props, config: Config) -> Iterator[str]:
    for key in ("ingress", "egress"):
        if as_list(props.get(key)):
            yield (
                f"`{key}` rules are inline; declare them as separate "
                f"aws.vpc.SecurityGroup{key.capitalize()}Rule resources"
            )


resource_policy(
    "sg-no-inline-rules",
    description="Security group rules are separate resources, not inline blocks.",
    severity=Severity.LOW,
    refs=(platform("NET-1"),),
    remediation=(
        "Remove `ingress`/`egress` from the `aws.ec2.SecurityGroup` and declare each rule as an "
        "`aws.vpc.SecurityGroupIngressRule` or `aws.vpc.SecurityGroupEgressRule` with a "
        "`description`: one reviewable, referenceable resource per rule (inline blocks and "
        "separate rules on one group also overwrite each other)."
    ),
    types=("aws:ec2/securityGroup:SecurityGroup",),
    check=_sg_no_inline_rules,
)


def _default_sg_no_rules(props: Props, config: Config) -> Iterator[str]:
    # Adopting the default group removes every rule not declared, so absent means none.
    for key in ("ingress", "egress"):
        count = len(as_list(props.get(key)))
        if count:
            yield f"the default security group declares {count} `{key}` rule(s); it must have none"


resource_policy(
    "default-sg-no-rules",
    description="Every VPC's default security group allows no inbound or outbound traffic.",
    severity=Severity.HIGH,
    refs=(fsbp("EC2.2"), cis("5.4")),
    remediation=(
        "Declare `aws.ec2.DefaultSecurityGroup(vpc_id=...)` without `ingress` and `egress` "
        "(Pulumi then removes all its rules); give workloads their own security groups."
    ),
    types=("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",),
    check=_default_sg_no_rules,
)


def _subnet_no_public_ip(props: Props, config: Config) -> Iterator[str]:
    if props.get("mapPublicIpOnLaunch") is not True:
        return
    tier = (props.get("tags") or {}).get("tier")
    if tier == "public" and config.get("allowPublicSubnets", True):
        return
    if tier == "public":
        yield "`mapPublicIpOnLaunch` is true and public subnets are not allowed here"
    elif tier is None:
        yield "`mapPublicIpOnLaunch` is true on a subnet without a `tier` tag"
    else:
        yield f"`mapPublicIpOnLaunch` is true on a subnet tagged tier={tier!r}, not 'public'"


resource_policy(
    "subnet-no-public-ip",
    description="Only subnets tagged tier=public assign public IPv4 addresses at launch.",
    severity=Severity.MEDIUM,
    refs=(fsbp("EC2.15"),),
    remediation=(
        "Set `map_public_ip_on_launch=False` on the `aws.ec2.Subnet` (NAT gateways and load "
        "balancers get their addresses explicitly); only a subnet tagged `tier: public` may set "
        "it, and only where the policy config `allowPublicSubnets` is true."
    ),
    types=("aws:ec2/subnet:Subnet",),
    check=_subnet_no_public_ip,
    config_schema={
        "allowPublicSubnets": {
            "type": "boolean",
            "default": True,
            "description": "Whether subnets tagged tier=public may map public IPs on launch.",
        }
    },
)


def _eks_endpoint_access(props: Props, config: Config) -> Iterator[str]:
    if get(props, "vpcConfig.endpointPrivateAccess") is not True:
        yield "`vpcConfig.endpointPrivateAccess` is not true: nodes reach the API over the internet"
    # AWS turns the public endpoint on unless it is explicitly switched off.
    if get(props, "vpcConfig.endpointPublicAccess", True) is False:
        return
    if not config.get("allowPublicEndpoint", False):
        yield "`vpcConfig.endpointPublicAccess` is not false: the API is open to the internet"
        return
    cidrs = as_list(get(props, "vpcConfig.publicAccessCidrs"))
    if not cidrs:
        # EKS defaults an absent allowlist to 0.0.0.0/0.
        yield "`vpcConfig.publicAccessCidrs` is not set: EKS opens the public endpoint to 0.0.0.0/0"
    for cidr in cidrs:
        if _is_world(cidr):
            yield f"`vpcConfig.publicAccessCidrs` contains {cidr}"


resource_policy(
    "eks-endpoint-access",
    description="EKS cluster APIs are private; a public endpoint, where allowed, has an allowlist.",
    severity=Severity.HIGH,
    refs=(fsbp("EKS.1"),),
    remediation=(
        "In `vpc_config` of the `aws.eks.Cluster` set `endpoint_private_access=True` and "
        "`endpoint_public_access=False`. Where the policy config `allowPublicEndpoint` is true "
        "(dev), a public endpoint needs `public_access_cidrs` naming office/VPN ranges, never "
        "0.0.0.0/0."
    ),
    types=("aws:eks/cluster:Cluster",),
    check=_eks_endpoint_access,
    config_schema={
        "allowPublicEndpoint": {
            "type": "boolean",
            "default": False,
            "description": "Whether the cluster API may also be public (with an allowlist).",
        }
    },
)


def _msk_no_public_access(props: Props, config: Config) -> Iterator[str]:
    access = get(props, "brokerNodeGroupInfo.connectivityInfo.publicAccess.type", "DISABLED")
    if access != "DISABLED":
        yield (
            f"`brokerNodeGroupInfo.connectivityInfo.publicAccess.type` is {access!r}: "
            "brokers are reachable from the internet"
        )


resource_policy(
    "msk-no-public-access",
    description="MSK brokers are not reachable from the internet.",
    severity=Severity.CRITICAL,
    refs=(fsbp("MSK.4"),),
    remediation=(
        "Remove `connectivity_info.public_access` from `broker_node_group_info` of the "
        "`aws.msk.Cluster` (or set its `type` to `DISABLED`); clients connect from the VPC."
    ),
    types=("aws:msk/cluster:Cluster",),
    check=_msk_no_public_access,
)


def _launch_template_imdsv2(props: Props, config: Config) -> Iterator[str]:
    options = get(props, "metadataOptions") or {}
    if not isinstance(options, Mapping):  # a list of one block (older providers)
        first = next(iter(as_list(options)), None)
        options = first if isinstance(first, Mapping) else {}
    if options.get("httpEndpoint") == "disabled":
        return  # no metadata service at all
    tokens = options.get("httpTokens")
    if tokens != "required":
        shown = "not set (defaults to 'optional')" if tokens is None else repr(tokens)
        yield f"`metadataOptions.httpTokens` is {shown}, not 'required': IMDSv1 stays available"
    limit = options.get("httpPutResponseHopLimit")
    maximum = int(config.get("maxHopLimit", 1))
    if not isinstance(limit, (int, float)):
        # AMIs registered for IMDSv2 (ImdsSupport v2.0, e.g. AL2023) default the limit to 2.
        yield f"`metadataOptions.httpPutResponseHopLimit` is not set (allowed: at most {maximum})"
    elif int(limit) > maximum:
        yield (
            f"`metadataOptions.httpPutResponseHopLimit` is {int(limit)}; allowed: at most "
            f"{maximum} (a higher limit lets pods reach the node role's credentials)"
        )


resource_policy(
    "launch-template-imdsv2",
    description="Launch templates require IMDSv2 tokens and keep the metadata hop limit low.",
    severity=Severity.HIGH,
    refs=(fsbp("EC2.170"), cis("5.6")),
    remediation=(
        "Set `metadata_options={'http_endpoint': 'enabled', 'http_tokens': 'required', "
        "'http_put_response_hop_limit': 1}` on the `aws.ec2.LaunchTemplate`; pods get AWS "
        "credentials from EKS Pod Identity, not from the node's instance profile."
    ),
    types=("aws:ec2/launchTemplate:LaunchTemplate",),
    check=_launch_template_imdsv2,
    config_schema={
        "maxHopLimit": {
            "type": "integer",
            "minimum": 1,
            "maximum": 64,
            "default": 1,
            "description": "Highest allowed httpPutResponseHopLimit.",
        }
    },
)

# Gateway endpoints exist for these two services; without a policy they allow everything.
_GATEWAY_SERVICES = (".s3", ".dynamodb")


def _full_access(statement: Mapping[str, Any]) -> bool:
    return (
        statement.get("Effect") == "Allow"
        and "*" in as_list(statement.get("Action"))
        and "*" in as_list(statement.get("Resource"))
        and not statement.get("Condition")
    )


def _vpc_endpoint_policy(props: Props, config: Config) -> Iterator[str]:
    service = str(props.get("serviceName") or "")
    # The provider creates a Gateway endpoint when the type is not given.
    if props.get("vpcEndpointType", "Gateway") != "Gateway" or not service.endswith(
        _GATEWAY_SERVICES
    ):
        return
    policy = props.get("policy")
    if not policy:
        yield f"`policy` is not set on the {service} gateway endpoint: it defaults to full access"
        return
    for index, statement in enumerate(statements(plain(policy))):
        if _full_access(statement):
            sid = statement.get("Sid") or f"#{index}"
            yield f"`policy` statement {sid} allows every action on every resource"


resource_policy(
    "vpc-endpoint-policy",
    description="S3 and DynamoDB gateway endpoints carry a policy narrower than full access.",
    severity=Severity.MEDIUM,
    refs=(platform("NET-2"),),
    remediation=(
        "Set `policy` on the `aws.ec2.VpcEndpoint` (e.g. this account's buckets via an "
        "`aws:ResourceAccount` condition plus the AWS-owned buckets the platform needs, such as "
        "ECR's layer bucket), so stolen credentials cannot move data to another account's bucket "
        "through the endpoint."
    ),
    types=("aws:ec2/vpcEndpoint:VpcEndpoint",),
    check=_vpc_endpoint_policy,
)


def _lambda_in_vpc(props: Props, config: Config) -> Iterator[str]:
    if not as_list(get(props, "vpcConfig.subnetIds")):
        yield "`vpcConfig.subnetIds` is empty: the function runs outside the VPC"


resource_policy(
    "lambda-in-vpc",
    # Security Hub control Lambda.3 (NIST SP 800-53 standard; not part of FSBP).
    description="Lambda functions run in the platform's VPC subnets.",
    severity=Severity.LOW,
    refs=(platform("NET-3"),),
    remediation=(
        "Set `vpc_config={'subnet_ids': [...private subnets...], 'security_group_ids': [...]}` "
        "on the `aws.lambda_.Function` so its traffic passes the VPC's security groups, "
        "endpoints and flow logs."
    ),
    types=("aws:lambda/function:Function",),
    check=_lambda_in_vpc,
)
