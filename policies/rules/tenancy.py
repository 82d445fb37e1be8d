"""Tenancy: what a feature team (tenants/<name>.yaml) owns carries its name, and its roles grant
nothing outside its own prefixes.

A team's roles live under the IAM path ``/feature-platform/tenants/`` and are named
``<tenant>.<workload>``; '.' appears in no platform role's name, so a role policy names its
team through its role. The evaluation-based proof is tests/test_tenant_isolation.py; these
policies hold every stack to the same shape whoever wrote the JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ._base import Config, Props, Severity, as_list, plain, platform, resource_policy, statements

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


def _inside(resource: str, tenant: str) -> bool:
    """A resource a team's role may name: its own objects, topics and groups, a bucket (for a
    listing conditioned below), a key (conditioned), the Kafka cluster (connect)."""
    parts = resource.split(":", 5)
    if resource == "*" or len(parts) < 6:
        return False
    service, rest = parts[2], parts[5]
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


def within_prefixes(props: Props, config: Config) -> Iterator[str]:
    tenant = tenant_of_role(props.get("role"))
    if tenant is None:
        return
    for index, statement in enumerate(statements(plain(props.get("policy")))):
        if statement.get("Effect") != "Allow":
            continue
        where = f"statement {statement.get('Sid') or f'#{index}'}"
        for resource in as_list(statement.get("Resource")):
            if not isinstance(resource, str) or not _inside(resource, tenant):
                yield f"{where} of team {tenant!r} names {resource!r}, outside its own"
        actions = set(as_list(statement.get("Action")))
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


resource_policy(
    "tenant-roles-within-prefixes",
    description="A feature team's role policies grant only its own prefixes, topics and groups.",
    severity=Severity.HIGH,
    refs=(platform("TEN-2"),),
    remediation=(
        "Grant a team through `components.tenant.workload_grants`: objects under "
        "`<bucket>/<tenant>/`, listing with an `s3:prefix` condition on those prefixes, topics "
        "`<tenant>.<topic>`, groups `<tenant>.*`, and the data key through S3 only."
    ),
    types=("aws:iam/rolePolicy:RolePolicy",),
    check=within_prefixes,
)
