"""IAM roles for workloads on EKS, assumed through EKS Pod Identity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
    """Restrict the trust to this cluster (and bind the service account to the role in it)."""
    managed_policy_arns: tuple[str, ...] = ()
    """AWS-managed policies a cluster add-on documents as its permissions (never *FullAccess)."""
    associate: bool = True
    """Create the Pod Identity association; add-ons pass False because EKS creates theirs."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Extra tags on the role and the association (a feature team's ``tenant`` tags)."""
    role_name: str | None = None
    """An explicit role name (a feature team's ``<tenant>.<workload>``); default: auto-named."""
    role_path: str | None = None
    """IAM path of the role (a feature team's ``/feature-platform/tenants/``)."""


class WorkloadIdentity(pulumi.ComponentResource):
    """A role one Kubernetes service account can assume, with an inline least-privilege policy."""

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:identity:WorkloadIdentity", name, None, opts)
        if not args.statements and not args.managed_policy_arns:
            raise ValueError(f"{name}: a workload identity needs statements or managed policies")
        if any(arn.endswith("FullAccess") for arn in args.managed_policy_arns):
            raise ValueError(f"{name}: *FullAccess policies are never attached to workloads")
        # Build (and so check) the permissions before creating anything.
        policy = identity_policy(*args.statements) if args.statements else None
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            path=args.role_path,
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
                **args.tags,
                "kubernetes-namespace": args.namespace,
                "kubernetes-service-account": args.service_account,
            },
            opts=child(self),
        )
        grants: list[pulumi.Resource] = []
        if policy is not None:
            grants.append(
                # The role's name, not its id: both are the name, but the name is known at
                # preview (given, or auto-named then), so policies judging the role policy by
                # its role (tenant-roles-within-prefixes) see it before the role exists.
                aws.iam.RolePolicy(
                    f"{name}-policy", role=role.name, policy=policy.to_json(), opts=child(self)
                )
            )
        for index, arn in enumerate(args.managed_policy_arns):
            grants.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-managed-{index}", role=role.name, policy_arn=arn, opts=child(self)
                )
            )
        if args.cluster_name is not None and args.associate:
            # The association waits for the grants: a pod started in between would get a
            # role that cannot do its job yet, and fail on its first call.
            aws.eks.PodIdentityAssociation(
                f"{name}-association",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=args.service_account,
                role_arn=role.arn,
                tags=dict(args.tags) or None,
                opts=child(self, depends_on=grants),
            )
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
