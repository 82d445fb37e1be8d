"""Feature teams are isolated by evaluation: each tenant role's effective permissions, with the
bucket, key and secret policies in play, decided by an IAM policy evaluator (ADR 0024).

The matrix: four tenants, two of them a prefix of each other (``ads`` and ``ads-ranking``), so
a grant that forgets its delimiter shows. A negative control widens one policy and must fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from blueprint.capture import Plan, PlannedResource
from blueprint.iam_eval.client import Principal, Request, ResourcePolicy, evaluate
from components.cache_access import team_user_id
from components.config.tenants import TenantSpec, parse_tenant, resolve
from components.platform import FeaturePlatform
from tests.conftest import run_component, stack_config

pytestmark = pytest.mark.iam_eval

TENANT_FILES: dict[str, dict[str, Any]] = {
    "ads": {
        "featureSets": {"bids": {"topics": {"bid-events": {}}}},
        "workloads": {"bidder": {"reads": ["bids"]}, "logger": {"writes": ["bids"]}},
    },
    "ads-ranking": {
        "featureSets": {"scores": {"topics": {"score-events": {}}}},
        "workloads": {"ranker": {"reads": ["scores"], "writes": ["scores"]}},
    },
    "search": {
        "featureSets": {"queries": {"topics": {"query-events": {}}}, "docs": {}},
        "workloads": {"ranker": {"reads": ["queries", "docs"]}},
    },
    "recommendations": {
        "featureSets": {"users": {"topics": {"interactions": {}}, "onlineKeyPrefix": "u"}},
        "workloads": {"pipeline": {"writes": ["users"]}, "serving": {"reads": ["users"]}},
    },
}


def tenant_specs() -> tuple[TenantSpec, ...]:
    config = stack_config("dev")
    specs = []
    for name, body in TENANT_FILES.items():
        raw = {
            "owner": f"{name}-team",
            "costCenter": "cc-1",
            "dataClassification": "internal",
            "environments": ["dev"],
            **body,
        }
        parsed = parse_tenant(name, raw, source=f"tenants/{name}.yaml")
        specs.append(resolve(name, parsed, source=name, quota_defaults=config.kubernetes.quota))
    return tuple(specs)


@dataclass(frozen=True)
class World:
    plan: Plan
    specs: dict[str, TenantSpec]
    bucket_arn: str
    key_arn: str
    cluster_arn: str
    resource_policies: dict[str, ResourcePolicy]
    platform_secret_arn: str
    platform_topic_arns: tuple[str, ...]
    cache_group_arn: str
    cache_user_arns: dict[tuple[str, str], str]
    """Each team workload's online-store user, by (tenant, workload)."""
    platform_user_arn: str


def _policy(resource: PlannedResource, key: str = "policy") -> dict[str, Any]:
    document = resource.inputs[key]
    return json.loads(document) if isinstance(document, str) else dict(document)


@cache
def matrix_plan() -> Plan:
    """The dev plan with the matrix's teams, captured once for the IAM and the cache matrix."""
    config, specs = stack_config("dev"), tenant_specs()

    def program() -> None:
        FeaturePlatform("feature-platform", config, tenants=specs)

    return run_component(program, stack="dev")


@pytest.fixture(scope="module")
def world() -> World:
    config = stack_config("dev")
    specs = tenant_specs()
    plan = matrix_plan()
    account = config.aws.account_id
    (offline,) = [b for b in plan.of_type("aws:s3/bucket:Bucket") if "offline-store" in b.name]
    bucket_arn = str(offline.outputs["arn"])
    (bucket_policy,) = [
        p
        for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if p.inputs["bucket"] == offline.outputs["bucket"]
    ]
    (data_key,) = [k for k in plan.of_type("aws:kms/key:Key") if "data" in k.name]
    key_arn = str(data_key.outputs["arn"])
    (cluster,) = plan.of_type("aws:msk/cluster:Cluster")
    secrets = plan.of_type("aws:secretsmanager/secret:Secret")
    resource_policies = {
        bucket_arn: ResourcePolicy(account, _policy(bucket_policy)),
        key_arn: ResourcePolicy(account, _policy(data_key)),
    }
    platform_topics = tuple(
        str(t.outputs["arn"])
        for t in plan.of_type("aws:msk/topic:Topic")
        if "." not in str(t.inputs["name"])
    )
    (cache_group,) = plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    users = plan.of_type("aws:elasticache/user:User")
    (platform_user,) = [u for u in users if u.inputs["userName"] == "default"]
    cache_user_arns = {
        (spec.name, workload): str(user.outputs["arn"])
        for spec in specs
        for workload in spec.workloads
        for user in users
        if user.inputs["userId"] == team_user_id(config.instance, spec.name, workload)
    }
    return World(
        plan=plan,
        specs={s.name: s for s in specs},
        bucket_arn=bucket_arn,
        key_arn=key_arn,
        cluster_arn=str(cluster.outputs["arn"]),
        resource_policies=resource_policies,
        platform_secret_arn=str(secrets[0].outputs["arn"]),
        platform_topic_arns=platform_topics,
        cache_group_arn=str(cache_group.outputs["arn"]),
        cache_user_arns=cache_user_arns,
        platform_user_arn=str(platform_user.outputs["arn"]),
    )


def role(world: World, tenant: str, workload: str) -> tuple[PlannedResource, dict[str, Any]]:
    name = f"{tenant}.{workload}"
    (found,) = [r for r in world.plan.of_type("aws:iam/role:Role") if r.inputs.get("name") == name]
    (policy,) = [
        p
        for p in world.plan.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == found.outputs.get("id", name) or p.inputs["role"] == name
    ]
    return found, _policy(policy)


def topic_arn(world: World, topic: str) -> str:
    (found,) = [t for t in world.plan.of_type("aws:msk/topic:Topic") if t.inputs["name"] == topic]
    return str(found.outputs["arn"])


def group_arn(world: World, group: str) -> str:
    return f"{world.cluster_arn.replace(':cluster/', ':group/', 1)}/{group}"


TLS = {"aws:SecureTransport": "true"}
KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"
VIA_S3 = {"kms:ViaService": "s3.eu-central-1.amazonaws.com", **TLS}


def requests_for(
    world: World, owner: TenantSpec, workload: str
) -> Iterator[tuple[str, Request, bool]]:
    """(label, request, expected) for one workload: its own resources as its grants say, every
    other tenant's and the platform's denied."""
    me = owner.workloads[workload]
    for spec in world.specs.values():
        own = spec.name == owner.name
        for fs in spec.feature_sets.values():
            reads = own and fs.name in me.reads
            writes = own and fs.name in me.writes
            obj = f"{world.bucket_arn}/{fs.offline_prefix}part-0.parquet"
            yield (f"get {obj}", Request("s3:GetObject", obj, TLS), reads)
            # The prefix itself, as directory-style readers HEAD it before listing.
            bare = f"{world.bucket_arn}/{fs.offline_prefix.rstrip('/')}"
            yield (f"head {bare}", Request("s3:GetObject", bare, TLS), reads)
            yield (f"put {obj}", Request("s3:PutObject", obj, TLS), writes)
            yield (
                f"list {fs.offline_prefix}",
                Request("s3:ListBucket", world.bucket_arn, {"s3:prefix": fs.offline_prefix, **TLS}),
                reads or writes,
            )
            for topic in fs.topics:
                arn = topic_arn(world, topic)
                yield (f"read {topic}", Request("kafka-cluster:ReadData", arn), reads)
                yield (f"write {topic}", Request("kafka-cluster:WriteData", arn), writes)
        group = group_arn(world, f"{spec.group_prefix}consumer")
        yield (
            f"group {spec.name}",
            Request("kafka-cluster:AlterGroup", group),
            own and any(owner.feature_sets[f].topics for f in me.reads),
        )
        # IAM authentication to the online store: a token only for its own user.
        for other in spec.workloads:
            yield (
                f"connect as {spec.name}.{other}",
                Request("elasticache:Connect", world.cache_user_arns[(spec.name, other)]),
                own and other == workload,
            )
    yield ("connect to the store", Request("elasticache:Connect", world.cache_group_arn), True)
    yield (
        "connect as the platform",
        Request("elasticache:Connect", world.platform_user_arn),
        False,
    )
    # Never: the whole bucket, the platform's topics and secret, the key outside S3.
    yield ("list everything", Request("s3:ListBucket", world.bucket_arn, TLS), False)
    yield ("list root", Request("s3:ListBucket", world.bucket_arn, {"s3:prefix": "", **TLS}), False)
    for arn in world.platform_topic_arns:
        yield (f"platform topic {arn}", Request("kafka-cluster:ReadData", arn), False)
    yield (
        "platform secret",
        Request("secretsmanager:GetSecretValue", world.platform_secret_arn),
        False,
    )
    yield ("key outside S3", Request("kms:Decrypt", world.key_arn, TLS), False)


def violations(world: World, policy_override: dict[str, Any] | None = None) -> list[str]:
    problems: list[str] = []
    for spec in world.specs.values():
        for workload in spec.workloads:
            resource, policy = role(world, spec.name, workload)
            cases = list(requests_for(world, spec, workload))
            principal = Principal(
                arn=str(resource.outputs["arn"]),
                identity_policies=[policy_override or policy]
                if (policy_override and spec.name == "ads" and workload == "bidder")
                else [policy],
                tags={"kubernetes-namespace": spec.namespace},
            )
            decisions = evaluate(principal, world.resource_policies, [c[1] for c in cases])
            for (label, _, expected), decision in zip(cases, decisions, strict=True):
                if decision.allowed != expected:
                    problems.append(
                        f"{spec.name}.{workload}: {label}: allowed={decision.allowed}, "
                        f"expected {expected} ({decision.reason})"
                    )
    return problems


def test_each_tenant_reaches_its_own_and_nothing_else(world: World) -> None:
    assert violations(world) == []


def test_own_access_is_really_granted(world: World) -> None:
    """The matrix above would pass for a role that may do nothing: prove the positives."""
    resource, policy = role(world, "ads", "logger")
    spec = world.specs["ads"]
    (fs,) = spec.feature_sets.values()
    principal = Principal(arn=str(resource.outputs["arn"]), identity_policies=[policy])
    obj = f"{world.bucket_arn}/{fs.offline_prefix}x"
    decisions = evaluate(
        principal,
        world.resource_policies,
        [
            Request("s3:PutObject", obj, TLS),
            Request("kafka-cluster:WriteData", topic_arn(world, "ads.bid-events")),
            Request("kms:GenerateDataKey", world.key_arn, VIA_S3),
            Request("elasticache:Connect", world.cache_group_arn),
            Request("elasticache:Connect", world.cache_user_arns[("ads", "logger")]),
        ],
    )
    assert [d.allowed for d in decisions] == [True] * 5, decisions


def test_a_widened_policy_fails_the_matrix(world: World) -> None:
    """Negative control: one role that may read every object of the bucket must show up."""
    _, policy = role(world, "ads", "bidder")
    widened = json.loads(json.dumps(policy))
    for statement in widened["Statement"]:
        if statement.get("Sid") == "ReadOwnObjects":
            statement["Resource"] = f"{world.bucket_arn}/*"
    problems = violations(world, policy_override=widened)
    assert problems, "the widened policy went unnoticed: the matrix cannot fail"
    assert any("ads-ranking/" in p and "get" in p for p in problems), problems


def test_a_connect_to_any_user_fails_the_matrix(world: World) -> None:
    """Negative control for the online store: ``user:*`` would let a team be any user."""
    _, policy = role(world, "ads", "bidder")
    widened = json.loads(json.dumps(policy))
    for statement in widened["Statement"]:
        if statement.get("Sid") == "ConnectAsOwnUser":
            statement["Resource"] = [
                world.cache_group_arn,
                world.platform_user_arn.rsplit(":", 1)[0] + ":*",
            ]
    problems = violations(world, policy_override=widened)
    assert any("connect as the platform" in p for p in problems), problems
    assert any("connect as ads-ranking.ranker" in p for p in problems), problems


def test_the_prefix_pair_shares_nothing(world: World) -> None:
    """``ads`` is a prefix of ``ads-ranking``: its grants end in a delimiter, so they match none
    of the other's names."""
    ads, ranking = world.specs["ads"], world.specs["ads-ranking"]
    assert ads.group_prefix == "ads." and not ranking.group_prefix.startswith(ads.group_prefix)
    assert all(
        not fs.offline_prefix.startswith(mine.offline_prefix)
        for fs in ranking.feature_sets.values()
        for mine in ads.feature_sets.values()
    )


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),  # no header: the bucket default (the data key) applies
        # aws:kms without a key id: S3 would use aws/s3, not the data key.
        ({"s3:x-amz-server-side-encryption": "aws:kms"}, False),
        ({"s3:x-amz-server-side-encryption": "AES256"}, False),
        ({"s3:x-amz-server-side-encryption": "aws:kms", KEY_HEADER: "KEY"}, True),
        ({"s3:x-amz-server-side-encryption": "aws:kms", KEY_HEADER: "other"}, False),
    ],
)
def test_the_bucket_refuses_only_uploads_that_name_another_encryption(
    world: World, headers: dict[str, str], allowed: bool
) -> None:
    resource, policy = role(world, "ads", "logger")
    principal = Principal(arn=str(resource.outputs["arn"]), identity_policies=[policy])
    context = {
        k: (world.key_arn if v == "KEY" else f"{world.key_arn}-other" if v == "other" else v)
        for k, v in headers.items()
    }
    obj = f"{world.bucket_arn}/{world.specs['ads'].feature_sets['bids'].offline_prefix}x"
    (decision,) = evaluate(
        principal, world.resource_policies, [Request("s3:PutObject", obj, {**TLS, **context})]
    )
    assert decision.allowed is allowed, decision
