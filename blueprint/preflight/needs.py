"""What a stack's plan would consume, counted from the captured plan (no AWS calls).

Each count is keyed by the quota's scope: ``""`` for a per-Region or per-account quota, an
Availability Zone for NAT gateways, a planned VPC's name for interface endpoints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from blueprint.capture import Plan, PlannedResource

Scoped = dict[str, int]

LAMBDA = "aws:lambda/function:Function"
VPC = "aws:ec2/vpc:Vpc"
EIP = "aws:ec2/eip:Eip"
NAT = "aws:ec2/natGateway:NatGateway"
SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
MSK = "aws:msk/cluster:Cluster"
EKS = "aws:eks/cluster:Cluster"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"


@dataclass(frozen=True)
class PlanNeeds:
    reserved_concurrency: Scoped = field(default_factory=dict)
    vpcs: Scoped = field(default_factory=dict)
    elastic_ips: Scoped = field(default_factory=dict)
    nat_gateways_per_az: Scoped = field(default_factory=dict)
    interface_endpoints_per_vpc: Scoped = field(default_factory=dict)
    msk_brokers: Scoped = field(default_factory=dict)
    eks_clusters: Scoped = field(default_factory=dict)
    cache_nodes: Scoped = field(default_factory=dict)


def _int(value: Any, default: int = 0) -> int:
    # Plan inputs arrive as protobuf numbers (floats); unknowns in a preview are strings.
    return int(value) if isinstance(value, int | float) else default


def _whole(count: int) -> Scoped:
    return {"": count} if count else {}


def reserved_concurrency(plan: Plan) -> int:
    """Concurrency the plan's functions reserve. -1 (the provider's default) and 0 reserve
    nothing from the account's pool, so only positive values count."""
    return sum(
        max(_int(f.inputs.get("reservedConcurrentExecutions"), -1), 0) for f in plan.of_type(LAMBDA)
    )


def _nat_gateways_per_az(plan: Plan) -> Scoped:
    # A NAT gateway names its subnet by ID; the planned subnet with that ID knows its AZ.
    zones = {s.id: str(s.inputs.get("availabilityZone", "")) for s in plan.of_type(SUBNET) if s.id}
    per_az: Counter[str] = Counter(
        zones.get(str(nat.inputs.get("subnetId")), "") or "unknown AZ" for nat in plan.of_type(NAT)
    )
    return dict(per_az)


def _interface_endpoints_per_vpc(plan: Plan) -> Scoped:
    names = {v.id: v.name for v in plan.of_type(VPC) if v.id}
    per_vpc: Counter[str] = Counter(
        names.get(str(e.inputs.get("vpcId")), str(e.inputs.get("vpcId")))
        for e in plan.of_type(ENDPOINT)
        if e.inputs.get("vpcEndpointType") == "Interface"
    )
    return dict(per_vpc)


def _cache_nodes(resource: PlannedResource) -> int:
    inputs = resource.inputs
    if resource.type == CACHE_CLUSTER:
        return _int(inputs.get("numCacheNodes"), 1)
    if "numNodeGroups" in inputs:  # cluster mode: shards x (primary + replicas)
        return _int(inputs["numNodeGroups"], 1) * (1 + _int(inputs.get("replicasPerNodeGroup")))
    return _int(inputs.get("numCacheClusters"), 1)


def plan_needs(plan: Plan) -> PlanNeeds:
    # A cluster that joins a replication group is one of the group's nodes, counted there.
    members = [c for c in plan.of_type(CACHE_CLUSTER) if not c.inputs.get("replicationGroupId")]
    caches = plan.of_type(REPLICATION_GROUP) + members
    return PlanNeeds(
        reserved_concurrency=_whole(reserved_concurrency(plan)),
        vpcs=_whole(len(plan.of_type(VPC))),
        elastic_ips=_whole(len(plan.of_type(EIP))),
        nat_gateways_per_az=_nat_gateways_per_az(plan),
        interface_endpoints_per_vpc=_interface_endpoints_per_vpc(plan),
        msk_brokers=_whole(
            sum(_int(c.inputs.get("numberOfBrokerNodes")) for c in plan.of_type(MSK))
        ),
        eks_clusters=_whole(len(plan.of_type(EKS))),
        cache_nodes=_whole(sum(_cache_nodes(c) for c in caches)),
    )
