"""The checked-in stacks under their environment's enforcement, and mutations of them."""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import pulumi
import pytest
from rich.console import Console

from blueprint.capture import capture
from blueprint.check.judge import Judgement, judge_stack, write_reports
from tests.conftest import PROJECT_DIR

# Cost and availability rules that dev runs advisory (policies/config/dev.json) and breaks
# on purpose: single-AZ cache, no deletion protection, force-destroy buckets.
DEV_ADVISORY = {"s3-bucket-no-force-destroy", "elasticache-multi-az", "eks-deletion-protection"}


@pytest.mark.policy
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_passes_its_environments_policies(stack: str) -> None:
    report = judge_stack(PROJECT_DIR, stack, use_checkov=False).pack_report
    assert report.passed, [(f.policy, f.urn, f.message) for f in report.at_level("mandatory")]
    advisory = {f.policy for f in report.at_level("advisory")}
    expected = {"dev": DEV_ADVISORY, "staging": {"eks-deletion-protection"}, "prod": set()}
    assert advisory == expected[stack]


def _mutate(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult | None:
    """Four regressions a careless change could make to prod."""
    props = dict(args.props)
    opts = args.opts
    if args.name.endswith("-network-endpoints-https"):
        props["cidr_ipv4"] = "0.0.0.0/0"  # HTTPS endpoints opened to the internet
    elif args.type_ == "aws:elasticache/replicationGroup:ReplicationGroup":
        props["transit_encryption_enabled"] = False
    elif args.name.endswith("-network-flow-logs"):
        props["retention_in_days"] = 7
    elif args.type_ == "aws:msk/cluster:Cluster":
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=False))
    else:
        return None
    return pulumi.ResourceTransformationResult(props, opts)


@functools.cache
def _mutated_prod() -> Judgement:
    mutated = functools.partial(capture, transformations=[_mutate])
    return judge_stack(PROJECT_DIR, "prod", capture_plan=mutated, use_checkov=False)


@pytest.mark.policy
def test_regressions_in_prod_fail_naming_the_policy_and_the_resource() -> None:
    report = _mutated_prod().pack_report
    assert not report.passed
    found = {(f.policy, (f.urn or "").rsplit("::", 1)[-1]) for f in report.at_level("mandatory")}
    assert found == {
        ("sg-no-world-ingress", "feature-platform-network-endpoints-https"),
        ("elasticache-tls-in-transit", "feature-platform-online-store-group"),
        ("log-retention-minimum", "feature-platform-network-flow-logs"),
        ("stateful-resources-protected", "feature-platform-streaming-cluster"),
    }


@pytest.mark.policy
def test_sarif_locates_prod_findings_at_the_key_that_controls_them(tmp_path: Path) -> None:
    """The world-open endpoint rule is the network's: its SARIF result points at the
    ``feature-platform:network`` line of the prod stack file; what prod leaves to its profile
    (the online store, logging, protection) falls back to line 1."""
    sarif_file = tmp_path / "prod.sarif"
    write_reports(
        _mutated_prod(), Console(file=io.StringIO()), project_dir=PROJECT_DIR, sarif_file=sarif_file
    )
    document = json.loads(sarif_file.read_text())
    located = {
        (r["ruleId"], r["properties"]["urn"].rsplit("::", 1)[-1]): r["locations"][0]
        for run in document["runs"]
        for r in run["results"]
    }
    stack_file = (PROJECT_DIR / "stacks" / "Pulumi.prod.yaml").read_text().splitlines()
    endpoint = located[("sg-no-world-ingress", "feature-platform-network-endpoints-https")]
    line = endpoint["physicalLocation"]["region"]["startLine"]
    assert stack_file[line - 1].strip() == "feature-platform:network:"
    assert endpoint["physicalLocation"]["artifactLocation"]["uri"] == "stacks/Pulumi.prod.yaml"
    tls = located[("elasticache-tls-in-transit", "feature-platform-online-store-group")]
    assert tls["physicalLocation"]["region"]["startLine"] == 1  # no onlineStore key in prod
