"""A Mermaid flowchart of the captured plan: trust boundaries, tiers and data paths.

Everything drawn comes from the plan: subnets by their ``tier`` tag, NAT gateways and
endpoints from their resources, the EKS cluster, node groups, MSK, ElastiCache and the
rotation function inside the tier whose subnets they name, and the edges from property
dependencies (a workload's policy naming a bucket, logging naming its target) and from
security-group rules (an ingress rule admitting one group's members to another's on a port:
nodes to MSK on 9098, nodes and the rotation function to the cache on 6379).
It renders on GitHub in a Markdown file or a PR comment.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable

from blueprint.capture import Plan, PlannedResource

DATA_TYPES = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:secretsmanager/secret:Secret": "secret",
    "aws:kms/key:Key": "key",
    "aws:cloudwatch/logGroup:LogGroup": "log group",
}


TIER_ORDER = {"public": 0, "private": 1, "data": 2}

IN_VPC_TYPES = {
    "aws:eks/cluster:Cluster": "EKS control plane",
    "aws:eks/nodeGroup:NodeGroup": "EKS node group",
    "aws:lambda/function:Function": "Lambda",
    "aws:msk/cluster:Cluster": "MSK (Kafka)",
    "aws:elasticache/replicationGroup:ReplicationGroup": "ElastiCache",
}
"""What runs in the VPC, drawn in the tier of the subnets it names."""
VERSION_INPUTS = ("version", "kafkaVersion", "engine", "engineVersion", "runtime")
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
# Properties placing a resource in subnets or security groups; a launch template or subnet
# group is followed one step (a node group's SGs are its launch template's).
PLACEMENT_INPUTS = (
    "vpcConfig",
    "subnetIds",
    "securityGroupIds",
    "brokerNodeGroupInfo",
    "subnetGroupName",
    "launchTemplate",
    "vpcSecurityGroupIds",
)
VIA_TYPES = ("aws:ec2/launchTemplate:LaunchTemplate", "aws:elasticache/subnetGroup:SubnetGroup")


def _node(resource: PlannedResource) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", resource.name)


def _label(plan: Plan, resource: PlannedResource) -> str:
    short = resource.name.removeprefix(f"{plan.project}-")
    return f"{short}<br/><i>{DATA_TYPES.get(resource.type, resource.type.rsplit(':', 1)[-1])}</i>"


def _in_vpc_label(plan: Plan, resource: PlannedResource) -> str:
    short = resource.name.removeprefix(f"{plan.project}-")
    details = " ".join(str(resource.inputs[k]) for k in VERSION_INPUTS if resource.inputs.get(k))
    return f"{short}<br/><i>{IN_VPC_TYPES[resource.type]} {details}</i>".replace(" </i>", "</i>")


def _placement(resource: PlannedResource, by_urn: dict[str, PlannedResource]) -> set[str]:
    """URNs of the subnets and security groups ``resource`` is placed in."""
    found: set[str] = set()
    for prop in PLACEMENT_INPUTS:
        for urn in resource.property_dependencies.get(prop, []):
            target = by_urn.get(urn)
            if target is None:
                continue
            if target.type in VIA_TYPES:
                found |= _placement(target, by_urn)
            elif target.type in (SUBNET, SECURITY_GROUP):
                found.add(urn)
    if resource.type == "aws:eks/cluster:Cluster":
        # A rule naming the cluster means the security group EKS creates for it. Nodes carry
        # it too, but what such a rule admits is the control plane (webhooks, kubelet).
        found.add(resource.urn)
    return found


def _tier(placed: set[str], by_urn: dict[str, PlannedResource]) -> str | None:
    tiers = sorted(
        {
            str(by_urn[u].inputs.get("tags", {}).get("tier", "other"))
            for u in placed
            if by_urn[u].type == SUBNET
        }
    )
    return tiers[0] if len(tiers) == 1 else None


def _port_edges(plan: Plan, in_vpc: list[PlannedResource], placed: dict[str, set[str]]) -> set[str]:
    """``a -->|port| b`` for each ingress rule admitting a's security group to b's."""
    ports: dict[tuple[str, str], set[int]] = defaultdict(set)
    for rule in plan.of_type(INGRESS_RULE):
        source = rule.property_dependencies.get("referencedSecurityGroupId", [])
        target = rule.property_dependencies.get("securityGroupId", [])
        low, high = rule.inputs.get("fromPort"), rule.inputs.get("toPort")
        if not source or not target or source == target or low is None or low != high:
            continue  # CIDR rules, a group admitting itself, port ranges: not a data path
        for src in (r for r in in_vpc if source[0] in placed[r.urn]):
            for dst in (r for r in in_vpc if target[0] in placed[r.urn]):
                if src.urn != dst.urn:
                    ports[_node(src), _node(dst)].add(int(low))
    return {
        f"  {src} -->|{', '.join(str(p) for p in sorted(found))}| {dst}"
        for (src, dst), found in ports.items()
    }


def _owner(plan: Plan, resource: PlannedResource, type_: str) -> PlannedResource | None:
    """The nearest ancestor of ``type_`` (a role policy belongs to its WorkloadIdentity)."""
    urn = resource.parent
    while urn:
        parent = next((r for r in plan.resources if r.urn == urn), None)
        if parent is None:
            return None
        if parent.type == type_:
            return parent
        urn = parent.parent
    return None


Member = Callable[[PlannedResource, str], str]
"""Draws one in-VPC resource at an indent."""


def render(plan: Plan) -> str:
    by_urn = {r.urn: r for r in plan.resources}
    provider = next((r for r in plan.resources if r.type == "pulumi:providers:aws"), None)
    account = region = "?"
    if provider:
        account = json.loads(provider.inputs.get("allowedAccountIds", '["?"]'))[0]
        region = provider.inputs.get("region", "?")
    lines = ["flowchart LR", '  internet(("internet"))']
    lines.append(f'  subgraph account["AWS account {account} · {region}"]')
    in_vpc = [r for r in plan.resources if r.type in IN_VPC_TYPES]
    placed = {r.urn: _placement(r, by_urn) for r in in_vpc}
    members: dict[str | None, list[PlannedResource]] = defaultdict(list)
    for resource in in_vpc:
        members[_tier(placed[resource.urn], by_urn)].append(resource)

    def member(resource: PlannedResource, indent: str) -> str:
        shape = ('[("', '")]') if "elasticache" in resource.type else ('["', '"]')
        return f"{indent}{_node(resource)}{shape[0]}{_in_vpc_label(plan, resource)}{shape[1]}"

    for vpc in plan.of_type("aws:ec2/vpc:Vpc"):
        lines += _vpc_lines(plan, vpc, members, member, region)
    lines += _regional_lines(plan, members, member)
    lines.append("  end")
    edges = _port_edges(plan, in_vpc, placed) | _dependency_edges(plan, by_urn)
    return "\n".join(lines + sorted(edges)) + "\n"


def _vpc_lines(
    plan: Plan,
    vpc: PlannedResource,
    members: dict[str | None, list[PlannedResource]],
    member: Member,
    region: str,
) -> list[str]:
    """The VPC with its subnet tiers, what runs in each (taken out of ``members``), and the
    interface endpoints."""
    lines = [f'    subgraph {_node(vpc)}["VPC {vpc.inputs.get("cidrBlock", "")}"]']
    tiers: dict[str, list[PlannedResource]] = defaultdict(list)
    for subnet in plan.of_type(SUBNET):
        tiers[subnet.inputs.get("tags", {}).get("tier", "other")].append(subnet)
    notes = {
        "public": f"{len(plan.of_type('aws:ec2/natGateway:NatGateway'))} NAT gateway(s)",
        "private": "workloads (EKS nodes and pods)",
        "data": "data stores · no internet route",
    }
    for tier, subnets in sorted(tiers.items(), key=lambda t: TIER_ORDER.get(t[0], 9)):
        cidrs = "<br/>".join(s.inputs.get("cidrBlock", "") for s in subnets)
        title = f"{tier} subnets · {notes.get(tier, '')}<br/>{cidrs}"
        if not members.get(tier):
            lines.append(f'      {tier}["{title}"]')
            continue
        lines.append(f'      subgraph {tier}["{title}"]')
        lines += [member(r, "        ") for r in members.pop(tier)]
        lines.append("      end")
    lines += [member(r, "      ") for r in members.pop(None, [])]
    endpoints = [
        e.inputs.get("serviceName", "").split(f".{region}.", 1)[-1]
        for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs.get("vpcEndpointType") == "Interface"
    ]
    if endpoints:
        lines.append(f'      endpoints["interface endpoints<br/>{", ".join(endpoints)}"]')
    lines.append("    end")
    return [
        *lines,
        "    public --> internet",
        "    private -->|NAT| public",
        "    private -->|443| endpoints",
    ]


def _regional_lines(
    plan: Plan, members: dict[str | None, list[PlannedResource]], member: Member
) -> list[str]:
    """Workload identities, the regional data services, and anything left unplaced."""
    lines = []
    workloads = plan.of_type("featureplatform:identity:WorkloadIdentity")
    if workloads:
        lines.append('    subgraph identities["workload identities (EKS Pod Identity)"]')
        lines += [f'      {_node(w)}["{_label(plan, w)}"]' for w in workloads]
        lines.append("    end")
    lines.append('    subgraph regional["regional services"]')
    for resource in (r for r in plan.resources if r.type in DATA_TYPES):
        shape = ('[("', '")]') if resource.type == "aws:s3/bucket:Bucket" else ('["', '"]')
        lines.append(f"      {_node(resource)}{shape[0]}{_label(plan, resource)}{shape[1]}")
    # Without a VPC in the plan (or in subnets of no tier drawn): still shown, never dropped.
    lines += [member(r, "      ") for placed_in in members.values() for r in placed_in]
    lines.append("    end")
    return lines


def _dependency_edges(plan: Plan, by_urn: dict[str, PlannedResource]) -> set[str]:
    """Edges read from what feeds what: policies, access logs, flow logs, rotation, S3."""
    edges: set[str] = set()
    for resource in plan.resources:
        deps = {u for urns in resource.property_dependencies.values() for u in urns}
        targets = [by_urn[u] for u in deps if u in by_urn and by_urn[u].type in DATA_TYPES]
        if resource.type == "aws:iam/rolePolicy:RolePolicy":
            owner = _owner(plan, resource, "featureplatform:identity:WorkloadIdentity")
            for target in targets:
                if owner and target.type != "aws:kms/key:Key":
                    edges.add(f"  {_node(owner)} -->|policy| {_node(target)}")
        elif resource.type == "aws:s3/bucketLogging:BucketLogging":
            source = [by_urn[u] for u in resource.property_dependencies.get("bucket", [])]
            target_urns = resource.property_dependencies.get("targetBucket", [])
            for src in source:
                for urn in target_urns:
                    edges.add(f"  {_node(src)} -.->|access logs| {_node(by_urn[urn])}")
        elif resource.type == "aws:ec2/flowLog:FlowLog":
            for target in targets:
                edges.add(f"  private -.->|flow logs| {_node(target)}")
        elif resource.type == "aws:secretsmanager/secretRotation:SecretRotation":
            for function in resource.property_dependencies.get("rotationLambdaArn", []):
                for secret in resource.property_dependencies.get("secretId", []):
                    if function in by_urn and secret in by_urn:
                        edges.add(
                            f"  {_node(by_urn[function])} -->|rotates| {_node(by_urn[secret])}"
                        )
    if plan.of_type("aws:ec2/vpc:Vpc") and any(
        e.inputs.get("vpcEndpointType") == "Gateway"
        for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    ):
        for bucket in plan.of_type("aws:s3/bucket:Bucket"):
            edges.add(f"  private -->|S3 gateway endpoint| {_node(bucket)}")
    return edges


def markdown(plan: Plan) -> str:
    return f"```mermaid\n{render(plan)}```\n"
