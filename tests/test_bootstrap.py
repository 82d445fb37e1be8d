"""The bootstrap project (bootstrap/): trust pinned to the repository and environment, a
deployer that cannot leave its account, a hardened state bucket, the stack files' key alias,
config refused before any resource, and a local deploy into moto that the audit judges."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from moto import mock_aws
from moto.iam.aws_managed_policies import aws_managed_policies_data

from blueprint.audit.command import audit_deployed
from blueprint.audit.model import Status
from blueprint.capture import Plan, PlannedResource, RecordingMonitor, capture
from blueprint.local.engine import deploy
from blueprint.local.target import MOTO_CONFIG, AwsTarget
from blueprint.mocks import PlatformMocks
from bootstrap.boundary import BoundaryDocument, boundary_statements, workload_boundary
from bootstrap.config import NAMESPACE, parse_bootstrap_config
from bootstrap.deployer_policy import STATE_BUCKET_PREFIX, load
from bootstrap.github import github_trust
from components.config import ConfigError
from components.iam_documents import LeastPrivilegeError, Statement
from tests.conftest import (
    BOOTSTRAP_DIR,
    STACKS,
    as_list,
    bootstrap_plan,
    policy,
    stack_document,
    statements,
)

ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
REPOSITORY = "example-org/feature-platform"
OIDC = "token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"


def bootstrap_values(stack: str) -> dict[str, Any]:
    document = yaml.safe_load((BOOTSTRAP_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    prefix = f"{NAMESPACE}:"
    return {
        k.removeprefix(prefix): v for k, v in document["config"].items() if k.startswith(prefix)
    }


def role(plan: Plan, name: str) -> PlannedResource:
    return next(r for r in plan.of_type(ROLE) if r.inputs.get("name") == name)


def trust_of(plan: Plan, name: str) -> dict[str, dict[str, Any]]:
    return statements(policy(role(plan, name), "assumeRolePolicy"))


def deployer_documents(plan: Plan) -> list[dict[str, Any]]:
    """Every identity policy of the deployer: its managed policies (it has no inline one)."""
    managed = [
        policy(r) for r in plan.of_type("aws:iam/policy:Policy")
        if r.inputs["name"].startswith("feature-platform-deployer-")
    ]  # fmt: skip
    deployer = role(plan, "feature-platform-deployer")
    inline = [
        policy(r) for r in plan.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.property_dependencies.get("role") == [deployer.urn]
    ]  # fmt: skip
    assert managed
    assert not inline
    return managed


# --- trust -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_deployer_trusts_exactly_the_repository_and_its_environment(stack: str) -> None:
    github = trust_of(bootstrap_plan(stack), "feature-platform-deployer")["GithubActions"]
    assert github["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert github["Principal"]["Federated"].endswith(f":oidc-provider/{OIDC}")
    assert set(github["Condition"]) == {"StringEquals"}  # never StringLike
    # dev's deployer also applies the review stacks (github.reviewStacks), from their own
    # GitHub environment; every subject is exact.
    subjects = [f"repo:{REPOSITORY}:environment:{stack}"]
    if stack == "dev":
        subjects.append(f"repo:{REPOSITORY}:environment:review")
    assert github["Condition"]["StringEquals"] == {
        f"{OIDC}:aud": "sts.amazonaws.com",
        f"{OIDC}:sub": subjects[0] if len(subjects) == 1 else subjects,
    }


@pytest.mark.parametrize("stack", STACKS)
def test_previewer_trusts_only_pull_requests_and_drift_only_the_default_branch(
    stack: str,
) -> None:
    plan = bootstrap_plan(stack)
    for role, subject in (
        ("feature-platform-previewer", f"repo:{REPOSITORY}:pull_request"),
        ("feature-platform-drift", f"repo:{REPOSITORY}:ref:refs/heads/main"),
    ):
        github = trust_of(plan, role)["GithubActions"]
        assert github["Condition"] == {
            "StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": subject}
        }, role


def _grants_of(plan: Any, role: str) -> set[str]:
    """The actions a CI role's inline policy and (the deployer's) managed policies allow."""
    documents = [
        policy(p)
        for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role or str(p.inputs["role"]).startswith(role)
    ] + [
        policy(p)
        for p in plan.of_type("aws:iam/policy:Policy")
        if str(p.inputs["name"]).startswith(f"{role}-")
    ]
    assert documents, f"{role} has no policy"
    return {
        a
        for d in documents
        for s in d["Statement"]
        if s["Effect"] == "Allow"
        for a in as_list(s["Action"])
    }


@pytest.mark.parametrize("stack", STACKS)
def test_code_in_a_pull_request_never_reads_data_but_drift_may(stack: str) -> None:
    from components.iam_documents import DATA_ACTIONS  # noqa: PLC0415

    plan = bootstrap_plan(stack)
    previewer = _grants_of(plan, "feature-platform-previewer")
    drift = _grants_of(plan, "feature-platform-drift")
    # The state: both decrypt its secrets and read it, neither writes it.
    assert "secretsmanager:GetSecretValue" not in previewer
    assert not (previewer & DATA_ACTIONS) - {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    assert "secretsmanager:GetSecretValue" in drift
    assert previewer < drift


def test_ci_roles_trust_github_alone_and_never_assume_a_role() -> None:
    """The pipelines run with `aws.credentials: ambient`: no CI role trusts the account (not
    even itself), and none may call sts:AssumeRole."""
    plan = bootstrap_plan("prod")
    for name in (
        "feature-platform-deployer",
        "feature-platform-previewer",
        "feature-platform-drift",
    ):
        trust = trust_of(plan, name)
        assert set(trust) == {"GithubActions"}
        assert set(trust["GithubActions"]["Principal"]) == {"Federated"}
        assert "sts:AssumeRole" not in _grants_of(plan, name)


@pytest.mark.parametrize(
    "subject",
    ["repo:example-org/*:environment:prod", "repo:example-org/feature-platform:*", "repo:?"],
)
def test_a_wildcard_subject_is_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="exact"):
        github_trust("arn:aws:iam::1:oidc-provider/x", subject)


def test_the_oidc_provider_is_githubs_for_sts() -> None:
    (provider,) = bootstrap_plan("dev").of_type(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
    )
    assert provider.inputs["url"] == f"https://{OIDC}"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


# --- the deployer stays in its account -------------------------------------------------------

NO_RESOURCE_TYPE_SERVICES_OK = {"Deny"}


def _resources_outside(document: dict[str, Any], account: str) -> list[tuple[str, str]]:
    """(Sid, resource) of Allow statements naming neither this account nor being an
    account-less ARN type (S3 buckets, whose names the statements pin)."""
    bad = []
    for st in document["Statement"]:
        if st["Effect"] != "Allow":
            continue
        for resource in as_list(st["Resource"]):
            if resource == "*":
                continue
            parts = resource.split(":")
            if parts[2] == "s3" and parts[5].startswith("feature-platform-"):
                continue  # bucket ARNs carry no account; the name pins them
            if parts[4] != account:
                bad.append((st["Sid"], resource))
    return bad


@pytest.mark.parametrize("stack", STACKS)
def test_every_deployer_resource_names_its_account(stack: str) -> None:
    for document in deployer_documents(bootstrap_plan(stack)):
        assert _resources_outside(document, ACCOUNTS[stack]) == []


def test_the_account_rule_catches_another_account() -> None:
    foreign = {
        "Statement": [
            {
                "Sid": "X",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "arn:aws:kms:eu-central-1:999999999999:key/k",
            },
            {
                "Sid": "Y",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::someone-elses-bucket/*",
            },
        ]
    }
    assert [sid for sid, _ in _resources_outside(foreign, "111111111111")] == ["X", "Y"]


def test_star_only_for_actions_without_a_resource_type() -> None:
    # The data file lists them (no_resource_type); every "*" Allow holds only those.
    allowed = load().no_resource_type
    for document in deployer_documents(bootstrap_plan("prod")):
        for st in document["Statement"]:
            if st["Effect"] == "Allow" and "*" in as_list(st["Resource"]):
                assert set(as_list(st["Action"])) <= allowed, st["Sid"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_deployer_assumes_no_role_but_itself(stack: str) -> None:
    own = f"arn:aws:iam::{ACCOUNTS[stack]}:role/feature-platform-deployer"
    for document in deployer_documents(bootstrap_plan(stack)):
        for st in document["Statement"]:
            if st["Effect"] == "Allow" and "sts:AssumeRole" in as_list(st["Action"]):
                assert as_list(st["Resource"]) == [own]


# --- state -----------------------------------------------------------------------------------


def _state_bucket(plan: Plan) -> PlannedResource:
    return plan.named("aws:s3/bucket:Bucket", "pulumi-state-bucket")


def _on(plan: Plan, type_: str, bucket: PlannedResource) -> PlannedResource:
    (found,) = [r for r in plan.of_type(type_) if bucket.urn in r.property_dependencies["bucket"]]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_state_bucket_is_hardened(stack: str) -> None:
    plan = bootstrap_plan(stack)
    bucket = _state_bucket(plan)
    (key,) = plan.of_type("aws:kms/key:Key")
    sse = _on(plan, "aws:s3/bucketServerSideEncryptionConfiguration:"
                    "BucketServerSideEncryptionConfiguration", bucket)  # fmt: skip
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.urn in sse.property_dependencies["rules"]
    versioning = _on(plan, "aws:s3/bucketVersioning:BucketVersioning", bucket)
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    block = _on(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
    assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy",
                                         "ignorePublicAcls", "restrictPublicBuckets"))  # fmt: skip
    tls = statements(policy(_on(plan, "aws:s3/bucketPolicy:BucketPolicy", bucket)))
    assert tls["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    logging = _on(plan, "aws:s3/bucketLogging:BucketLogging", bucket)
    logs = plan.named("aws:s3/bucket:Bucket", "state-access-logs-bucket")
    assert logging.inputs["targetBucket"] == logs.outputs["bucket"]
    assert bucket.protect and key.protect
    assert key.inputs["enableKeyRotation"] is True


def test_only_the_state_bucket_matches_the_ci_roles_state_grant() -> None:
    plan = bootstrap_plan("dev")
    prefix = STATE_BUCKET_PREFIX.format(environment="dev")
    matching = [
        r.outputs["bucket"] for r in plan.of_type("aws:s3/bucket:Bucket")
        if r.outputs["bucket"].startswith(prefix)
    ]  # fmt: skip
    assert matching == [_state_bucket(plan).outputs["bucket"]]


@pytest.mark.parametrize("stack", STACKS)
def test_the_key_alias_is_the_stack_files_secrets_provider(stack: str) -> None:
    plan = bootstrap_plan(stack)
    (alias,) = plan.of_type("aws:kms/alias:Alias")
    provider = stack_document(stack)["secretsprovider"]
    assert provider == f"awskms://{alias.inputs['name']}?region=eu-central-1"
    assert plan.outputs["secrets_provider"] == provider


@pytest.mark.parametrize("stack", STACKS)
def test_role_and_policy_names_are_the_ones_the_platform_stacks_name(stack: str) -> None:
    plan = bootstrap_plan(stack)
    names = {r.inputs["name"] for r in plan.of_type(ROLE)}
    config = stack_document(stack)["config"]
    named = [
        config["feature-platform:aws"]["assumeRoleArn"],
        config["feature-platform:kms"]["keyAdminRoleArn"],
        *config["feature-platform:cluster"]["adminRoleArns"],
    ]
    for arn in named:
        assert arn.startswith(f"arn:aws:iam::{ACCOUNTS[stack]}:role/")
        assert arn.rsplit("/", 1)[-1] in names
    boundary = config.get("feature-platform:identity", {}).get("permissionsBoundaryArn")
    if boundary:
        assert boundary == plan.outputs["boundary_policy_arn"]
    (slr,) = plan.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert slr.inputs["awsServiceName"] == "autoscaling.amazonaws.com"


# --- boundary --------------------------------------------------------------------------------

MANAGED = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
    "AmazonEBSCSIDriverPolicy",
)


def test_the_boundary_allows_every_action_of_the_managed_policies_the_platform_attaches() -> None:
    data = json.loads(aws_managed_policies_data)
    boundary = workload_boundary("333333333333", "eu-central-1", "prod").to_dict()
    allowed = {
        a for st in boundary["Statement"] if st["Effect"] == "Allow" for a in as_list(st["Action"])
    }
    for name in MANAGED:
        needed = {a for st in data[name]["Document"]["Statement"] for a in as_list(st["Action"])}
        assert needed - allowed == set(), name


def test_the_boundary_denies_identity_and_account_changes() -> None:
    (deny,) = [
        st for st in boundary_statements("333333333333", "eu-central-1", "prod")
        if st.effect == "Deny"
    ]  # fmt: skip
    assert set(deny.actions) == {"iam:*", "organizations:*", "account:*"}


def test_the_boundary_refuses_keys_of_every_account_or_without_alias_condition() -> None:
    def with_keys(resource: str, conditions: dict[str, Any]) -> None:
        BoundaryDocument(
            "333333333333",
            "eu-central-1",
            (
                Statement(
                    sid="K", actions=("kms:Decrypt",), resources=(resource,), conditions=conditions
                ),
            ),
        )

    aliased = {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/feature-platform-prod-*"}}
    with_keys("arn:aws:kms:eu-central-1:333333333333:key/*", aliased)  # passes
    for resource, conditions in (
        ("*", aliased),
        ("arn:aws:kms:eu-central-1:999999999999:key/*", aliased),
        ("arn:aws:kms:eu-central-1:333333333333:key/*", {}),
    ):
        with pytest.raises(LeastPrivilegeError):
            with_keys(resource, conditions)


# --- config ----------------------------------------------------------------------------------


def _values(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(bootstrap_values("prod"))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = values
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return values


def test_the_checked_in_stack_files_are_valid() -> None:
    for stack in STACKS:
        parse_bootstrap_config(bootstrap_values(stack), source="s", stack=stack)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"github__repository": "example-org/*"}, "github.repository"),
        ({"github__repository": "example-org"}, "github.repository"),
        ({"github__repository": "-org/repo"}, "github.repository"),
        ({"github__repository": "org/repo:ref:refs/heads/main"}, "github.repository"),
        ({"aws__accountId": "111111111111"}, "aws.accountId"),
        ({"aws__accountId": "3333"}, "aws.accountId"),
        ({"aws__region": "us-east-1"}, "aws.region"),
        ({"admins__keyAdmin": ["arn:aws:iam::111111111111:role/x"]}, "admins.keyAdmin.0"),
        ({"admins__clusterAdmin": ["arn:aws:iam::333333333333:role/*"]}, "admins.clusterAdmin.0"),
        ({"state__noncurrentVersionExpirationDays": 7}, "state.noncurrentVersionExpirationDays"),
        ({"github__reviewStacks": True}, "github.reviewStacks"),  # prod: review stacks are dev's
    ],
)
def test_invalid_config_names_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_bootstrap_config(_values(**change), source="s", stack="prod")
    assert f"{NAMESPACE}:{key}" in [k for k, _ in raised.value.problems]


def test_invalid_config_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    document = yaml.safe_load((BOOTSTRAP_DIR / "stacks" / "Pulumi.prod.yaml").read_text())
    document["config"][f"{NAMESPACE}:github"]["repository"] = "example-org/*"
    document["config"][f"{NAMESPACE}:aws"]["accountId"] = "222222222222"
    bad = tmp_path / "Pulumi.prod.yaml"
    bad.write_text(yaml.safe_dump(document))
    monitor = RecordingMonitor(PlatformMocks())
    with pytest.raises(pulumi.RunError) as raised:
        capture(BOOTSTRAP_DIR, "prod", stack_file=bad, monitor=monitor)
    assert f"{NAMESPACE}:github.repository" in str(raised.value)
    assert monitor.recorded == []
    # The account is judged against the platform's stack file once the models pass.
    document["config"][f"{NAMESPACE}:github"]["repository"] = REPOSITORY
    bad.write_text(yaml.safe_dump(document))
    with pytest.raises(pulumi.RunError, match=rf"{NAMESPACE}:aws.accountId"):
        capture(BOOTSTRAP_DIR, "prod", stack_file=bad, monitor=RecordingMonitor(PlatformMocks()))


# --- local deploy and audit ------------------------------------------------------------------


@pytest.mark.moto
def test_a_local_deploy_succeeds_and_the_audit_passes_what_it_judges() -> None:
    with mock_aws(config=MOTO_CONFIG):
        result = deploy(BOOTSTRAP_DIR, "dev", AwsTarget(region="eu-central-1"))
        assert result.outcome.simulated == []
        iam = result.target.client("iam", "eu-central-1")
        (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        assert provider["Arn"].endswith(f"oidc-provider/{OIDC}")
        assert iam.get_role(RoleName="AWSServiceRoleForAutoScaling")["Role"]["Path"] == (
            "/aws-service-role/autoscaling.amazonaws.com/"
        )
        report = audit_deployed(BOOTSTRAP_DIR, "dev", None)
    judged = {f.check for f in report.findings if f.status is not Status.NOT_CHECKED}
    assert {"S3.ENCRYPTION", "S3.TLS_ONLY", "S3.VERSIONING", "S3.PUBLIC_ACCESS_BLOCK",
            "KMS.ROTATION", "IAM.NO_ADMIN_WILDCARDS"} <= judged  # fmt: skip
    assert [f for f in report.findings if f.status is Status.FAIL] == []
    # The audit judges what the bootstrap's plan deploys: every check it ran judged something,
    # and the platform's checks (EKS, MSK, alerting, ...) are listed as not applicable.
    assert [f for f in report.findings if f.status is Status.NOT_CHECKED] == []
    assert {"EKS.PRIVATE_ENCRYPTED_LOGGED", "MSK.TLS_IAM_CMK"} <= set(report.not_applicable)
    assert report.exit_code() == 0
