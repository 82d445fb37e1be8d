"""A Mermaid flowchart of the captured plan: trust boundaries, tiers and data paths.

Everything drawn comes from the plan: subnets by their ``tier`` tag, NAT gateways and
endpoints from their resources, and the edges from property dependencies (a workload's
policy naming a bucket, a bucket's encryption naming a key, logging naming its target).
It renders on GitHub in a Markdown file or a PR comment.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from blueprint.capture import Plan, PlannedResource

DATA_TYPES = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:secretsmanager/secret:Secret": "secret",
    "aws:kms/key:Key": "key",
    "aws:cloudwatch/logGroup:LogGroup": "log group",
}


TIER_ORDER = {"public": 0, "private": 1, "data": 2}


def _node(resource: PlannedResource) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", resource.name)


def _label(plan: Plan, resource: PlannedResource) -> str:
    short = resource.name.removeprefix(f"{plan.project}-")
    return f"{short}<br/><i>{DATA_TYPES.get(resource.type, resource.type.rsplit(':', 1)[-1])}</i>"


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


def render(plan: Plan) -> str:
    by_urn = {r.urn: r for r in plan.resources}
    provider = next((r for r in plan.resources if r.type == "pulumi:providers:aws"), None)
    account = region = "?"
    if provider:
        account = json.loads(provider.inputs.get("allowedAccountIds", '["?"]'))[0]
        region = provider.inputs.get("region", "?")
    lines = ["flowchart LR", '  internet(("internet"))']
    lines.append(f'  subgraph account["AWS account {account} · {region}"]')

    for vpc in plan.of_type("aws:ec2/vpc:Vpc"):
        lines.append(f'    subgraph {_node(vpc)}["VPC {vpc.inputs.get("cidrBlock", "")}"]')
        tiers: dict[str, list[PlannedResource]] = defaultdict(list)
        for subnet in plan.of_type("aws:ec2/subnet:Subnet"):
            tiers[subnet.inputs.get("tags", {}).get("tier", "other")].append(subnet)
        notes = {
            "public": f"{len(plan.of_type('aws:ec2/natGateway:NatGateway'))} NAT gateway(s)",
            "private": "workloads (EKS nodes and pods)",
            "data": "data stores · no internet route",
        }
        for tier, subnets in sorted(tiers.items(), key=lambda t: TIER_ORDER.get(t[0], 9)):
            cidrs = "<br/>".join(s.inputs.get("cidrBlock", "") for s in subnets)
            lines.append(f'      {tier}["{tier} subnets · {notes.get(tier, "")}<br/>{cidrs}"]')
        endpoints = [
            e.inputs.get("serviceName", "").split(f".{region}.", 1)[-1]
            for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
            if e.inputs.get("vpcEndpointType") == "Interface"
        ]
        if endpoints:
            lines.append(f'      endpoints["interface endpoints<br/>{", ".join(endpoints)}"]')
        lines.append("    end")
        lines += [
            "    public --> internet",
            "    private -->|NAT| public",
            "    private -->|443| endpoints",
        ]

    workloads = plan.of_type("featureplatform:identity:WorkloadIdentity")
    if workloads:
        lines.append('    subgraph identities["workload identities (EKS Pod Identity)"]')
        lines += [f'      {_node(w)}["{_label(plan, w)}"]' for w in workloads]
        lines.append("    end")
    lines.append('    subgraph regional["regional services"]')
    data = [r for r in plan.resources if r.type in DATA_TYPES]
    for resource in data:
        shape = ('[("', '")]') if resource.type == "aws:s3/bucket:Bucket" else ('["', '"]')
        lines.append(f"      {_node(resource)}{shape[0]}{_label(plan, resource)}{shape[1]}")
    lines.append("    end")
    lines.append("  end")

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
    if plan.of_type("aws:ec2/vpc:Vpc") and any(
        e.inputs.get("vpcEndpointType") == "Gateway"
        for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    ):
        for bucket in plan.of_type("aws:s3/bucket:Bucket"):
            edges.add(f"  private -->|S3 gateway endpoint| {_node(bucket)}")
    return "\n".join(lines + sorted(edges)) + "\n"


def markdown(plan: Plan) -> str:
    return f"```mermaid\n{render(plan)}```\n"
