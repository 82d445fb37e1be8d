"""Runs inside the evaluator's own environment (``.tools/iam-eval``), never in the project's.

principalmapper (AGPL-3.0) decides each request; this script only adapts our document to it and
corrects the one place its answer is more lenient than AWS for a role. The protocol, one JSON
document each way:

- stdin: ``{"principal": {"arn", "account", "identity_policies": [doc, ...], "boundary": doc |
  null, "tags": {k: v}}, "resource_policies": {arn_or_prefix: {"owner_account", "policy"}},
  "requests": [{"action", "resource", "context": {key: value | [values]}}]}``;
- stdout: ``[{"allowed": bool, "reason": str}, ...]``, one per request, in order. Anything it
  cannot decide exits non-zero with the reason on stderr.

Standard library at import time, so the project's tests import the pure helpers below
(:func:`select_resource_policy`, :func:`request_context`); principalmapper is imported in
:func:`main` only, after :func:`shim_collections`.
"""

from __future__ import annotations

import collections
import collections.abc
import importlib
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

ROLE_ID = "AROAIAMEVALOFFLINE"
"""The role's unique id (``aws:userid``); no policy under test names it."""
PMAPPER_LOGGER = "principalmapper.querying.query_interface"
IDENTITY_ALLOWS = "identity policy allows"
NO_ALLOW = "Implicit Deny: Principal's Attached Policies"
ABSENT_KEY_POLICY = (
    "no key policy given for {resource}: a KMS key is usable only through its key policy"
)
BOUNDARY_LIMITS_ROLE = (
    "Implicit Deny: Permission Boundary (a resource policy naming the role ARN does not lift the "
    "role's boundary)"
)


def shim_collections() -> None:
    """principalmapper 1.1.5 imports ``collections.Mapping`` and ``MutableMapping``
    (util/case_insensitive_dict.py:34), aliases Python 3.10 removed. Restored here, at runtime,
    rather than by editing the installed package."""
    for name in ("Mapping", "MutableMapping"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def select_resource_policy(
    resource: str, policies: Mapping[str, Mapping[str, Any]]
) -> tuple[str, Mapping[str, Any]] | None:
    """The resource policy that governs ``resource``: its key and entry, or ``None``.

    A key matches the resource it names exactly; a key ending in ``*`` matches every resource
    it prefixes; an S3 bucket's key (``arn:aws:s3:::bucket``) also governs its objects
    (``arn:aws:s3:::bucket/...``), as a bucket policy does. A resource has one resource policy
    in AWS, so two matching keys are an error, not a choice.
    """
    found = [
        key
        for key in policies
        if key == resource
        or (key.endswith("*") and resource.startswith(key[:-1]))
        or (_is_bucket(key) and resource.startswith(key + "/"))
    ]
    if len(found) > 1:
        raise ValueError(f"{resource} matches several resource policies: {sorted(found)}")
    return (found[0], policies[found[0]]) if found else None


def _is_bucket(arn: str) -> bool:
    return arn.startswith("arn:aws:s3:::") and "/" not in arn and not arn.endswith("*")


def request_context(
    tags: Mapping[str, str], context: Mapping[str, str | list[str]]
) -> dict[str, str | list[str]]:
    """The request's condition context: the principal's tags as ``aws:PrincipalTag/<k>`` (Pod
    Identity passes them as session tags), then the caller's keys, which win. Keys compare
    case-insensitively, as IAM's do (principalmapper refuses duplicates that differ in case)."""
    merged: dict[str, str | list[str]] = {f"aws:PrincipalTag/{k}": v for k, v in tags.items()}
    for key, value in context.items():
        for existing in [k for k in merged if k.lower() == key.lower()]:
            del merged[existing]
        merged[key] = value
    return merged


def service_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


class _LastReason(logging.Handler):
    """principalmapper reports only a boolean; its debug log names the step that decided."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Testing authorization for"):
            self.reason = message


def evaluate(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    shim_collections()
    common = importlib.import_module("principalmapper.common")
    query = importlib.import_module("principalmapper.querying.query_interface")
    check = query.local_check_authorization_full

    principal = document["principal"]
    arn = principal["arn"]
    identity = [
        common.Policy(arn, f"identity-{index}", doc)
        for index, doc in enumerate(principal["identity_policies"])
    ]
    boundary = principal.get("boundary")
    boundary_policy = (
        common.Policy(f"arn:aws:iam::{principal['account']}:policy/boundary", "boundary", boundary)
        if boundary is not None
        else None
    )

    def node(policies: list[Any], with_boundary: Any) -> Any:
        # Tags go into each request's context instead (request_context), so the Node has none.
        empty_trust = {"Version": "2012-10-17", "Statement": []}
        return common.Node(
            arn, ROLE_ID, policies, [], empty_trust, None, 0, False, False, with_boundary, False, {}
        )

    role = node(identity, boundary_policy)
    # The boundary alone as an identity policy: allowed iff the boundary allows the request.
    boundary_only = node([boundary_policy], None) if boundary_policy is not None else None
    reasons = _LastReason()
    logger = logging.getLogger(PMAPPER_LOGGER)
    logger.addHandler(reasons)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    decisions: list[dict[str, Any]] = []
    for request in document["requests"]:
        resource = request["resource"]
        context = request_context(principal.get("tags", {}), request.get("context", {}))
        selected = select_resource_policy(resource, document.get("resource_policies", {}))
        if selected is None and service_of(resource) == "kms":
            raise ValueError(ABSENT_KEY_POLICY.format(resource=resource))
        policy = selected[1]["policy"] if selected else None
        owner = selected[1]["owner_account"] if selected else None
        reasons.reason = ""
        allowed = bool(check(role, request["action"], resource, context, policy, owner))
        reason = reasons.reason or (IDENTITY_ALLOWS if allowed else NO_ALLOW)
        # principalmapper stops at a same-account resource policy that names the principal
        # (query_interface.py:366-371, "RP approval: skip further evaluation"): right for an IAM
        # user, too lenient for a role. A resource policy naming a role's ARN is still capped
        # by the role's permissions boundary (IAM User Guide, "Permissions boundaries for IAM
        # entities", resource-based policies; measured in benkehoe/permissions-boundary-test).
        if (
            allowed
            and boundary_only is not None
            and not check(boundary_only, request["action"], resource, context, None, None)
        ):
            allowed, reason = False, BOUNDARY_LIMITS_ROLE
        decisions.append({"allowed": allowed, "reason": reason})
    return decisions


def main() -> int:
    document = json.load(sys.stdin)
    try:
        decisions = evaluate(document)
    except (ValueError, KeyError, TypeError) as exc:
        print(f"iam-eval: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    json.dump(decisions, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
