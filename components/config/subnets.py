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


ZONE_SLOTS = 3
"""Every tier reserves room for three zones, used or not, so a 2-AZ VPC can grow to 3 AZs by
adding subnets: no existing subnet moves (a moved CIDR would mean replacing the subnet, its
NAT gateway and every ENI in it)."""


def plan_subnets(cidr: str, zones: tuple[str, ...], prefixes: dict[str, int]) -> SubnetPlan:
    """One subnet per zone per tier, at a fixed slot: zone ``i`` of a tier is always block ``i``.

    Tiers are laid out largest first, each block aligned to its own size, so the plan is
    dense and deterministic: the same settings always give the same CIDRs. Changing a
    tier's prefix re-plans the tiers after it, which replaces their subnets.
    """
    if len(zones) > ZONE_SLOTS:
        raise ValueError(f"{len(zones)} zones; the plan has room for {ZONE_SLOTS}")
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
        cursor = -(-cursor // size) * size  # align up to the block size
        if not ipaddress.IPv4Network((cursor + (ZONE_SLOTS - 1) * size, prefix)).subnet_of(vpc):
            needed = sum(ZONE_SLOTS * 2 ** (32 - p) for p in prefixes.values())
            wanted = ", ".join(f"{ZONE_SLOTS} x /{prefixes[t]} {t}" for t in order)
            raise ValueError(
                f"the subnet plan ({wanted}) needs {needed} addresses but {cidr} has "
                f"{vpc.num_addresses}; use smaller subnets (a larger prefix) or a larger VPC"
            )
        for slot, zone in enumerate(zones):
            block = ipaddress.IPv4Network((cursor + slot * size, prefix))
            subnets.append(Subnet(tier=tier, zone=zone, cidr=str(block)))
        cursor += ZONE_SLOTS * size
    return SubnetPlan(vpc_cidr=cidr, subnets=tuple(subnets))
