"""Review stacks: a pull request's copy of dev, in dev's account, that collides with nothing."""

from __future__ import annotations

import pytest

from blueprint.capture import Plan, capture
from components.config.loader import ConfigError, parse_stack_config
from tests.conftest import PROJECT_DIR, namespace_values, stack_plan

REVIEW = "pr-42"

# Names that are unique only inside their parent (a topic in its cluster, a rule namespace in
# its workspace), or that reference another resource's name rather than naming this one.
PARENT_SCOPED = {
    ("aws:msk/topic:Topic", "name"),
    ("aws:amp/ruleGroupNamespace:RuleGroupNamespace", "name"),
}
NAME_KEYS = (
    "name",
    "clusterName",
    "replicationGroupId",
    "alarmName",
    "dashboardName",
    "functionName",
    "roleName",
    "projectName",
    "alias",
)


def review_plan() -> Plan:
    return capture(PROJECT_DIR, REVIEW, stack_file=PROJECT_DIR / "stacks" / "Pulumi.dev.yaml")


def account_wide_names(plan: Plan) -> dict[tuple[str, str, str], str]:
    """The names the program sets (auto-names get a random suffix per stack in a real
    deploy; a ``namePrefix`` gets one from AWS), by (type, key, value)."""
    found = {}
    for resource in plan.resources:
        if resource.type.startswith(("pulumi:", "kubernetes:")):
            continue  # Kubernetes objects live in the review stack's own cluster
        for key in NAME_KEYS:
            value = resource.inputs.get(key)
            if isinstance(value, str) and (resource.type, key) not in PARENT_SCOPED:
                found[(resource.type, key, value)] = resource.urn
    return found


@pytest.fixture(scope="module")
def review() -> Plan:
    return review_plan()


def test_a_review_stack_shares_no_name_with_dev(review: Plan) -> None:
    dev = account_wide_names(stack_plan("dev"))
    mine = account_wide_names(review)
    assert mine, "the review stack names nothing: the comparison would prove nothing"
    assert sorted(set(dev) & set(mine)) == []


def test_a_review_stacks_physical_names_carry_its_pull_request(review: Plan) -> None:
    (cluster,) = review.of_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["name"] == "feature-platform-dev-pr42"
    (group,) = review.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group.inputs["replicationGroupId"].startswith("feature-platform-dev-pr42-")
    aliases = [a.inputs["name"] for a in review.of_type("aws:kms/alias:Alias")]
    assert aliases and all(a.startswith("alias/feature-platform-dev-pr42-") for a in aliases)


def test_a_review_stack_is_otherwise_dev(review: Plan) -> None:
    """Same account, region, settings and resource kinds: what is reviewed is dev's shape."""
    dev = stack_plan("dev")
    assert sorted(r.type for r in review.resources) == sorted(r.type for r in dev.resources)
    (provider,) = review.of_type("pulumi:providers:aws")
    (dev_provider,) = dev.of_type("pulumi:providers:aws")
    assert provider.inputs["allowedAccountIds"] == dev_provider.inputs["allowedAccountIds"]


def test_the_longest_review_stack_still_fits_every_name_limit() -> None:
    """pr-999999 is the longest name the loader accepts; the mocks enforce the provider's
    naming limits (blueprint/fidelity/provider_facts.json), so this capture fails if any
    physical name would be refused."""
    plan = capture(PROJECT_DIR, "pr-999999", stack_file=PROJECT_DIR / "stacks" / "Pulumi.dev.yaml")
    (cluster,) = plan.of_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["name"] == "feature-platform-dev-pr999999"


@pytest.mark.parametrize(
    ("stack", "environment", "expected"),
    [
        ("pr-7", "staging", "review stacks deploy into dev's account"),
        ("pr-7", "prod", "review stacks deploy into dev's account"),
        ("pr-0", "dev", "or to pr-<N>"),
        ("pr-1234567", "dev", "or to pr-<N>"),
        ("review-7", "dev", "or to pr-<N>"),
    ],
)
def test_only_dev_has_review_stacks(stack: str, environment: str, expected: str) -> None:
    values = {**namespace_values("dev"), "environment": environment}
    with pytest.raises(ConfigError) as raised:
        parse_stack_config(values, source="stacks/Pulumi.x.yaml", stack=stack)
    assert expected in str(raised.value)


def test_a_review_config_is_dev_with_its_own_instance() -> None:
    config = parse_stack_config(namespace_values("dev"), source="x", stack="pr-42")
    assert config.instance == "dev-pr42"
    assert config.review == 42
    dev = parse_stack_config(namespace_values("dev"), source="x", stack="dev")
    assert dev.instance == "dev" and dev.review is None


def test_the_platform_and_its_bootstrap_name_the_same_repository() -> None:
    """The runner's webhook (platform) and the OIDC trusts (bootstrap) must agree, or the
    deploy job runs where its role does not trust it."""
    from tests.conftest import bootstrap_namespace_values  # noqa: PLC0415

    for stack in ("dev", "staging", "prod"):
        runner = namespace_values(stack)["deployRunner"]["repository"]
        assert runner == bootstrap_namespace_values(stack)["github"]["repository"], stack


def test_only_dev_trusts_review_jobs_with_its_deployer() -> None:
    import json  # noqa: PLC0415

    from tests.conftest import bootstrap_plan  # noqa: PLC0415

    for stack, subjects in (
        ("dev", {"environment:dev", "environment:review"}),
        ("staging", {"environment:staging"}),
        ("prod", {"environment:prod"}),
    ):
        (deployer,) = [
            r
            for r in bootstrap_plan(stack).of_type("aws:iam/role:Role")
            if r.inputs["name"] == "feature-platform-deployer"
        ]
        (statement,) = json.loads(deployer.inputs["assumeRolePolicy"])["Statement"]
        sub = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        found = {s.split(":", 2)[2] for s in ([sub] if isinstance(sub, str) else sub)}
        assert found == subjects, stack


def test_a_review_stacks_runner_serves_only_the_review_workflow(review: Plan) -> None:
    """dev's deploys never land on a pull request's runner, nor a review on dev's."""

    def workflow_filter(plan: Plan) -> str:
        (hook,) = plan.of_type("aws:codebuild/webhook:Webhook")
        (group,) = hook.inputs["filterGroups"]
        (name,) = [f["pattern"] for f in group["filters"] if f["type"] == "WORKFLOW_NAME"]
        return str(name)

    assert workflow_filter(review) == "^review-stack$"
    assert workflow_filter(stack_plan("dev")) == "^(deploy|drift)$"
    (project,) = review.of_type("aws:codebuild/project:Project")
    assert project.inputs["name"] == "feature-platform-dev-pr42-deploy-runner"
