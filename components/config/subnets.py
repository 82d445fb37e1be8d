"""The subnet plan: one subnet per AZ per tier, carved from the VPC CIDR with ``ipaddress``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

TIERS = ("private", "data", "public")
"""Workloads (EKS), data stores (MSK, ElastiCache; no internet route), NAT and public LBs."""


@dataclass(frozen=True)
class Subnet:
    tier: str
    zone: str
    cidr: str


@dataclass(frozen=True)
class SubnetPlan:
    vpc_cidr: str
    subnets: tuple[Subnet, ...]

    def tier(self, tier: str) -> tuple[Subnet, ...]:
        return tuple(s for s in self.subnets if s.tier == tier)


def plan_subnets(cidr: str, zones: tuple[str, ...], prefixes: dict[str, int]) -> SubnetPlan:
    """Allocate subnets largest first, each aligned to its own size.

    Allocating in descending size keeps every block naturally aligned with no gaps, so the
    plan is as dense as possible and deterministic: the same settings always give the same
    CIDRs (a changed CIDR replaces the subnet, so the plan must never shuffle).
    """
    vpc = ipaddress.IPv4Network(cidr)
    order = sorted(prefixes, key=lambda tier: (prefixes[tier], TIERS.index(tier)))
    cursor = int(vpc.network_address)
    subnets: list[Subnet] = []
    for tier in order:
        prefix = prefixes[tier]
        if prefix < vpc.prefixlen:
            raise ValueError(
                f"{tier} subnets (/{prefix}) are larger than the VPC (/{vpc.prefixlen})"
            )
        size = 2 ** (32 - prefix)
        for zone in zones:
            cursor = -(-cursor // size) * size  # align up to the block size
            block = ipaddress.IPv4Network((cursor, prefix))
            if not block.subnet_of(vpc):
                needed = sum(len(zones) * 2 ** (32 - p) for p in prefixes.values())
                wanted = ", ".join(f"{len(zones)} x /{prefixes[t]} {t}" for t in order)
                raise ValueError(
                    f"the subnet plan ({wanted}) needs {needed} addresses but {cidr} has "
                    f"{vpc.num_addresses}; use smaller subnets (a larger prefix) or a larger VPC"
                )
            subnets.append(Subnet(tier=tier, zone=zone, cidr=str(block)))
            cursor += size
    return SubnetPlan(vpc_cidr=cidr, subnets=tuple(subnets))
