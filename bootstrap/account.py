"""Account prerequisites the platform's stacks name: the human roles, the workload
permissions boundary and the EC2 Auto Scaling service-linked role."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bootstrap.boundary import workload_boundary
from bootstrap.iam import role_with_policy
from components.iam_documents import PolicyDocument, PolicyKind, Statement, identity_policy
from components.options import child

KEY_ADMIN_ROLE = "feature-platform-key-admin"
CLUSTER_ADMIN_ROLE = "feature-platform-admin"
BOUNDARY_POLICY = "feature-platform-workload-boundary"
AUTOSCALING_SERVICE = "autoscaling.amazonaws.com"
HUMAN_SESSION_SECONDS = 3600


def principal_trust(account_id: str, principal_arns: tuple[str, ...]) -> PolicyDocument:
    """Principals of this account whose ARN matches one of the patterns (SSO roles end in
    a random suffix, and a trust policy naming a missing role is refused at creation)."""
    return PolicyDocument(
        PolicyKind.TRUST,
        (
            Statement(
                sid="NamedPrincipals",
                actions=("sts:AssumeRole", "sts:SetSourceIdentity"),
                principals={"AWS": (f"arn:aws:iam::{account_id}:root",)},
                conditions={"ArnLike": {"aws:PrincipalArn": principal_arns}},
            ),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class AccountRolesArgs:
    account_id: str
    region: str
    environment: str
    key_admin_principals: tuple[str, ...]
    cluster_admin_principals: tuple[str, ...]
    create_autoscaling_service_linked_role: bool


class AccountRoles(pulumi.ComponentResource):
    """``feature-platform-key-admin``, ``feature-platform-admin``, the workload boundary and
    ``AWSServiceRoleForAutoScaling``."""

    key_admin_role_arn: pulumi.Output[str]
    cluster_admin_role_arn: pulumi.Output[str]
    boundary_policy_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AccountRolesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:bootstrap:AccountRoles", name, None, opts)
        prefix = f"feature-platform-{args.environment}"
        # Key administration itself comes from each key's policy, which names this role;
        # its own policy only lets it find the keys.
        key_admin = _role(
            self,
            f"{name}-key-admin",
            role_name=KEY_ADMIN_ROLE,
            description="Administers (never uses) the platform's KMS keys",
            principals=args.key_admin_principals,
            account_id=args.account_id,
            policy=identity_policy(
                Statement(
                    sid="FindKeys",
                    actions=("kms:ListAliases", "kms:ListKeys"),
                    resources=("*",),
                ),
            ),
        )
        # Cluster admin comes from the EKS access entry; AWS-side it only reads the cluster
        # (endpoint and CA for a kubeconfig).
        cluster = f"arn:aws:eks:{args.region}:{args.account_id}:cluster/{prefix}"
        cluster_admin = _role(
            self,
            f"{name}-cluster-admin",
            role_name=CLUSTER_ADMIN_ROLE,
            description=f"Break-glass and on-call administrators of {prefix}",
            principals=args.cluster_admin_principals,
            account_id=args.account_id,
            policy=identity_policy(
                Statement(
                    sid="DescribeCluster", actions=("eks:DescribeCluster",), resources=(cluster,)
                ),
                Statement(sid="ListClusters", actions=("eks:ListClusters",), resources=("*",)),
            ),
        )
        boundary = aws.iam.Policy(
            f"{name}-workload-boundary",
            name=BOUNDARY_POLICY,
            description="Caps every role the feature platform creates (permissions boundary)",
            policy=workload_boundary(args.account_id, args.region, args.environment).to_json(),
            opts=child(self),
        )
        if args.create_autoscaling_service_linked_role:
            # The data key's policy names this role (node root volumes); KMS refuses a key
            # policy naming a role that does not exist yet.
            aws.iam.ServiceLinkedRole(
                f"{name}-autoscaling-slr",
                aws_service_name=AUTOSCALING_SERVICE,
                description="EC2 Auto Scaling (EKS managed node groups)",
                opts=child(self),
            )
        self.key_admin_role_arn = key_admin.arn
        self.cluster_admin_role_arn = cluster_admin.arn
        self.boundary_policy_arn = boundary.arn
        self.register_outputs(
            {
                "key_admin_role_arn": self.key_admin_role_arn,
                "cluster_admin_role_arn": self.cluster_admin_role_arn,
                "boundary_policy_arn": self.boundary_policy_arn,
            }
        )


def _role(
    parent: pulumi.Resource,
    name: str,
    *,
    role_name: str,
    description: str,
    principals: tuple[str, ...],
    account_id: str,
    policy: PolicyDocument,
) -> aws.iam.Role:
    """A role people assume (key admin, cluster admin): trusted by principal pattern."""
    return role_with_policy(
        name,
        parent,
        role_name=role_name,
        description=description,
        trust=principal_trust(account_id, principals),
        policy=policy,
        max_session_seconds=HUMAN_SESSION_SECONDS,
    )
