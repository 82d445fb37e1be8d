"""Audit building blocks: a check is one small unit that reads AWS and judges resources."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from blueprint.local.target import AwsTarget

ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "UnauthorizedException",
    }
)


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str
    status: Status
    detail: str = ""


@dataclass
class AuditContext:
    target: AwsTarget
    scope: dict[str, str] = field(default_factory=dict)
    """Only resources carrying all these tags are judged; empty means every resource."""

    def client(self, service: str) -> Any:
        return self.target.client(service)

    def in_scope(self, tags: dict[str, str]) -> bool:
        return all(tags.get(k) == v for k, v in self.scope.items())

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> Iterable[Any]:
        """Every item of a paginated listing."""
        paginator = self.client(service).get_paginator(operation)
        for page in paginator.paginate(**kwargs):
            yield from page.get(key, [])


CheckFn = Callable[[AuditContext], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    service: str
    permissions: tuple[str, ...]
    """Read-only IAM actions the check calls (``docs/audit.md`` lists them)."""
    types: tuple[str, ...]
    """The Pulumi type tokens of the resources it judges: it applies to a plan holding any."""
    run: CheckFn


CHECKS: dict[str, Check] = {}


TYPE_TOKEN = re.compile(
    r"aws:[a-zA-Z0-9]+/[a-zA-Z0-9]+:[A-Z][a-zA-Z0-9]*|featureplatform:[a-z]+:[A-Z][a-zA-Z0-9]*"
)
"""A pulumi-aws resource type token (``aws:<module>/<camelName>:<Name>``), or one of the
platform's components (``featureplatform:tenant:Tenant``) when only it tells what to judge."""


def check(
    check_id: str,
    title: str,
    *,
    service: str,
    permissions: tuple[str, ...],
    types: tuple[str, ...],
) -> Callable[[CheckFn], CheckFn]:
    """Register a check; ``types`` are required: a check that names no resource type could
    never be told apart from one that does not apply (see :mod:`blueprint.audit.applicability`).
    """

    def register(fn: CheckFn) -> CheckFn:
        if check_id in CHECKS:
            raise ValueError(f"duplicate check id {check_id}")
        if not types:
            raise ValueError(f"check {check_id} names no resource type it judges (types=)")
        if malformed := [t for t in types if not TYPE_TOKEN.fullmatch(t)]:
            raise ValueError(f"check {check_id}: {', '.join(malformed)} is not an aws type token")
        CHECKS[check_id] = Check(check_id, title, service, permissions, types, fn)
        return fn

    return register


def verdict(check_id: str, resource: str, problems: list[str]) -> Finding:
    """FAIL listing every problem found, or PASS when there is none."""
    return Finding(
        check_id, resource, Status.FAIL if problems else Status.PASS, "; ".join(problems)
    )


def customer_managed(ctx: AuditContext, key_id: str | None) -> bool:
    """The key exists and is the account's own (not an ``aws/<service>`` key)."""
    if not key_id:
        return False
    metadata = ctx.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
    return bool(metadata.get("KeyManager") == "CUSTOMER")


def tag_dict(
    tags: Iterable[dict[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


def error_code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))
