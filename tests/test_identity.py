"""Workload identities: Pod Identity trust per service account, least-privilege policies."""

from __future__ import annotations

import json

import pytest

from blueprint.capture import Plan, PlannedResource
from components.iam_documents import DATA_ACTIONS
from components.platform import WORKLOADS
from tests.conftest import as_list, stack_config

ROLE = "aws:iam/role:Role"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
TOPIC = "aws:msk/topic:Topic"


def _role(plan: Plan, workload: str) -> PlannedResource:
    return plan.named(ROLE, f"-{workload}-role")


def _permissions(plan: Plan, workload: str) -> list[dict[str, object]]:
    role = _role(plan, workload)
    (policy,) = [
        p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id
    ]
    statements: list[dict[str, object]] = json.loads(policy.inputs["policy"])["Statement"]
    return statements


def _grants(plan: Plan, workload: str) -> dict[str, set[str]]:
    """Action -> the resources it is allowed on."""
    grants: dict[str, set[str]] = {}
    for statement in _permissions(plan, workload):
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(as_list(statement["Resource"]))
    return grants


def _kafka_cluster_arn(plan: Plan) -> str:
    (cluster,) = plan.of_type("aws:msk/cluster:Cluster")
    return str(cluster.outputs["arn"])


def _topic_arn(plan: Plan, topic: str) -> str:
    (found,) = [t for t in plan.of_type(TOPIC) if t.inputs["name"] == topic]
    return str(found.outputs["arn"])


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_roles_trust_pod_identity_for_their_service_account_on_this_cluster_only(
    plan: Plan, workload: str
) -> None:
    config = stack_config(plan.stack)
    trust = json.loads(_role(plan, workload).inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/kubernetes-namespace": WORKLOADS[workload].namespace,
            "aws:RequestTag/kubernetes-service-account": WORKLOADS[workload].service_account,
        },
        "ArnLike": {
            "aws:RequestTag/eks-cluster-arn": (
                f"arn:aws:eks:{config.aws.region}:{config.aws.account_id}:cluster/"
                f"feature-platform-{plan.stack}"
            )
        },
    }


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_each_service_account_is_bound_to_its_role_after_the_role_can_act(
    plan: Plan, workload: str
) -> None:
    role = _role(plan, workload)
    (association,) = [
        a for a in plan.of_type(ASSOCIATION) if a.inputs["roleArn"] == role.outputs["arn"]
    ]
    assert association.inputs["namespace"] == WORKLOADS[workload].namespace
    assert association.inputs["serviceAccount"] == WORKLOADS[workload].service_account
    assert association.inputs["clusterName"] == f"feature-platform-{plan.stack}"
    policy = next(
        p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id
    )
    assert policy.urn in association.depends_on


def test_every_workload_policy_is_least_privilege(plan: Plan) -> None:
    for workload in WORKLOADS:
        for statement in _permissions(plan, workload):
            actions = as_list(statement["Action"])
            resources = as_list(statement["Resource"])
            assert statement["Effect"] == "Allow"
            assert not any(a == "*" or a.endswith(":*") for a in actions), workload
            if "*" in resources:
                assert not set(actions) & DATA_ACTIONS, (workload, actions)


def test_feature_server_reads_the_registry_and_the_token_and_nothing_else(plan: Plan) -> None:
    registry = plan.named("aws:s3/bucket:Bucket", "-registry-bucket").outputs["arn"]
    secret = plan.outputs["online_store_auth_secret_arn"]
    grants = _grants(plan, "feature-server")
    assert grants["s3:GetObject"] == {f"{registry}/*"}
    assert grants["s3:ListBucket"] == {registry}
    assert grants["secretsmanager:GetSecretValue"] == {secret}
    assert not [a for a in grants if a.startswith("kafka-cluster:")]
    assert not grants.keys() & {"s3:PutObject", "s3:DeleteObject"}


def test_materializer_consumes_feature_events_and_writes_only_dead_letters(plan: Plan) -> None:
    offline = plan.named("aws:s3/bucket:Bucket", "-offline-store-bucket").outputs["arn"]
    cluster = _kafka_cluster_arn(plan)
    events, dead = _topic_arn(plan, "feature-events"), _topic_arn(plan, "materialization-dlq")
    grants = _grants(plan, "materializer")
    registry = plan.named("aws:s3/bucket:Bucket", "-registry-bucket").outputs["arn"]
    assert grants["s3:PutObject"] == {f"{offline}/*"}
    assert grants["s3:GetObject"] == {f"{offline}/*", f"{registry}/*"}
    assert grants["kafka-cluster:ReadData"] == {events}
    assert grants["kafka-cluster:WriteData"] == {dead}
    assert grants["kafka-cluster:Connect"] == {cluster}
    group = cluster.replace(":cluster/", ":group/", 1) + "/materializer"
    assert grants["kafka-cluster:AlterGroup"] == {group}


def test_ingester_only_produces_feature_events(plan: Plan) -> None:
    cluster = _kafka_cluster_arn(plan)
    grants = _grants(plan, "ingester")
    assert grants == {
        "kafka-cluster:Connect": {cluster},
        "kafka-cluster:WriteDataIdempotently": {cluster},
        "kafka-cluster:DescribeTopic": {_topic_arn(plan, "feature-events")},
        "kafka-cluster:WriteData": {_topic_arn(plan, "feature-events")},
    }


def test_permissions_boundary_is_attached_where_configured(dev: Plan, prod: Plan) -> None:
    boundary = stack_config("prod").identity.permissions_boundary_arn
    assert boundary
    assert {_role(prod, w).inputs.get("permissionsBoundary") for w in WORKLOADS} == {boundary}
    assert not any(_role(dev, w).inputs.get("permissionsBoundary") for w in WORKLOADS)


def _metric_statements(plan: Plan, workload: str) -> list[dict[str, object]]:
    return [
        s
        for s in _permissions(plan, workload)
        if "cloudwatch:PutMetricData" in as_list(s["Action"])
    ]


@pytest.mark.parametrize("workload", ["materializer", "consistency-probe"])
def test_workloads_publish_metrics_only_to_the_platform_namespace(
    plan: Plan, workload: str
) -> None:
    (statement,) = _metric_statements(plan, workload)
    # PutMetricData has no resource type: the namespace condition is the whole scope.
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "FeaturePlatform"}}
    assert as_list(statement["Action"]) == ["cloudwatch:PutMetricData"]


def test_no_other_workload_may_publish_metrics(plan: Plan) -> None:
    for workload in set(WORKLOADS) - {"materializer", "consistency-probe"}:
        assert not _metric_statements(plan, workload), workload


def test_metrics_agent_only_remote_writes_to_the_platform_workspace(plan: Plan) -> None:
    workspace = plan.named("aws:amp/workspace:Workspace", "-prometheus").outputs["arn"]
    assert _grants(plan, "metrics-agent") == {"aps:RemoteWrite": {workspace}}
    for workload in set(WORKLOADS) - {"metrics-agent"}:
        assert not [a for a in _grants(plan, workload) if a.startswith("aps:")], workload


def test_consistency_probe_reads_exactly_what_it_compares(plan: Plan) -> None:
    buckets = {
        role: plan.named("aws:s3/bucket:Bucket", f"-{role}-bucket").outputs["arn"]
        for role in ("registry", "offline-store")
    }
    grants = _grants(plan, "consistency-probe")
    assert grants["s3:GetObject"] == {f"{arn}/*" for arn in buckets.values()}
    assert grants["secretsmanager:GetSecretValue"] == {plan.outputs["online_store_auth_secret_arn"]}
    # It compares; it never writes a store or touches Kafka.
    assert not grants.keys() & {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt"}
    assert not [a for a in grants if a.startswith(("kafka-cluster:", "elasticache:Modify"))]


def test_consistency_probe_has_its_own_identity_in_materialization(plan: Plan) -> None:
    associations = {
        (a.inputs["namespace"], a.inputs["serviceAccount"]) for a in plan.of_type(ASSOCIATION)
    }
    assert ("materialization", "consistency-probe") in associations
    assert ("materialization", "materializer") in associations
