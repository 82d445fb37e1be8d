"""Feature teams: one file each, validated like a stack; what the platform builds from it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from typer.testing import CliRunner

from blueprint.capture import Plan, PlannedResource
from blueprint.cli import app
from components.cache_access import (
    USER_ID_MAX_LENGTH,
    default_user_id,
    team_access_string,
    team_user_id,
)
from components.config.loader import load_stack_tenants
from components.config.models import DataClassification, Environment
from components.config.tenants import TenantError, load_tenants, parse_tenant
from tests.conftest import PROJECT_DIR, stack_config, stack_plan

runner = CliRunner()
TENANTS = PROJECT_DIR / "tenants"


def minimal(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "owner": "team",
        "costCenter": "cc-1",
        "dataClassification": "internal",
        "environments": ["dev"],
        "featureSets": {"features": {"topics": {"events": {}}}},
        "workloads": {"app": {"reads": ["features"]}},
    }
    body.update(changes)
    return body


def load(directory: Path, environment: str = "dev") -> Any:
    config = stack_config(environment)
    return load_tenants(
        directory,
        environment=Environment(environment),
        platform_classification=config.tags.data_classification,
        quota_defaults=config.kubernetes.quota,
        platform_topics=config.streaming.topics,
    )


# --- the files ---------------------------------------------------------------------------------


def test_the_example_teams_are_valid_and_enabled_everywhere() -> None:
    for environment in ("dev", "staging", "prod"):
        names = [t.name for t in load(TENANTS, environment)]
        assert names == ["recommendations", "search"]


def test_names_derive_from_the_team() -> None:
    (recommendations, search) = load(TENANTS)
    assert set(search.topics) == {"search.query-events", "search.click-events"}
    users = recommendations.feature_sets["user-features"]
    assert users.offline_prefix == "recommendations/user-features/"
    assert users.online_key_prefix == "recommendations:user:"
    assert recommendations.feature_sets["item-features"].offline_prefix == "recommendations/items/"
    assert recommendations.workloads["feature-pipeline"].service_account == "pipeline"
    assert search.group_prefix == "search."


def test_quota_defaults_come_from_the_profile() -> None:
    config = stack_config("dev")
    (recommendations, search) = load(TENANTS)
    assert search.quota == config.kubernetes.quota
    assert recommendations.quota.requests_cpu == "8"
    assert recommendations.quota.limits_cpu == "16"
    assert recommendations.quota.pods == config.kubernetes.quota.pods


@pytest.mark.parametrize(
    ("name", "body", "key", "message"),
    [
        ("team", minimal(colour="blue"), "colour", "Extra inputs are not permitted"),
        ("team", minimal(owner=""), "owner", "at least 1 character"),
        ("Team", minimal(), "(file name)", "is not a tenant name"),
        ("monitoring", minimal(), "(file name)", "reserved for the platform"),
        ("kube-team", minimal(), "(file name)", "reserved for the platform"),
        ("team", minimal(environments=[]), "environments", "at least 1 item"),
        ("team", minimal(environments=["qa"]), "environments.0", "'dev', 'staging' or 'prod'"),
        (
            "team",
            minimal(workloads={"app": {"reads": ["other"]}}),
            "workloads.app.reads.0",
            "'other' is not a feature set of this tenant; allowed: features",
        ),
        ("team", minimal(workloads={"app": {}}), "workloads.app", "reads or writes at least one"),
        (
            "team",
            minimal(featureSets={"aa": {"offlinePrefix": "x"}, "bb": {"offlinePrefix": "x"}}),
            "featureSets.bb.offlinePrefix",
            "'x' is also the offlinePrefix of 'aa'",
        ),
        (
            "team",
            minimal(featureSets={"features": {"offlinePrefix": "a/b"}}),
            "featureSets.features.offlinePrefix",
            "should match pattern",
        ),
        (
            "team",
            minimal(featureSets={"features": {"onlineKeyPrefix": "*"}}),
            "featureSets.features.onlineKeyPrefix",
            "should match pattern",
        ),
        (
            "team",
            minimal(
                workloads={
                    "aa": {"reads": ["features"], "serviceAccount": "sa"},
                    "bb": {"reads": ["features"], "serviceAccount": "sa"},
                }
            ),
            "workloads.bb.serviceAccount",
            "'sa' is already the service account of 'aa'",
        ),
        (
            "team",
            minimal(featureSets={"features": {"topics": {"e": {"partitions": 0}}}}),
            "featureSets.features.topics.e.partitions",
            "greater than or equal to 1",
        ),
    ],
)
def test_a_bad_file_names_the_file_the_key_and_what_is_allowed(
    name: str, body: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(TenantError) as raised:
        parse_tenant(name, body, source=f"tenants/{name}.yaml")
    assert (f"tenants/{name}.yaml", key) in [(f, k) for f, k, _ in raised.value.problems], (
        raised.value.problems
    )
    assert any(message in m for _, _, m in raised.value.problems), raised.value.problems


def test_a_team_above_the_platforms_classification_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(yaml.safe_dump(minimal(dataClassification="restricted")))
    assert stack_config("dev").tags.data_classification is DataClassification.INTERNAL
    with pytest.raises(TenantError, match="above the platform's 'internal'"):
        load(tmp_path)


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("owner: [unclosed\n")
    (tmp_path / "bb.yaml").write_text(yaml.safe_dump(minimal(colour=1)))
    (tmp_path / "cc.yaml").write_text("- a list\n")
    with pytest.raises(TenantError) as raised:
        load(tmp_path)
    files = {f for f, _, _ in raised.value.problems}
    assert files == {
        f"{tmp_path.name}/a.yaml",
        f"{tmp_path.name}/bb.yaml",
        f"{tmp_path.name}/cc.yaml",
    }


def test_a_team_not_enabled_in_the_environment_is_absent(tmp_path: Path) -> None:
    (tmp_path / "later.yaml").write_text(yaml.safe_dump(minimal(environments=["prod"])))
    assert load(tmp_path, "dev") == ()
    assert [t.name for t in load(tmp_path, "prod")] == ["later"]


# --- what the platform builds ------------------------------------------------------------------


def _roles(plan: Plan, tenant: str) -> list[PlannedResource]:
    return [
        r
        for r in plan.of_type("aws:iam/role:Role")
        if str(r.inputs.get("name", "")).startswith(f"{tenant}.")
    ]


def _policy_of(plan: Plan, role: PlannedResource) -> dict[str, Any]:
    (found,) = [
        p
        for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] in (role.inputs["name"], role.outputs.get("id"))
    ]
    document: dict[str, Any] = json.loads(found.inputs["policy"])
    return document


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_workload_gets_a_role_for_its_service_account_in_its_namespace(stack: str) -> None:
    plan = stack_plan(stack)
    config = stack_config(stack)
    for spec in load(TENANTS, stack):
        roles = _roles(plan, spec.name)
        assert {r.inputs["name"] for r in roles} == {f"{spec.name}.{w}" for w in spec.workloads}
        for role in roles:
            workload = spec.workloads[role.inputs["name"].split(".", 1)[1]]
            trust = json.loads(role.inputs["assumeRolePolicy"])
            (statement,) = trust["Statement"]
            assert statement["Condition"]["StringEquals"] == {
                "aws:RequestTag/kubernetes-namespace": spec.namespace,
                "aws:RequestTag/kubernetes-service-account": workload.service_account,
            }
            assert role.inputs["path"] == "/feature-platform/tenants/"
            assert role.inputs["tags"]["tenant"] == spec.name
            assert (
                role.inputs.get("permissionsBoundary") == config.identity.permissions_boundary_arn
            )


def test_grants_stay_inside_the_teams_prefixes_and_topics() -> None:
    plan = stack_plan("dev")
    for spec in load(TENANTS):
        for role in _roles(plan, spec.name):
            for statement in _policy_of(plan, role)["Statement"]:
                resources = statement["Resource"]
                resources = [resources] if isinstance(resources, str) else resources
                for resource in resources:
                    if ":s3:::" in resource and "/" in resource:
                        assert f"/{spec.name}/" in resource, (role.name, statement)
                    if ":topic/" in resource:
                        assert resource.rsplit("/", 1)[1].startswith(spec.group_prefix)
                    if ":group/" in resource:
                        assert resource.endswith(f"/{spec.group_prefix}*")
                    assert resource != "*"
                if statement["Action"] == "s3:ListBucket":
                    prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
                    assert prefixes and all(p.startswith(f"{spec.name}/") for p in prefixes)
                if "kms:Decrypt" in statement["Action"]:
                    assert statement["Condition"] == {
                        "StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}
                    }


def test_a_team_gets_only_the_topics_it_declared() -> None:
    plan = stack_plan("dev")
    names = {t.inputs["name"] for t in plan.of_type("aws:msk/topic:Topic")}
    for spec in load(TENANTS):
        assert set(spec.topics) <= names
    assert {n for n in names if "." in n} == {t for s in load(TENANTS) for t in s.topics}


def test_each_team_has_a_restricted_isolated_namespace() -> None:
    plan = stack_plan("dev")
    for spec in load(TENANTS):
        (namespace,) = [
            n
            for n in plan.of_type("kubernetes:core/v1:Namespace")
            if n.inputs["metadata"]["name"] == spec.namespace
        ]
        labels = namespace.inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["feature-platform/tenant"] == spec.name
        assert labels["feature-platform/client"] == "true"
        policies = [
            p
            for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if p.inputs["metadata"]["namespace"] == spec.namespace
        ]
        names = {p.inputs["metadata"]["name"] for p in policies}
        assert "default-deny" in names
        # The online store as the team's own users (their access strings confine them).
        assert names == {
            "default-deny",
            "allow-dns-egress",
            "allow-aws-apis-egress",
            "allow-feature-server-egress",
            "allow-online-store-egress",
            "allow-kafka-egress",
            "allow-metrics-scrape-ingress",
        }
        (quota,) = [
            q
            for q in plan.of_type("kubernetes:core/v1:ResourceQuota")
            if q.inputs["metadata"]["namespace"] == spec.namespace
        ]
        assert quota.inputs["spec"]["hard"]["requests.cpu"] == spec.quota.requests_cpu
        accounts = {
            a.inputs["metadata"]["name"]
            for a in plan.of_type("kubernetes:core/v1:ServiceAccount")
            if a.inputs["metadata"]["namespace"] == spec.namespace
        }
        assert accounts == {w.service_account for w in spec.workloads.values()}


def test_the_feature_server_egress_reaches_only_its_namespace_and_port() -> None:
    plan = stack_plan("dev")
    (policy,) = [
        p
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["namespace"] == "search"
        and p.inputs["metadata"]["name"] == "allow-feature-server-egress"
    ]
    (rule,) = policy.inputs["spec"]["egress"]
    assert rule["ports"] == [{"port": 6566, "protocol": "TCP"}]
    (peer,) = rule["to"]
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "feature-serving"}}
    }


# --- the command line --------------------------------------------------------------------------


def test_tenant_new_writes_a_valid_file_that_list_shows(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    result = runner.invoke(
        app,
        ["tenant", "new", "fraud", "--owner", "risk", "--cost-center", "cc-9",
         "--environment", "dev", "--project", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / "tenants" / "fraud.yaml").read_text())
    parse_tenant("fraud", written, source="fraud.yaml")  # valid as written
    listed = runner.invoke(app, ["tenant", "list", "--project", str(tmp_path)])
    assert listed.exit_code == 0 and "fraud.events" in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new", "Bad_Name", "--owner", "o", "--cost-center", "c"], "is not a tenant name"),
        (["new", "monitoring", "--owner", "o", "--cost-center", "c"], "reserved"),
        (["new", "search", "--owner", "o", "--cost-center", "c"], "exists: edit it"),
    ],
)
def test_tenant_new_refuses_with_exit_2_and_the_fix(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["tenant", *args, "--project", str(PROJECT_DIR)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_tenant_list_of_a_broken_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "bad.yaml").write_text(yaml.safe_dump(minimal(colour=1)))
    result = runner.invoke(app, ["tenant", "list", "--project", str(tmp_path)])
    assert result.exit_code == 2 and "colour" in result.output


# --- cost ------------------------------------------------------------------------------------


def test_a_team_budget_watches_its_tagged_cost() -> None:
    plan = stack_plan("dev")
    (budget,) = plan.of_type("aws:budgets/budget:Budget")
    assert budget.inputs["name"] == "feature-platform-dev-search"
    assert budget.inputs["budgetType"] == "COST" and budget.inputs["timeUnit"] == "MONTHLY"
    assert budget.inputs["limitAmount"] == "2000.0" and budget.inputs["limitUnit"] == "USD"
    # Cost Explorer's form of a user-defined cost allocation tag: user:<key>$<value>.
    assert budget.inputs["costFilters"] == [
        {"name": "TagKeyValue", "values": ["user:tenant$search"]}
    ]
    kinds = {(n["notificationType"], n["threshold"]) for n in budget.inputs["notifications"]}
    assert kinds == {("FORECASTED", 80), ("ACTUAL", 100)}
    assert all(
        n["subscriberEmailAddresses"] == ["search-relevance@example.com"]
        for n in budget.inputs["notifications"]
    )
    assert budget.inputs["tags"]["tenant"] == "search"


def test_a_review_stacks_budget_has_its_own_name() -> None:
    from tests.test_review_stack import review_plan  # noqa: PLC0415

    (budget,) = review_plan().of_type("aws:budgets/budget:Budget")
    assert budget.inputs["name"] == "feature-platform-dev-pr42-search"


@pytest.mark.parametrize(
    ("budget", "key"),
    [
        ({"monthlyUsd": 0, "notify": ["a@b.co"]}, "budget.monthlyUsd"),
        ({"monthlyUsd": 10, "notify": []}, "budget.notify"),
        ({"monthlyUsd": 10, "notify": ["not-an-address"]}, "budget.notify.0"),
        ({"monthlyUsd": 10}, "budget.notify"),
    ],
)
def test_a_bad_budget_names_its_key(budget: dict[str, Any], key: str) -> None:
    with pytest.raises(TenantError) as raised:
        parse_tenant("team", minimal(budget=budget), source="tenants/team.yaml")
    assert key in [k for _, k, _ in raised.value.problems], raised.value.problems


@pytest.mark.parametrize(
    ("name", "body", "key"),
    [
        ("pr1-search", minimal(), "(file name)"),  # a review stack's budget name
        ("team", minimal(owner="R&D (search)"), "owner"),  # not a valid tag value
        ("team", minimal(costCenter="cc#1"), "costCenter"),
        (
            "team",
            minimal(featureSets={f"fs-{i}": {} for i in range(17)}),
            "featureSets",
        ),  # the inline policy would outgrow IAM's 10,240 characters
        (
            "team",
            minimal(featureSets={"features": {"topics": {f"t-{i}": {} for i in range(9)}}}),
            "featureSets.features.topics",
        ),
    ],
)
def test_what_aws_would_refuse_is_refused_first(name: str, body: dict[str, Any], key: str) -> None:
    with pytest.raises(TenantError) as raised:
        parse_tenant(name, body, source=f"tenants/{name}.yaml")
    assert key in [k for _, k, _ in raised.value.problems], raised.value.problems


# --- the team's own access to its namespace ----------------------------------------------------


def test_a_teams_roles_reach_its_namespace_as_its_group_and_nothing_more() -> None:
    plan = stack_plan("dev")
    (entry,) = [
        e
        for e in plan.of_type("aws:eks/accessEntry:AccessEntry")
        if e.inputs["principalArn"].endswith(":role/search-relevance-deployer")
    ]
    assert entry.inputs["kubernetesGroups"] == ["feature-team:search:deployers"]
    assert entry.inputs["type"] == "STANDARD"
    # No AWS access policy (those are cluster-wide, or edit of the whole namespace).
    associations = plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert entry.inputs["principalArn"] not in {a.inputs["principalArn"] for a in associations}
    (binding,) = [
        b
        for b in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
        if b.inputs["metadata"]["namespace"] == "search"
    ]
    assert binding.inputs["subjects"] == [
        {"kind": "Group", "name": "feature-team:search:deployers",
         "apiGroup": "rbac.authorization.k8s.io"}
    ]  # fmt: skip
    (role,) = [
        r
        for r in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
        if r.inputs["metadata"]["namespace"] == "search"
    ]
    writable = {
        resource
        for rule in role.inputs["rules"]
        if "create" in rule["verbs"]
        for resource in rule["resources"]
    }
    assert "deployments" in writable and "pods" in writable
    # Never the platform's guardrails, identities or credentials.
    forbidden = {"networkpolicies", "resourcequotas", "limitranges", "serviceaccounts", "secrets",
                 "roles", "rolebindings"}  # fmt: skip
    assert not writable & forbidden
    assert not any("secrets" in rule["resources"] for rule in role.inputs["rules"])
    assert all("*" not in rule["verbs"] + rule["resources"] for rule in role.inputs["rules"])


def test_a_team_without_access_in_an_environment_gets_none() -> None:
    plan = stack_plan("prod")
    assert not [
        e
        for e in plan.of_type("aws:eks/accessEntry:AccessEntry")
        if "search-relevance" in e.inputs["principalArn"]
    ]
    assert not [
        r
        for r in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
        if r.inputs["metadata"]["namespace"] == "search"
    ]


@pytest.mark.parametrize(
    ("access", "message"),
    [
        (["arn:aws:iam::999999999999:role/x"], "are not roles of the dev account"),
        (["arn:aws:iam::111111111111:role/feature-platform-deployer"], "through the platform"),
        (["arn:aws:iam::111111111111:role/feature-platform-admin"], "through the platform"),
    ],
)
def test_cluster_access_must_be_the_teams_own_roles_in_the_account(
    tmp_path: Path, access: list[str], message: str
) -> None:
    (tmp_path / "team.yaml").write_text(yaml.safe_dump(minimal(clusterAccess={"dev": access})))
    config = stack_config("dev")
    with pytest.raises(TenantError) as raised:
        load_tenants(
            tmp_path,
            environment=Environment.DEV,
            platform_classification=config.tags.data_classification,
            quota_defaults=config.kubernetes.quota,
            account_id=config.aws.account_id,
            platform_principals=(config.aws.assume_role_arn, *config.cluster.admin_role_arns),
        )
    assert any(message in m for _, _, m in raised.value.problems), raised.value.problems


def test_two_teams_cannot_share_a_role(tmp_path: Path) -> None:
    shared = {"dev": ["arn:aws:iam::111111111111:role/shared"]}
    for name in ("aa", "bb"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(minimal(clusterAccess=shared)))
    with pytest.raises(TenantError, match="through team 'aa'"):
        load(tmp_path)


# --- the online store --------------------------------------------------------------------------


def test_each_workload_connects_as_its_own_user_of_the_online_store() -> None:
    plan = stack_plan("dev")
    config = stack_config("dev")
    users = {u.inputs["userId"]: u for u in plan.of_type("aws:elasticache/user:User")}
    (group,) = plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    (user_group,) = plan.of_type("aws:elasticache/userGroup:UserGroup")
    for spec in load(TENANTS):
        for role in _roles(plan, spec.name):
            workload = role.inputs["name"].split(".", 1)[1]
            user = users[team_user_id(config.instance, spec.name, workload)]
            assert user.inputs["tags"]["tenant"] == spec.name
            assert user.inputs["userId"] in user_group.inputs["userIds"]
            (connect,) = [
                s
                for s in _policy_of(plan, role)["Statement"]
                if "elasticache:Connect" in s["Action"]
            ]
            assert connect["Action"] == "elasticache:Connect"
            assert sorted(connect["Resource"]) == sorted(
                [group.outputs["arn"], user.outputs["arn"]]
            )
            me = spec.workloads[workload]
            prefixes = {spec.feature_sets[f].online_key_prefix for f in (*me.reads, *me.writes)}
            patterns = {t.split("~", 1)[1] for t in user.inputs["accessString"].split() if "~" in t}
            assert patterns == {f"{p}*" for p in prefixes}


def test_user_ids_fit_aws_and_never_collide() -> None:
    longest = "t" * 20
    ids = {
        team_user_id(instance, tenant, workload)
        for instance in ("dev", "prod", "dev-pr123456")
        for tenant, workload in (
            ("ads", "x-y"),
            ("ads-x", "y"),
            (longest, "w" * 30),
            (longest, "w" * 29 + "v"),
        )
    }
    assert len(ids) == 12
    for user_id in ids:
        assert len(user_id) <= USER_ID_MAX_LENGTH and re.fullmatch(r"[a-z][a-z0-9-]*", user_id)
        assert not user_id.endswith("-") and "--" not in user_id
    # Every id of a stack starts with its prefix: the deployer's scope names it.
    assert team_user_id("prod", "ads", "x").startswith("fp-prod-")
    assert default_user_id("dev-pr7") == "fp-dev-pr7-default"


def test_a_read_only_feature_set_is_read_only_in_the_cache() -> None:
    access = team_access_string(["t:a:", "t:b:"], ["t:b:"])
    tokens = access.split()
    assert "~t:b:*" in tokens and "%R~t:a:*" in tokens and "%R~t:b:*" not in tokens
    assert "+@write" in tokens
    assert "+@write" not in team_access_string(["t:a:"], []).split()
    with pytest.raises(ValueError, match="must end with ':'"):
        team_access_string(["t:a"], [])
    with pytest.raises(ValueError, match="must end with ':'"):
        team_access_string(["t:*:"], [])


def test_the_user_group_quota_is_checked_before_anything_is_registered(tmp_path: Path) -> None:
    for index in range(3):
        (tmp_path / f"team-{index}.yaml").write_text(
            yaml.safe_dump(
                minimal(
                    workloads={
                        "reader": {"reads": ["features"]},
                        "writer": {"writes": ["features"]},
                    }
                )
            )
        )
    config = stack_config("dev")
    roomy = config.model_copy(
        update={"online_store": config.online_store.model_copy(update={"users_per_group_quota": 7})}
    )
    assert len(load_stack_tenants(roomy, tmp_path)) == 3  # 1 + 3 x 2 = 7 users fit
    tight = config.model_copy(
        update={"online_store": config.online_store.model_copy(update={"users_per_group_quota": 6})}
    )
    with pytest.raises(pulumi.RunError) as error:
        load_stack_tenants(tight, tmp_path)
    message = str(error.value)
    assert "stacks/Pulumi." in message and "onlineStore.usersPerGroupQuota" in message
    assert "needs 7 users" in message and "Service Quotas" in message
