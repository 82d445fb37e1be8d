"""The one way the bootstrap creates a role: a name, a trust, an inline policy if any."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.iam_documents import PolicyDocument
from components.options import child


def role_with_policy(
    name: str,
    parent: pulumi.Resource,
    *,
    role_name: str,
    description: str,
    trust: PolicyDocument,
    policy: PolicyDocument | None,
    max_session_seconds: int,
) -> aws.iam.Role:
    """A fixed-name role (the platform's stack files name it) and its inline policy, if any
    (the deployer's permissions are managed policies only)."""
    role = aws.iam.Role(
        f"{name}-role",
        name=role_name,
        description=description,
        assume_role_policy=trust.to_json(),
        max_session_duration=max_session_seconds,
        opts=child(parent),
    )
    if policy is not None:
        aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, policy=policy.to_json(), opts=child(parent)
        )
    return role
