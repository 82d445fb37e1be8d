"""IAM role checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from blueprint.audit.model import AuditContext, Finding, check, tag_dict, verdict
from policies.rules.tenancy import (  # the pack's rule: one definition, two judges
    TENANT_PATH,
    TENANT_TAGS,
    tenant_of_role,
    within_prefixes,
)

CACHE_USER_READS = ("elasticache:DescribeUsers", "elasticache:ListTagsForResource")
"""A team role's ``elasticache:Connect`` is judged against the users tagged with its tenant."""
USER_ARN_REGION = re.compile(r"arn:aws[a-z-]*:elasticache:([a-z0-9-]+):\d*:user:")

ADMIN_POLICY_SUFFIXES = ("/AdministratorAccess", "FullAccess")
ROLE_READS = (
    "iam:ListRoles",
    "iam:ListRoleTags",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
)


def _document(raw: Any) -> dict[str, Any]:
    # IAM returns documents URL-encoded (boto3 decodes most, not all, of them).
    return dict(raw) if isinstance(raw, dict) else dict(json.loads(unquote(raw)))


def _wildcards(document: dict[str, Any]) -> list[str]:
    statements = document.get("Statement", [])
    found = []
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:  # allows everything except the listed actions
            found.append("NotAction")
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if action == "*" or action.endswith(":*"):
                found.append(action)
    return found


def _inline_documents(ctx: AuditContext, name: str) -> Iterable[tuple[str, dict[str, Any]]]:
    """(policy name, document) of each inline policy of role ``name``."""
    iam = ctx.client("iam")
    for policy_name in ctx.pages("iam", "list_role_policies", "PolicyNames", RoleName=name):
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        yield policy_name, _document(document)


@check(
    "IAM.NO_ADMIN_WILDCARDS",
    "Roles have no Allow of '*', 'service:*' or NotAction, and no *FullAccess/AdministratorAccess",
    service="iam",
    permissions=(*ROLE_READS, "iam:GetPolicy", "iam:GetPolicyVersion"),
    types=("aws:iam/role:Role",),
)
def roles(ctx: AuditContext) -> Iterable[Finding]:
    iam = ctx.client("iam")
    for role in ctx.pages("iam", "list_roles", "Roles"):
        name = role["RoleName"]
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue  # owned by AWS services, not by this platform
        if not ctx.in_scope(tag_dict(iam.list_role_tags(RoleName=name).get("Tags"))):
            continue
        problems = []
        for policy_name, document in _inline_documents(ctx, name):
            problems += [f"{policy_name}: {a}" for a in _wildcards(document)]
        for attached in ctx.pages(
            "iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name
        ):
            arn = attached["PolicyArn"]
            if arn.startswith("arn:aws:iam::aws:policy/") and arn.endswith(ADMIN_POLICY_SUFFIXES):
                problems.append(f"attached {arn.rsplit('/', 1)[-1]}")
                continue
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
                "Document"
            ]
            problems += [f"{attached['PolicyName']}: {a}" for a in _wildcards(_document(document))]
        yield verdict("IAM.NO_ADMIN_WILDCARDS", role["Arn"], problems)


class _CacheUsers:
    """ElastiCache users with a ``tenant`` tag, read from each region a role's ARNs name
    (users are regional, IAM is not): lower-cased id -> tenant, the pack's map."""

    def __init__(self, ctx: AuditContext) -> None:
        self._ctx = ctx
        self._regions: dict[str, dict[str, str]] = {}

    def _read(self, region: str) -> dict[str, str]:
        elasticache = self._ctx.target.client("elasticache", region)
        users: dict[str, str] = {}
        for page in elasticache.get_paginator("describe_users").paginate():
            for user in page.get("Users", []):
                listed = elasticache.list_tags_for_resource(ResourceName=user["ARN"])
                tags = tag_dict(listed.get("TagList"))
                if tags.get("tenant"):
                    users[str(user["UserId"]).lower()] = tags["tenant"]
        return users

    def for_document(self, document: dict[str, Any]) -> dict[str, str]:
        regions = set(USER_ARN_REGION.findall(json.dumps(document)))
        users: dict[str, str] = {}
        for region in sorted(regions):
            if region not in self._regions:
                self._regions[region] = self._read(region)
            users.update(self._regions[region])
        return users


@check(
    "TENANTS.CONFINED",
    "Feature teams' roles carry their tenant tags, have no managed policies, and their inline "
    "policies grant only the team's own prefixes, topics, groups and online-store users",
    service="iam",
    permissions=(*ROLE_READS, *CACHE_USER_READS),
    # A team's roles are plain IAM roles; what tells a plan has teams is their component.
    types=("featureplatform:tenant:Tenant",),
)
def tenant_roles(ctx: AuditContext) -> Iterable[Finding]:
    iam = ctx.client("iam")
    cache_users = _CacheUsers(ctx)
    for role in ctx.pages("iam", "list_roles", "Roles", PathPrefix=TENANT_PATH):
        name = role["RoleName"]
        tags = tag_dict(iam.list_role_tags(RoleName=name).get("Tags"))
        if not ctx.in_scope(tags):
            continue
        problems = [f"tag {key} missing" for key in TENANT_TAGS if not tags.get(key)]
        tenant = tenant_of_role(name)
        if tenant is None or tags.get("tenant") != tenant:
            problems.append(f"named {name!r} but tagged tenant={tags.get('tenant')!r}")
        attached = list(
            ctx.pages("iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name)
        )
        problems += [f"managed policy {a['PolicyArn']} attached" for a in attached]
        for policy_name, document in _inline_documents(ctx, name):
            props = {"role": name, "policy": document}
            users = cache_users.for_document(document)
            problems += [f"{policy_name}: {p}" for p in within_prefixes(props, {}, users)]
        yield verdict("TENANTS.CONFINED", role["Arn"], problems)
