"""The EKS cluster: private API, encrypted secrets, managed nodes, pinned add-ons, access."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config.compute import MIN_PUBLIC_CIDR_PREFIX, ClusterSettings, NodeGroupSettings
from components.iam_documents import (
    PolicyDocument,
    PolicyKind,
    Statement,
    identity_policy,
    service_trust,
)
from components.identity import WorkloadIdentity, WorkloadIdentityArgs
from components.log_group import encrypted_log_group
from components.options import child, stateful

# --- AWS names and limits -----------------------------------------------------------------

CLUSTER_NAME_PATTERN = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
"""What CreateCluster accepts (1-100 characters, starting alphanumeric)."""

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
"""Every control-plane log EKS can ship; audit and authenticator are the security trail."""

CLUSTER_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
NODE_POLICY_ARNS = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "ecr-pull": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
}
"""What a managed node documents as its permissions: join, pull images, manage pod IPs."""

CLUSTER_ADMIN_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
ADMIN_VIEW_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
"""Read every object, Secrets and RBAC included (what a refresh of the Kubernetes layer
reads), write nothing; AmazonEKSViewPolicy would refuse the layer's RBAC objects."""

AUTHENTICATION_MODE = "API"
"""Access entries only: no aws-auth ConfigMap that anyone with cluster write could edit."""
ACCESS_ENTRY_TYPE = "STANDARD"
SUPPORT_TYPE = "STANDARD"
"""Extended support costs six times as much per hour; an old version is upgraded instead."""

CLUSTER_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey")
"""What the control plane uses the secrets key for (the key policy only delegates to IAM)."""

EBS_CSI_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
EBS_CSI_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
EBS_KEY_GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")
EBS_KEY_USE_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)

# Add-on names as EKS spells them.
VPC_CNI = "vpc-cni"
KUBE_PROXY = "kube-proxy"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
COREDNS = "coredns"
EBS_CSI_DRIVER = "aws-ebs-csi-driver"
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}
"""Without it the CNI ignores NetworkPolicy objects and every pod can reach every pod."""
CONFLICTS_ON_CREATE = "OVERWRITE"
CONFLICTS_ON_UPDATE = "PRESERVE"

# Nodes.
ROOT_DEVICE = "/dev/xvda"
"""The root volume of the AL2023 EKS AMIs."""
ROOT_VOLUME_TYPE = "gp3"
IMDS_HOP_LIMIT = 1
"""One hop: host-network agents reach IMDS, pods (one hop further) cannot take the node role."""
MAX_UNAVAILABLE_PERCENTAGE = 33
"""A rolling node update replaces at most a third of a group at a time."""
DESIRED_SIZE_PATH = "scalingConfig.desiredSize"

# Network.
HTTPS = 443
KUBELET = 10250
ALL_PROTOCOLS = "-1"
ANYWHERE_IPV4 = "0.0.0.0/0"

KUBECONFIG_EXEC_API = "client.authentication.k8s.io/v1beta1"
"""The version `aws eks get-token` answers in."""


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    cluster_name: str
    """Explicit EKS cluster name (the control-plane log group is named after it)."""
    account_id: str
    """The environment's account (trust conditions)."""
    region: str
    """The cluster's region (trust conditions, kubeconfig)."""
    settings: ClusterSettings
    """Version, endpoint access, admins, add-on versions and node groups, from the config."""
    vpc_id: pulumi.Input[str]
    """VPC of the cluster and its security groups."""
    vpc_cidr: pulumi.Input[str]
    """VPC CIDR: where nodes may send any traffic."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Workload subnets: nodes and the control-plane ENIs."""
    cluster_key_arn: pulumi.Input[str]
    """KMS key for envelope encryption of Kubernetes secrets."""
    data_key_arn: pulumi.Input[str]
    """KMS key for node root volumes and EBS persistent volumes."""
    logs_key_arn: pulumi.Input[str]
    """KMS key of the control-plane log group."""
    log_retention_days: int
    """Retention of the control-plane log group."""
    deploy_role_arn: str
    """CI/Pulumi deployer role: cluster admin, so it can apply the Kubernetes layer."""
    token_role_arn: str | None
    """Role the kubeconfig's token assumes; ``None`` when Pulumi already runs as the deployer
    (``aws.credentials: ambient``), so the deployer never needs to trust itself."""
    permissions_boundary_arn: str | None
    """Boundary on the cluster, node and add-on roles, if the organisation uses one."""
    protect: bool
    """Prod: EKS deletion protection, plus protect and retain on the cluster."""
    instance_tags: Mapping[str, str] = field(default_factory=dict)
    """The platform's tags for nodes and their volumes: the provider's default tags reach the
    launch template but not what EC2 launches from it (cost reports key on them)."""


def check_args(args: ClusterArgs) -> None:
    """Refuse what EKS would reject late, or what would expose the API to the internet.

    The config model already enforces the endpoint rules; settings copied without
    validation (``model_copy``) must not slip an open allowlist past it.
    """
    if not CLUSTER_NAME_PATTERN.match(args.cluster_name):
        raise ValueError(
            f"cluster name {args.cluster_name!r}: 1-100 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    settings = args.settings
    if settings.endpoint_public_access and not settings.public_access_cidrs:
        raise ValueError("a public API endpoint needs publicAccessCidrs; EKS would open it to all")
    if settings.public_access_cidrs and not settings.endpoint_public_access:
        raise ValueError("publicAccessCidrs without endpointPublicAccess: true")
    for cidr in settings.public_access_cidrs:
        if ipaddress.IPv4Network(cidr, strict=False).prefixlen < MIN_PUBLIC_CIDR_PREFIX:
            raise ValueError(
                f"public API allowlist {cidr} is wider than /{MIN_PUBLIC_CIDR_PREFIX}; "
                "name office or VPN egress ranges"
            )


def kubeconfig(
    cluster_name: str, endpoint: str, ca_data: str, region: str, role_arn: str | None
) -> dict[str, Any]:
    """A kubeconfig that gets a token for the deployer on each call (nothing stored): as
    ``role_arn`` when given, else as the credentials Pulumi runs with."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
            }
        ],
        "contexts": [
            {"name": cluster_name, "context": {"cluster": cluster_name, "user": "deployer"}}
        ],
        "current-context": cluster_name,
        "users": [
            {
                "name": "deployer",
                "user": {
                    "exec": {
                        "apiVersion": KUBECONFIG_EXEC_API,
                        "command": "aws",
                        "args": [
                            "eks",
                            "get-token",
                            "--cluster-name",
                            cluster_name,
                            "--region",
                            region,
                            *(("--role-arn", role_arn) if role_arn else ()),
                            "--output",
                            "json",
                        ],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }


class Cluster(pulumi.ComponentResource):
    """EKS with a private API, KMS-encrypted secrets, AL2023 managed nodes and pinned add-ons."""

    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    access_ready: list[pulumi.Resource]
    """Access entries and their policy associations: the Kubernetes provider waits for them."""

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:compute:Cluster", name, None, opts)
        check_args(args)
        settings = args.settings

        # --- IAM -------------------------------------------------------------------------
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            description=f"EKS control plane of {args.cluster_name}",
            assume_role_policy=service_trust(
                "eks.amazonaws.com",
                args.account_id,
                source_arn=(
                    f"arn:aws:eks:{args.region}:{args.account_id}:cluster/{args.cluster_name}"
                ),
            ).to_json(),
            permissions_boundary=args.permissions_boundary_arn,
            opts=child(self),
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=CLUSTER_POLICY_ARN,
            opts=child(self),
        )
        # AmazonEKSClusterPolicy has no KMS; without this EKS cannot create its grant on
        # the secrets key and CreateCluster fails.
        cluster_key_policy = aws.iam.RolePolicy(
            f"{name}-cluster-key",
            role=cluster_role.id,
            policy=identity_policy(
                Statement(
                    sid="SecretsEnvelopeEncryption",
                    actions=CLUSTER_KEY_ACTIONS,
                    resources=(args.cluster_key_arn,),
                ),
            ).to_json(),
            opts=child(self),
        )

        # No aws:SourceAccount condition, unlike service_trust: EC2 does not document setting
        # it for instance-profile credentials (the EKS node role trust is bare), and a
        # condition it does not meet would leave every node without credentials. Putting the
        # role on an instance needs iam:PassRole in this account, which is the guard here.
        node_role = aws.iam.Role(
            f"{name}-node-role",
            description=f"EKS managed nodes of {args.cluster_name}",
            assume_role_policy=PolicyDocument(
                PolicyKind.TRUST,
                (
                    Statement(
                        sid="TrustEc2",
                        actions=("sts:AssumeRole",),
                        principals={"Service": ("ec2.amazonaws.com",)},
                    ),
                ),
            ).to_json(),
            permissions_boundary=args.permissions_boundary_arn,
            opts=child(self),
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{role}",
                role=node_role.name,
                policy_arn=arn,
                opts=child(self),
            )
            for role, arn in NODE_POLICY_ARNS.items()
        ]

        # --- security groups -------------------------------------------------------------
        control_plane_sg = aws.ec2.SecurityGroup(
            f"{name}-control-plane-sg",
            vpc_id=args.vpc_id,
            description="EKS control-plane ENIs: API from the nodes, calls to kubelets/webhooks",
            tags={"Name": f"{args.cluster_name}-control-plane"},
            opts=child(self),
        )
        # The platform SG: data stores admit only this group. It must not carry the
        # kubernetes.io/cluster tag: EKS already put it on its cluster SG, and the load
        # balancer controller refuses nodes with two tagged groups.
        node_sg = aws.ec2.SecurityGroup(
            f"{name}-node-sg",
            vpc_id=args.vpc_id,
            description="EKS nodes and pods: the platform SG data stores admit",
            tags={"Name": f"{args.cluster_name}-nodes"},
            opts=child(self),
        )

        # --- control plane ---------------------------------------------------------------
        # EKS writes to this exact name; created by EKS itself it would never expire and
        # would not be encrypted with our key.
        log_group = encrypted_log_group(
            f"{name}-control-plane-logs",
            self,
            log_name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_days=args.log_retention_days,
            key_arn=args.logs_key_arn,
            protect=args.protect,
        )
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=settings.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=settings.endpoint_public_access,
                # Omitted when private: EKS would otherwise record 0.0.0.0/0.
                public_access_cidrs=(
                    list(settings.public_access_cidrs) if settings.endpoint_public_access else None
                ),
                security_group_ids=[control_plane_sg.id],
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.cluster_key_arn),
                resources=["secrets"],
            ),
            # The deployer gets an explicit access entry below; bootstrapping the creator as
            # well would make that entry fail (it would already exist) and leave an admin
            # that no code declares.
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode=AUTHENTICATION_MODE,
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            # Every add-on is a managed, pinned add-on below; EKS's self-managed defaults
            # would be unpinned copies the managed ones then overwrite.
            bootstrap_self_managed_addons=False,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=SUPPORT_TYPE),
            deletion_protection=args.protect,
            # EKS validates the role's permissions (and the key grant) at creation, and
            # would create its own unencrypted log group if ours did not exist yet.
            opts=stateful(
                self, args.protect, depends_on=[log_group, cluster_policy, cluster_key_policy]
            ),
        )
        cluster_sg_id: pulumi.Output[str] = cluster.vpc_config.cluster_security_group_id

        self._security_group_rules(name, args, node_sg, control_plane_sg, cluster_sg_id)

        # --- access ----------------------------------------------------------------------
        access_ready = self._access_entries(name, args, cluster)

        # --- add-ons needed before nodes can become Ready --------------------------------
        addons = settings.addons
        pre_compute = [
            self._addon(
                name,
                cluster,
                VPC_CNI,
                addons.vpc_cni,
                configuration_values=json.dumps(VPC_CNI_CONFIGURATION),
            ),
            self._addon(name, cluster, KUBE_PROXY, addons.kube_proxy),
            self._addon(name, cluster, POD_IDENTITY_AGENT, addons.pod_identity_agent),
        ]

        # --- nodes -----------------------------------------------------------------------
        node_groups = [
            self._node_group(
                name,
                args,
                group,
                group_settings,
                cluster=cluster,
                node_role=node_role,
                security_group_ids=[node_sg.id, cluster_sg_id],
                depends_on=[*node_policies, *pre_compute],
            )
            for group, group_settings in settings.node_groups.items()
        ]

        # --- add-ons that run as Deployments: they stay DEGRADED until nodes exist -------
        self._addon(name, cluster, COREDNS, addons.coredns, depends_on=node_groups)
        ebs_identity = WorkloadIdentity(
            f"{name}-ebs-csi",
            WorkloadIdentityArgs(
                account_id=args.account_id,
                region=args.region,
                namespace=EBS_CSI_NAMESPACE,
                service_account=EBS_CSI_SERVICE_ACCOUNT,
                statements=(
                    # Attaching an encrypted volume makes EC2 create a grant on the key.
                    Statement(
                        sid="DataKeyGrants",
                        actions=EBS_KEY_GRANT_ACTIONS,
                        resources=(args.data_key_arn,),
                        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                    ),
                    Statement(
                        sid="DataKeyUse",
                        actions=EBS_KEY_USE_ACTIONS,
                        resources=(args.data_key_arn,),
                    ),
                ),
                permissions_boundary_arn=args.permissions_boundary_arn,
                cluster_name=args.cluster_name,
                managed_policy_arns=(EBS_CSI_POLICY_ARN,),
                # EKS creates the association from the add-on's podIdentityAssociations.
                associate=False,
            ),
            opts=child(self),
        )
        self._addon(
            name,
            cluster,
            EBS_CSI_DRIVER,
            addons.ebs_csi_driver,
            pod_identity_associations=[
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=ebs_identity.role_arn, service_account=EBS_CSI_SERVICE_ACCOUNT
                )
            ],
            # The role's grants must be in place before the controller first calls EC2.
            depends_on=[*node_groups, ebs_identity],
        )

        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.endpoint = cluster.endpoint
        # Where the in-cluster API service lives: pods that call the API need egress to it.
        self.service_cidr: pulumi.Output[str] = cluster.kubernetes_network_config.apply(
            _service_cidr
        )
        self.certificate_authority = cluster.certificate_authority.data
        self.node_security_group_id = node_sg.id
        self.cluster_security_group_id = cluster_sg_id
        self.node_role_arn = node_role.arn
        self.kubeconfig = pulumi.Output.all(
            cluster.name, cluster.endpoint, self.certificate_authority
        ).apply(
            lambda values: json.dumps(
                kubeconfig(values[0], values[1], values[2], args.region, args.token_role_arn)
            )
        )
        self.access_ready = access_ready
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "endpoint": self.endpoint,
                "certificate_authority": self.certificate_authority,
                "node_security_group_id": self.node_security_group_id,
                "cluster_security_group_id": self.cluster_security_group_id,
                "node_role_arn": self.node_role_arn,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _access_entries(
        self, name: str, args: ClusterArgs, cluster: aws.eks.Cluster
    ) -> list[pulumi.Resource]:
        """Access entries: the deployer and the admins as cluster admin, the viewers (the drift
        role) read-only. The Kubernetes provider waits for all of them."""
        settings = args.settings
        admins = list(dict.fromkeys((args.deploy_role_arn, *settings.admin_role_arns)))
        viewers = [arn for arn in dict.fromkeys(settings.view_role_arns) if arn not in admins]
        ready: list[pulumi.Resource] = []
        for principal, policy, suffix in (
            *((arn, CLUSTER_ADMIN_POLICY_ARN, "admin") for arn in admins),
            *((arn, ADMIN_VIEW_POLICY_ARN, "view") for arn in viewers),
        ):
            # Role names are unique in an account, so the name is stable across reorders.
            role_name = principal.rsplit("/", 1)[-1]
            entry = aws.eks.AccessEntry(
                f"{name}-access-{role_name}",
                cluster_name=cluster.name,
                principal_arn=principal,
                type=ACCESS_ENTRY_TYPE,
                opts=child(self),
            )
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-access-{role_name}-{suffix}",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=policy,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=child(self, depends_on=[entry]),
            )
            ready += [entry, association]
        return ready

    def _security_group_rules(
        self,
        name: str,
        args: ClusterArgs,
        node_sg: aws.ec2.SecurityGroup,
        control_plane_sg: aws.ec2.SecurityGroup,
        cluster_sg_id: pulumi.Output[str],
    ) -> None:
        """Nodes talk freely among themselves and to the VPC; the API and kubelets only
        between nodes and control plane. No ingress from any CIDR at all.

        Webhooks served on other ports (e.g. 9443) still work: EKS attaches its cluster SG,
        which admits all traffic between its members, to both the control-plane ENIs and
        (through the launch template) every node. That SG also allows all egress, so on the
        nodes the egress rules here are a floor, not a ceiling: NetworkPolicies limit pods.
        """
        ingress: list[tuple[str, str, int | None, pulumi.Input[str], str]] = [
            ("self", ALL_PROTOCOLS, None, node_sg.id, "Node to node and pod to pod"),
            ("https-control-plane", "tcp", HTTPS, control_plane_sg.id, "Webhooks from the API"),
            ("kubelet-control-plane", "tcp", KUBELET, control_plane_sg.id, "Kubelet API"),
            ("https-cluster-sg", "tcp", HTTPS, cluster_sg_id, "Webhooks from the API (EKS SG)"),
            ("kubelet-cluster-sg", "tcp", KUBELET, cluster_sg_id, "Kubelet API (EKS SG)"),
        ]
        for role, protocol, port, source, description in ingress:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-node-in-{role}",
                security_group_id=node_sg.id,
                ip_protocol=protocol,
                from_port=port,
                to_port=port,
                referenced_security_group_id=source,
                description=description,
                opts=child(self),
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-node-out-vpc",
            security_group_id=node_sg.id,
            ip_protocol=ALL_PROTOCOLS,
            cidr_ipv4=args.vpc_cidr,
            description="Anything inside the VPC: API, DNS, data stores, endpoints",
            opts=child(self),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-node-out-https",
            security_group_id=node_sg.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4=ANYWHERE_IPV4,
            description="AWS APIs and image registries through the NAT gateways",
            opts=child(self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-control-plane-in-https",
            security_group_id=control_plane_sg.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            referenced_security_group_id=node_sg.id,
            description="Kubernetes API from nodes and pods",
            opts=child(self),
        )
        for role, port in (("https", HTTPS), ("kubelet", KUBELET)):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-control-plane-out-{role}",
                security_group_id=control_plane_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=node_sg.id,
                description=f"To the nodes on {port}",
                opts=child(self),
            )

    def _addon(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        addon: str,
        version: str,
        *,
        configuration_values: str | None = None,
        pod_identity_associations: Sequence[aws.eks.AddonPodIdentityAssociationArgs] = (),
        depends_on: Sequence[pulumi.Resource] | None = None,
    ) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{name}-addon-{addon}",
            cluster_name=cluster.name,
            addon_name=addon,
            addon_version=version,
            configuration_values=configuration_values,
            pod_identity_associations=list(pod_identity_associations) or None,
            # On create, take over anything a previous install left; on update, keep
            # what an operator changed in the cluster rather than silently reverting it.
            resolve_conflicts_on_create=CONFLICTS_ON_CREATE,
            resolve_conflicts_on_update=CONFLICTS_ON_UPDATE,
            opts=child(self, depends_on=depends_on),
        )

    def _node_group(
        self,
        name: str,
        args: ClusterArgs,
        group: str,
        settings: NodeGroupSettings,
        *,
        cluster: aws.eks.Cluster,
        node_role: aws.iam.Role,
        security_group_ids: Sequence[pulumi.Input[str]],
        depends_on: Sequence[pulumi.Resource],
    ) -> aws.eks.NodeGroup:
        node_name = f"{args.cluster_name}-{group}"
        # No image and no instance profile: EKS picks the AL2023 AMI for ami_type and builds
        # the profile from node_role_arn. Naming security groups here replaces the EKS
        # default (its cluster SG), so that group is listed explicitly.
        template = aws.ec2.LaunchTemplate(
            f"{name}-{group}-lt",
            description=f"EKS node group {node_name}",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=IMDS_HOP_LIMIT,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=settings.disk_size_gib,
                        volume_type=ROOT_VOLUME_TYPE,
                        encrypted="true",
                        kms_key_id=args.data_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            vpc_security_group_ids=list(security_group_ids),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=resource_type, tags={**args.instance_tags, "Name": node_name}
                )
                for resource_type in ("instance", "volume")
            ],
            opts=child(self),
        )
        # Auto-named: changing instance or AMI type replaces the group, and the new one
        # is created before the old is drained, so the two need different names.
        return aws.eks.NodeGroup(
            f"{name}-{group}",
            cluster_name=cluster.name,
            # Nodes may not be newer than the control plane: taking the version from the
            # cluster rolls them only after the control-plane upgrade has finished.
            version=cluster.version,
            node_role_arn=node_role.arn,
            subnet_ids=args.private_subnet_ids,
            ami_type=settings.ami_type.value,
            capacity_type=settings.capacity_type.value,
            instance_types=list(settings.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=settings.min_size,
                desired_size=settings.desired_size,
                max_size=settings.max_size,
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(
                max_unavailable_percentage=MAX_UNAVAILABLE_PERCENTAGE
            ),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            labels=dict(settings.labels),
            taints=[
                aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=t.effect.value)
                for t in settings.taints
            ],
            # With API authentication EKS creates the nodes' EC2_LINUX access entry itself.
            # The cluster autoscaler owns the desired size after creation; re-applying the
            # config value would scale a busy group back down.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(depends_on), ignore_changes=[DESIRED_SIZE_PATH]
            ),
        )


def _service_cidr(config: aws.eks.outputs.ClusterKubernetesNetworkConfig | None) -> str:
    """EKS always reports the range it chose (10.100.0.0/16 or 172.20.0.0/16 when not set)."""
    if config is None or not config.service_ipv4_cidr:
        raise ValueError("EKS reported no service IPv4 CIDR for the cluster")
    return config.service_ipv4_cidr
