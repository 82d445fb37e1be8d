"""The Mermaid diagram is drawn from the plan: tiers, boundaries and data paths."""

from __future__ import annotations

import re

from blueprint.capture import Plan
from blueprint.diagram import markdown, render
from tests.conftest import stack_config


def test_diagram_shows_the_account_vpc_and_tiers(plan: Plan) -> None:
    config = stack_config(plan.stack)
    text = render(plan)
    assert text.startswith("flowchart LR\n")
    assert f"AWS account {config.aws.account_id} · {config.aws.region}" in text
    assert f"VPC {config.network.cidr}" in text
    for subnet in config.subnet_plan.subnets:
        assert subnet.cidr in text
    assert "no internet route" in text
    assert text.count("subgraph") == len(re.findall(r"^\s*end$", text, flags=re.MULTILINE))


def test_diagram_edges_follow_the_workload_policies(dev: Plan) -> None:
    text = render(dev)
    assert (
        "feature_platform_materializer -->|policy| feature_platform_storage_offline_store_bucket"
        in text
    )
    assert (
        "feature_platform_feature_server -->|policy| feature_platform_storage_offline_store_bucket"
        not in text
    )
    assert "-.->|access logs| feature_platform_storage_access_logs_bucket" in text


def test_markdown_wraps_the_diagram_for_github(dev: Plan) -> None:
    assert markdown(dev).startswith("```mermaid\nflowchart LR")


def _tier_block(text: str, tier: str) -> str:
    match = re.search(rf"^(\s*)subgraph {tier}\[.*?^\1end$", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"no {tier} tier subgraph"
    return match.group(0)


def test_diagram_places_eks_msk_and_the_cache_in_their_tiers(plan: Plan) -> None:
    text = render(plan)
    private, data = _tier_block(text, "private"), _tier_block(text, "data")
    assert "feature_platform_cluster_eks[" in private and "EKS control plane" in private
    assert "EKS node group" in private
    assert "feature_platform_online_store_rotation[" in private
    assert "feature_platform_streaming_cluster[" in data and "MSK (Kafka)" in data
    assert 'feature_platform_online_store_group[("' in data and "ElastiCache valkey" in data


def test_diagram_draws_the_data_paths_the_security_groups_allow(dev: Plan) -> None:
    text = render(dev)
    for group in ("general", "serving"):
        nodes = f"feature_platform_cluster_{group}"
        assert f"{nodes} -->|9098| feature_platform_streaming_cluster" in text
        assert f"{nodes} -->|6379| feature_platform_online_store_group" in text
    assert (
        "feature_platform_online_store_rotation -->|6379| feature_platform_online_store_group"
        in text
    )
    assert (
        "feature_platform_online_store_rotation -->|rotates| "
        "feature_platform_online_store_auth_secret" in text
    )
    # Only what a rule admits: nothing reaches the cache or MSK from the control plane.
    assert "feature_platform_cluster_eks -->|6379|" not in text
    assert "-->|9098| feature_platform_online_store_group" not in text
