"""Where a finding is fixed: the stack-file line of the config key that controls its resource."""

from __future__ import annotations

import pytest

from blueprint.check.locations import config_key, key_lines, line_of, lineage, urn_types
from tests.conftest import PROJECT_DIR, stack_plan

STACK_FILE = """\
# a comment: feature-platform:onlineStore: is not a key here
config:
  pulumi:disable-default-providers:
    - aws
  feature-platform:environment: dev
  feature-platform:network:
    cidr: 10.10.0.0/16
  feature-platform:onlineStore:
    nodeType: cache.t4g.small
  feature-platform:streaming:
    brokers: 3
  feature-platform:tags:
    owner: ml-platform
"""

REPLICATION_GROUP = (
    "urn:pulumi:dev::feature-platform::featureplatform:platform:FeaturePlatform"
    "$featureplatform:data:OnlineStore"
    "$aws:elasticache/replicationGroup:ReplicationGroup::feature-platform-online-store-group"
)
TOKEN_SECRET = (
    "urn:pulumi:dev::feature-platform::featureplatform:data:OnlineStore"
    "$featureplatform:security:GeneratedSecret$aws:secretsmanager/secret:Secret::token"
)
MSK = "urn:pulumi:dev::feature-platform::featureplatform:data:Streaming$aws:msk/cluster:Cluster::k"
SUBNET = (
    "urn:pulumi:dev::feature-platform::featureplatform:network:Network$aws:ec2/subnet:Subnet::s"
)
PLATFORM_ROLE = (
    "urn:pulumi:dev::feature-platform::featureplatform:platform:FeaturePlatform"
    "$aws:iam/role:Role::r"
)


def test_key_lines_are_the_namespaces_top_level_keys() -> None:
    assert key_lines(STACK_FILE) == {
        "environment": 5,
        "network": 6,
        "onlineStore": 8,
        "streaming": 10,
        "tags": 12,
    }


@pytest.mark.parametrize(
    ("urn", "rule", "line"),
    [
        (REPLICATION_GROUP, "CKV_AWS_29", 8),  # the online store's replication group
        (MSK, "msk-tls-in-transit", 10),
        (SUBNET, "subnet-no-public-ip", 6),
        (SUBNET, "required-tags", 12),  # a tag rule is fixed in the tags, whatever the resource
        (TOKEN_SECRET, "secret-recovery-window", 1),  # secrets: set by the profile, not the file
        (PLATFORM_ROLE, "iam-role-max-session", 1),  # no key controls it: line 1
        ("(stack)", "stateful-resources-protected", 1),  # protection: not in the file
        ("/.github/workflows/pull-request.yml", "CKV_GHA_7", 1),
    ],
)
def test_a_finding_is_located_at_the_key_that_controls_its_resource(
    urn: str, rule: str, line: int
) -> None:
    assert line_of(urn, rule, key_lines(STACK_FILE), {}) == line


def test_the_nearest_component_wins() -> None:
    assert urn_types(TOKEN_SECRET) == (
        "aws:secretsmanager/secret:Secret",
        "featureplatform:security:GeneratedSecret",
        "featureplatform:data:OnlineStore",
    )
    assert config_key(urn_types(TOKEN_SECRET)) == "secrets"
    assert config_key(urn_types(REPLICATION_GROUP)) == "onlineStore"
    assert config_key(["aws:iam/role:Role", "featureplatform:platform:FeaturePlatform"]) is None
    assert urn_types("not a urn") == ()


def test_the_plans_parent_links_give_the_whole_chain() -> None:
    """The URN spells only the parent's type; the plan's parents give every ancestor."""
    plan = stack_plan("prod")
    chains = lineage(plan)
    group = next(
        r for r in plan.resources if r.type == "aws:elasticache/replicationGroup:ReplicationGroup"
    )
    assert chains[group.urn][:2] == (
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "featureplatform:data:OnlineStore",
    )
    assert "featureplatform:platform:FeaturePlatform" in chains[group.urn]
    bucket = next(r for r in plan.resources if r.type == "aws:s3/bucket:Bucket")
    assert config_key(chains[bucket.urn]) == "storage"
    # In the real prod stack file: the network's resources point at its network key.
    text = (PROJECT_DIR / "stacks" / "Pulumi.prod.yaml").read_text()
    lines = key_lines(text)
    subnet = next(r for r in plan.resources if r.type == "aws:ec2/subnet:Subnet")
    line = line_of(subnet.urn, "subnet-no-public-ip", lines, chains)
    assert text.splitlines()[line - 1].strip() == "feature-platform:network:"
