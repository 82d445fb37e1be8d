"""Workload identities: Pod Identity trust per service account, least-privilege policies."""

from __future__ import annotations

import json

import pytest

from blueprint.capture import Plan, PlannedResource
from components.iam_documents import DATA_ACTIONS
from components.platform import FEATURE_NAMESPACE
from tests.conftest import as_list, stack_config

ROLE = "aws:iam/role:Role"
WORKLOADS = ("feature-server", "materialization", "ingestion")


def _role(plan: Plan, workload: str) -> PlannedResource:
    return plan.named(ROLE, f"-{workload}-role")


def _permissions(plan: Plan, workload: str) -> list[dict[str, object]]:
    role = _role(plan, workload)
    (policy,) = [
        p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id
    ]
    statements: list[dict[str, object]] = json.loads(policy.inputs["policy"])["Statement"]
    return statements


@pytest.mark.parametrize("workload", WORKLOADS)
def test_roles_trust_pod_identity_for_their_service_account_only(plan: Plan, workload: str) -> None:
    config = stack_config(plan.stack)
    trust = json.loads(_role(plan, workload).inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/kubernetes-namespace": FEATURE_NAMESPACE,
            "aws:RequestTag/kubernetes-service-account": workload,
        },
        "ArnLike": {
            "aws:RequestTag/eks-cluster-arn": (
                f"arn:aws:eks:{config.aws.region}:{config.aws.account_id}:cluster/*"
            )
        },
    }


def test_every_workload_policy_is_least_privilege(plan: Plan) -> None:
    for workload in WORKLOADS:
        for statement in _permissions(plan, workload):
            actions = as_list(statement["Action"])
            resources = as_list(statement["Resource"])
            assert statement["Effect"] == "Allow"
            assert not any(a == "*" or a.endswith(":*") for a in actions), workload
            if "*" in resources:
                assert not set(actions) & DATA_ACTIONS, (workload, actions)


def test_feature_server_reads_the_registry_and_nothing_in_the_offline_store(plan: Plan) -> None:
    registry = plan.named("aws:s3/bucket:Bucket", "-registry-bucket").outputs["arn"]
    offline = plan.named("aws:s3/bucket:Bucket", "-offline-store-bucket").outputs["arn"]
    resources = {r for s in _permissions(plan, "feature-server") for r in as_list(s["Resource"])}
    assert {registry, f"{registry}/*"} <= resources
    assert not any(r.startswith(offline) for r in resources)
    actions = {a for s in _permissions(plan, "feature-server") for a in as_list(s["Action"])}
    assert not actions & {"s3:PutObject", "s3:DeleteObject"}


def test_ingestion_writes_offline_objects_and_reads_no_secrets(plan: Plan) -> None:
    offline = plan.named("aws:s3/bucket:Bucket", "-offline-store-bucket").outputs["arn"]
    statements = _permissions(plan, "ingestion")
    put = next(s for s in statements if "s3:PutObject" in as_list(s["Action"]))
    assert put["Resource"] == f"{offline}/*"
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert "secretsmanager:GetSecretValue" not in actions


def test_permissions_boundary_is_attached_where_configured(dev: Plan, prod: Plan) -> None:
    boundary = stack_config("prod").identity.permissions_boundary_arn
    assert boundary
    assert {_role(prod, w).inputs.get("permissionsBoundary") for w in WORKLOADS} == {boundary}
    assert not any(_role(dev, w).inputs.get("permissionsBoundary") for w in WORKLOADS)
