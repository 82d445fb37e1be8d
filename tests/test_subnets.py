"""The subnet plan: inside the VPC, no overlaps, one subnet per AZ per tier, stable."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from components.config.subnets import TIERS, plan_subnets
from tests.conftest import STACKS, stack_config

ZONES = ("eu-central-1a", "eu-central-1b", "eu-central-1c")


@pytest.mark.parametrize("stack", STACKS)
def test_checked_in_plans_fit_without_overlap(stack: str) -> None:
    config = stack_config(stack)
    plan = config.subnet_plan
    vpc = ipaddress.IPv4Network(plan.vpc_cidr)
    blocks = [ipaddress.IPv4Network(s.cidr) for s in plan.subnets]
    assert all(block.subnet_of(vpc) for block in blocks)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(blocks, 2))
    for tier in TIERS:
        assert [s.zone for s in plan.tier(tier)] == list(config.availability_zones)


def test_a_small_vpc_fits_with_small_subnets() -> None:
    plan = plan_subnets("10.0.0.0/20", ZONES, {"private": 22, "data": 26, "public": 26})
    assert [s.cidr for s in plan.tier("private")] == ["10.0.0.0/22", "10.0.4.0/22", "10.0.8.0/22"]
    assert plan.tier("data")[0].cidr == "10.0.12.0/26"


def test_plan_is_deterministic() -> None:
    prefixes = {"private": 18, "data": 22, "public": 24}
    assert plan_subnets("10.1.0.0/16", ZONES, prefixes) == plan_subnets(
        "10.1.0.0/16", ZONES, prefixes
    )


def test_every_block_is_aligned_to_its_size() -> None:
    plan = plan_subnets("172.16.0.0/16", ZONES, {"private": 19, "data": 23, "public": 25})
    for subnet in plan.subnets:
        ipaddress.IPv4Network(subnet.cidr, strict=True)  # raises if host bits were set


def test_plan_that_overflows_is_rejected_with_the_numbers() -> None:
    with pytest.raises(ValueError, match=r"needs 200448 addresses but 10\.0\.0\.0/16 has 65536"):
        plan_subnets("10.0.0.0/16", ZONES, {"private": 16, "data": 22, "public": 24})


def test_adding_a_zone_adds_subnets_and_moves_none() -> None:
    prefixes = {"private": 18, "data": 22, "public": 24}
    two = plan_subnets("10.10.0.0/16", ZONES[:2], prefixes)
    three = plan_subnets("10.10.0.0/16", ZONES, prefixes)
    assert set(two.subnets) < set(three.subnets)
    assert len(three.subnets) - len(two.subnets) == 3  # one new subnet per tier


def test_a_small_vpc_reserves_the_third_zone_too() -> None:
    # Two zones alone would use 3072 of 4096 addresses; with the third zone's slots, 4608.
    with pytest.raises(ValueError, match="needs 4608 addresses"):
        plan_subnets("10.0.0.0/20", ZONES[:2], {"private": 22, "data": 24, "public": 24})
