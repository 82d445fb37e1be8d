"""IAM roles for workloads on EKS, assumed through EKS Pod Identity."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam_documents import Statement, identity_policy, pod_identity_trust
from components.options import child

MAX_SESSION_SECONDS = 3600


@dataclass(frozen=True, kw_only=True)
class WorkloadIdentityArgs:
    account_id: str
    """The environment's account (trust condition)."""
    region: str
    """The cluster's region (trust condition)."""
    namespace: str
    """Kubernetes namespace of the service account."""
    service_account: str
    """Kubernetes service account the role is bound to."""
    statements: tuple[Statement, ...]
    """What the workload may do; checked for least privilege when built."""
    permissions_boundary_arn: str | None = None
    """Boundary capping the role, if the organisation uses one."""
    cluster_name: pulumi.Input[str] | None = None
    """Restrict the trust to one cluster, once the cluster exists."""


class WorkloadIdentity(pulumi.ComponentResource):
    """A role one Kubernetes service account can assume, with an inline least-privilege policy."""

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:identity:WorkloadIdentity", name, None, opts)
        # Build (and so check) the permissions before creating anything.
        policy = identity_policy(*args.statements)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Pod Identity role for {args.namespace}/{args.service_account}",
            assume_role_policy=pod_identity_trust(
                args.account_id,
                args.region,
                args.namespace,
                args.service_account,
                args.cluster_name,
            ).to_json(),
            permissions_boundary=args.permissions_boundary_arn,
            max_session_duration=MAX_SESSION_SECONDS,
            tags={
                "kubernetes-namespace": args.namespace,
                "kubernetes-service-account": args.service_account,
            },
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, policy=policy.to_json(), opts=child(self)
        )
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
