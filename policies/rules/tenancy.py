"""Tenancy: what a feature team (tenants/<name>.yaml) owns carries its name, and its roles grant
nothing outside its own prefixes.

A team's roles live under the IAM path ``/feature-platform/tenants/`` and are named
``<tenant>.<workload>``; '.' appears in no platform role's name, so a role policy names its
team through its role. The evaluation-based proof is tests/test_tenant_isolation.py; these
policies hold every stack to the same shape whoever wrote the JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from ._base import (
    Config,
    Props,
    Severity,
    as_list,
    as_map,
    plain,
    platform,
    resource_policy,
    stack_policy,
    statements,
)

TENANT_PATH = "/feature-platform/tenants/"
TENANT_TAGS = ("tenant", "tenant-owner", "tenant-cost-center", "tenant-data-classification")
_TENANT_ROLE = re.compile(
    r"^(?P<tenant>[a-z][a-z0-9-]*[a-z0-9])\.[a-z][a-z0-9-]*[a-z0-9](\.pr[1-9][0-9]{0,5})?$"
)
"""``<tenant>.<workload>``, with ``.pr<N>`` in a review stack (components/tenant.py)."""


def tenant_of_role(name: Any) -> str | None:
    match = _TENANT_ROLE.match(name) if isinstance(name, str) else None
    return match["tenant"] if match else None


def _tenant_tagged(props: Props, config: Config) -> Iterator[str]:
    tenant = tenant_of_role(props.get("name"))
    if props.get("path") != TENANT_PATH and tenant is None:
        return
    tags = dict(props.get("tags") or {})
    missing = [key for key in TENANT_TAGS if not tags.get(key)]
    if missing:
        yield f"a feature team's role lacks the tags {missing} (cost allocation, ownership)"
    if tenant is not None and tags.get("tenant") not in (None, tenant):
        yield f"the role is named for team {tenant!r} but tagged tenant={tags.get('tenant')!r}"
    if props.get("path") != TENANT_PATH:
        yield f"a feature team's role belongs under the IAM path {TENANT_PATH}"


resource_policy(
    "tenant-resources-tagged",
    description="A feature team's roles carry its tenant, owner, cost center and data tags.",
    severity=Severity.MEDIUM,
    refs=(platform("TEN-1"),),
    remediation=(
        "Build a team's roles with `components.tenant.Tenant` (from tenants/<name>.yaml): it "
        "tags each with `TenantSpec.tags()` and puts it under /feature-platform/tenants/."
    ),
    types=("aws:iam/role:Role",),
    check=_tenant_tagged,
)


CACHE_USER_TYPE = "aws:elasticache/user:User"
CACHE_ACTIONS = frozenset({"elasticache:connect"})
"""What a team's role may do in ElastiCache: authenticate (IAM) as its own users."""


def _cache_inside(rest: str, tenant: str, cache_users: Mapping[str, str]) -> bool:
    kind, _, name = rest.partition(":")
    if not name or re.search(r"[*?]", name):
        return False
    # AWS stores user ids in lower case (CreateUser); ARNs name them so.
    return kind == "replicationgroup" or (
        kind == "user" and cache_users.get(name.lower()) == tenant
    )


def _inside(resource: str, tenant: str, cache_users: Mapping[str, str]) -> bool:
    """A resource a team's role may name: its own objects, topics and groups, a bucket (for a
    listing conditioned below), a key (conditioned), the Kafka cluster (connect), a cache
    replication group and the cache users tagged with its tenant (connect)."""
    parts = resource.split(":", 5)
    if resource == "*" or len(parts) < 6:
        return False
    service, rest = parts[2], parts[5]
    if service == "elasticache":
        return _cache_inside(rest, tenant, cache_users)
    if service == "s3":
        bucket, _, key = rest.partition("/")
        return "*" not in bucket and (not key or key.startswith(f"{tenant}/"))
    if service == "kafka":
        kind, _, path = rest.partition("/")
        leaf = path.rsplit("/", 1)[-1]
        if kind in ("topic", "group"):
            return leaf.startswith(f"{tenant}.") and "*" not in leaf[: len(tenant) + 1]
        return kind == "cluster" and "*" not in path
    return service == "kms" and rest.startswith("key/") and "*" not in rest


def within_prefixes(
    props: Props, config: Config, cache_users: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Problems of one role policy; ``cache_users`` maps each ElastiCache user id (lower case)
    to its ``tenant`` tag (users without one are absent)."""
    tenant = tenant_of_role(props.get("role"))
    if tenant is None:
        return
    users = cache_users or {}
    for index, statement in enumerate(statements(plain(props.get("policy")))):
        if statement.get("Effect") != "Allow":
            continue
        where = f"statement {statement.get('Sid') or f'#{index}'}"
        for resource in as_list(statement.get("Resource")):
            if not isinstance(resource, str) or not _inside(resource, tenant, users):
                yield f"{where} of team {tenant!r} names {resource!r}, outside its own"
        actions = set(as_list(statement.get("Action")))
        cache = sorted(
            a
            for a in actions
            if isinstance(a, str)
            and a.lower().startswith("elasticache:")
            and a.lower() not in CACHE_ACTIONS
        )
        if cache:
            yield f"{where} of team {tenant!r} allows {cache}: only elasticache:Connect"
        if "s3:ListBucket" in actions:
            prefixes = as_list(
                dict(statement.get("Condition") or {}).get("StringLike", {}).get("s3:prefix")
            )
            if not prefixes or any(
                not isinstance(p, str) or not p.startswith(f"{tenant}/") for p in prefixes
            ):
                yield f"{where} lists the bucket beyond {tenant}/ (s3:prefix {prefixes})"
        if any(a.startswith("kms:") for a in actions if isinstance(a, str)):
            via = dict(statement.get("Condition") or {}).get("StringEquals", {})
            if not str(via.get("kms:ViaService", "")).startswith("s3."):
                yield f"{where} uses a key outside S3 (no kms:ViaService condition)"


def cache_users_by_id(resources: Sequence[PolicyResource]) -> dict[str, str]:
    """Each ElastiCache user of the stack with a ``tenant`` tag: lower-cased id -> tenant."""
    users: dict[str, str] = {}
    for resource in resources:
        if resource.resource_type != CACHE_USER_TYPE:
            continue
        user_id, tenant = (
            resource.props.get("userId"),
            as_map(resource.props.get("tags")).get("tenant"),
        )
        if isinstance(user_id, str) and isinstance(tenant, str) and tenant:
            users[user_id.lower()] = tenant
    return users


def _roles_within_prefixes(
    resources: Sequence[PolicyResource], config: Config
) -> Iterator[tuple[str, str | None]]:
    users = cache_users_by_id(resources)
    for resource in resources:
        if resource.resource_type == "aws:iam/rolePolicy:RolePolicy":
            for message in within_prefixes(resource.props, config, users):
                yield message, resource.urn


# A stack policy: a role's `elasticache:Connect` is judged against the users the plan tags
# with the role's tenant.
stack_policy(
    "tenant-roles-within-prefixes",
    description="A feature team's role policies grant only its own prefixes, topics, groups "
    "and online-store users.",
    severity=Severity.HIGH,
    refs=(platform("TEN-2"),),
    remediation=(
        "Grant a team through `components.tenant.workload_grants`: objects under "
        "`<bucket>/<tenant>/`, listing with an `s3:prefix` condition on those prefixes, topics "
        "`<tenant>.<topic>`, groups `<tenant>.*`, the data key through S3 only, and "
        "`elasticache:Connect` on the replication group and the workload's own user (tagged "
        "`tenant=<tenant>`)."
    ),
    check=_roles_within_prefixes,
)
