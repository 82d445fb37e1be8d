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
