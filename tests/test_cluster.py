"""EKS cluster: private API, encrypted secrets, logs, nodes, add-ons, access and network rules."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from blueprint.capture import Plan, PlannedResource
from components.cluster import Cluster, ClusterArgs
from components.config import StackConfig
from tests.conftest import as_list, policy, run_component, stack_config, statements

COMPONENT = "featureplatform:compute:Cluster"
EKS = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"

NAME = "fp"
VPC_CIDR = "10.10.0.0/16"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
PRE_COMPUTE_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
POST_COMPUTE_ADDONS = ("coredns", "aws-ebs-csi-driver")


def _key(config: StackConfig, purpose: str) -> str:
    return f"arn:aws:kms:{config.aws.region}:{config.aws.account_id}:key/{purpose}-key"


def cluster_args(config: StackConfig) -> ClusterArgs:
    """What the platform passes, from a stack's config, with literal network and key IDs."""
    return ClusterArgs(
        cluster_name=f"feature-platform-{config.environment.value}",
        account_id=config.aws.account_id,
        region=config.aws.region,
        settings=config.cluster,
        vpc_id="vpc-0123456789abcdef0",
        vpc_cidr=VPC_CIDR,
        private_subnet_ids=SUBNETS,
        cluster_key_arn=_key(config, "cluster"),
        data_key_arn=_key(config, "data"),
        logs_key_arn=_key(config, "logs"),
        log_retention_days=config.logging.retention_days,
        deploy_role_arn=config.aws.assume_role_arn,
        token_role_arn=config.aws.assume_role_arn,
        permissions_boundary_arn=config.identity.permissions_boundary_arn,
        protect=config.protection.protect_stateful,
    )


@dataclass(frozen=True)
class Built:
    plan: Plan
    args: ClusterArgs

    def eks(self) -> PlannedResource:
        (cluster,) = self.plan.of_type(EKS)
        return cluster

    def addon(self, addon: str) -> PlannedResource:
        (found,) = [a for a in self.plan.of_type(ADDON) if a.inputs["addonName"] == addon]
        return found

    def sg(self, suffix: str) -> PlannedResource:
        return self.plan.named(SECURITY_GROUP, suffix)

    @property
    def cluster_sg_id(self) -> str:
        return str(self.eks().outputs["vpcConfig"]["clusterSecurityGroupId"])


def build(args: ClusterArgs) -> Built:
    def program() -> None:
        provider = aws.Provider("aws", region=args.region, allowed_account_ids=[args.account_id])
        cluster = Cluster(NAME, args, pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("node_security_group_id", cluster.node_security_group_id)
        pulumi.export("cluster_security_group_id", cluster.cluster_security_group_id)
        pulumi.export("node_role_arn", cluster.node_role_arn)
        pulumi.export("certificate_authority", cluster.certificate_authority)
        pulumi.export("endpoint", cluster.endpoint)
        pulumi.export("access_ready", [r.urn for r in cluster.access_ready])

    return Built(run_component(program), args)


_built: dict[str, Built] = {}


def built(stack: str) -> Built:
    """The component built from a checked-in stack's config (once per session)."""
    if stack not in _built:
        _built[stack] = build(cluster_args(stack_config(stack)))
    return _built[stack]


@pytest.fixture(params=("dev", "staging", "prod"))
def any_env(request: pytest.FixtureRequest) -> Built:
    return built(str(request.param))


@pytest.fixture
def dev() -> Built:
    return built("dev")


@pytest.fixture
def prod() -> Built:
    return built("prod")


# --- API endpoint ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_api_endpoint_is_private_by_default(stack: str) -> None:
    vpc = built(stack).eks().inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == SUBNETS


def test_a_public_dev_endpoint_admits_exactly_the_allowlist() -> None:
    cidrs = ["203.0.113.0/24", "198.51.100.16/28"]
    config = stack_config("dev", cluster={"endpointPublicAccess": True, "publicAccessCidrs": cidrs})
    vpc = build(cluster_args(config)).eks().inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == cidrs


@pytest.mark.parametrize(
    ("update", "error"),
    [
        (
            {"endpoint_public_access": True, "public_access_cidrs": ("0.0.0.0/0",)},
            "wider than /16",
        ),
        ({"endpoint_public_access": True, "public_access_cidrs": ()}, "needs publicAccessCidrs"),
        ({"public_access_cidrs": ("203.0.113.0/24",)}, "without endpointPublicAccess"),
    ],
)
def test_the_component_refuses_an_open_or_inconsistent_public_endpoint(
    update: dict[str, Any], error: str
) -> None:
    config = stack_config("dev")
    # model_copy skips validation: the component must not rely on the config model alone.
    args = replace(cluster_args(config), settings=config.cluster.model_copy(update=update))
    with pytest.raises(Exception, match=error):
        build(args)


@pytest.mark.parametrize("cluster_name", ["", "-leading-dash", "has space", "x" * 101])
def test_the_component_refuses_a_name_eks_rejects(cluster_name: str) -> None:
    args = replace(cluster_args(stack_config("dev")), cluster_name=cluster_name)
    with pytest.raises(Exception, match="cluster name"):
        build(args)


# --- authentication, encryption, logs ---------------------------------------------------------


def test_access_entries_only_and_no_bootstrap_admin(any_env: Built) -> None:
    assert any_env.eks().inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }


def test_secrets_are_envelope_encrypted_with_the_cluster_key(any_env: Built) -> None:
    assert any_env.eks().inputs["encryptionConfig"] == {
        "provider": {"keyArn": any_env.args.cluster_key_arn},
        "resources": ["secrets"],
    }


def test_the_cluster_role_may_use_the_cluster_key_and_nothing_else(any_env: Built) -> None:
    key_policy = any_env.plan.named(ROLE_POLICY, "-cluster-key")
    assert key_policy.inputs["role"] == any_env.plan.named(ROLE, "-cluster-role").id
    (statement,) = policy(key_policy)["Statement"]
    assert statement["Resource"] == any_env.args.cluster_key_arn
    assert set(statement["Action"]) == {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ListGrants",
        "kms:DescribeKey",
    }


def test_all_control_plane_logs_go_to_an_encrypted_group_created_first(any_env: Built) -> None:
    cluster = any_env.eks()
    assert cluster.inputs["enabledClusterLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    group = any_env.plan.named(LOG_GROUP, "-control-plane-logs")
    assert group.inputs["name"] == f"/aws/eks/{any_env.args.cluster_name}/cluster"
    assert group.inputs["kmsKeyId"] == any_env.args.logs_key_arn
    assert group.inputs["retentionInDays"] == any_env.args.log_retention_days
    assert group.urn in cluster.depends_on


def test_the_cluster_is_created_after_its_role_can_act(any_env: Built) -> None:
    depends_on = any_env.eks().depends_on
    assert any_env.plan.named(ATTACHMENT, "-cluster-policy").urn in depends_on
    assert any_env.plan.named(ROLE_POLICY, "-cluster-key").urn in depends_on


def test_version_and_standard_support_come_from_config(any_env: Built) -> None:
    cluster = any_env.eks()
    assert cluster.inputs["name"] == any_env.args.cluster_name
    assert cluster.inputs["version"] == any_env.args.settings.kubernetes_version
    assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_prod_cluster_is_protected_in_eks_and_in_pulumi(dev: Built, prod: Built) -> None:
    assert prod.eks().inputs["deletionProtection"] is True
    assert prod.eks().protect and prod.eks().retain_on_delete
    assert dev.eks().inputs["deletionProtection"] is False
    assert not dev.eks().protect and not dev.eks().retain_on_delete
    # The audit trail outlives a stray delete too.
    assert prod.plan.named(LOG_GROUP, "-control-plane-logs").inputs["deletionProtectionEnabled"]
    assert not dev.plan.named(LOG_GROUP, "-control-plane-logs").inputs["deletionProtectionEnabled"]


# --- IAM ------------------------------------------------------------------------------------


def _attached(plan: Plan, role: PlannedResource) -> set[str]:
    return {a.inputs["policyArn"] for a in plan.of_type(ATTACHMENT) if a.inputs["role"] == role.id}


def test_cluster_role_trusts_eks_for_this_cluster_only(any_env: Built) -> None:
    args = any_env.args
    role = any_env.plan.named(ROLE, "-cluster-role")
    (statement,) = policy(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Service": "eks.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": args.account_id},
        "ArnLike": {
            "aws:SourceArn": f"arn:aws:eks:{args.region}:{args.account_id}:cluster/"
            f"{args.cluster_name}"
        },
    }
    assert _attached(any_env.plan, role) == {"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}


def test_node_role_trusts_ec2_with_the_documented_node_policies(any_env: Built) -> None:
    role = any_env.plan.named(ROLE, "-node-role")
    (statement,) = policy(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert _attached(any_env.plan, role) == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    }


def test_no_role_gets_a_full_access_policy(any_env: Built) -> None:
    arns = [a.inputs["policyArn"] for a in any_env.plan.of_type(ATTACHMENT)]
    assert arns and not [arn for arn in arns if "FullAccess" in arn]


def test_every_role_carries_the_permissions_boundary_when_configured(
    dev: Built, prod: Built
) -> None:
    boundary = prod.args.permissions_boundary_arn
    assert boundary is not None
    roles = prod.plan.of_type(ROLE)
    assert len(roles) == 3  # cluster, nodes, EBS CSI driver
    assert {r.inputs.get("permissionsBoundary") for r in roles} == {boundary}
    assert not any(r.inputs.get("permissionsBoundary") for r in dev.plan.of_type(ROLE))


# --- security groups ------------------------------------------------------------------------


def test_no_security_group_admits_traffic_from_the_internet(any_env: Built) -> None:
    for rule in any_env.plan.of_type(INGRESS):
        assert rule.inputs.get("cidrIpv4") not in ("0.0.0.0/0",), rule.name
        assert rule.inputs.get("cidrIpv6") != "::/0", rule.name
        assert "referencedSecurityGroupId" in rule.inputs, rule.name  # no CIDR ingress at all
    for group in any_env.plan.of_type(SECURITY_GROUP):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress"), group.name


def _rules(plan: Plan, type_: str, group: PlannedResource) -> set[tuple[str, str, int | None]]:
    """(peer, protocol, port) of every rule of ``group``; peer is a SG id or a CIDR."""
    found = set()
    for rule in plan.of_type(type_):
        if rule.inputs["securityGroupId"] != group.id:
            continue
        assert rule.inputs.get("fromPort") == rule.inputs.get("toPort"), rule.name
        port = rule.inputs.get("fromPort")
        peer = rule.inputs.get("referencedSecurityGroupId") or rule.inputs["cidrIpv4"]
        found.add((peer, rule.inputs["ipProtocol"], None if port is None else int(port)))
    return found


def test_node_sg_admits_only_itself_and_the_control_plane_on_api_and_kubelet(
    any_env: Built,
) -> None:
    nodes, control_plane = any_env.sg("-node-sg"), any_env.sg("-control-plane-sg")
    cluster_sg = any_env.cluster_sg_id
    assert _rules(any_env.plan, INGRESS, nodes) == {
        (nodes.id, "-1", None),
        (control_plane.id, "tcp", 443),
        (control_plane.id, "tcp", 10250),
        (cluster_sg, "tcp", 443),
        (cluster_sg, "tcp", 10250),
    }


def test_nodes_reach_the_vpc_and_https_only(any_env: Built) -> None:
    nodes = any_env.sg("-node-sg")
    assert _rules(any_env.plan, EGRESS, nodes) == {
        (VPC_CIDR, "-1", None),
        ("0.0.0.0/0", "tcp", 443),
    }


def test_control_plane_sg_talks_only_to_the_nodes(any_env: Built) -> None:
    nodes, control_plane = any_env.sg("-node-sg"), any_env.sg("-control-plane-sg")
    assert _rules(any_env.plan, INGRESS, control_plane) == {(nodes.id, "tcp", 443)}
    assert _rules(any_env.plan, EGRESS, control_plane) == {
        (nodes.id, "tcp", 443),
        (nodes.id, "tcp", 10250),
    }
    assert any_env.eks().inputs["vpcConfig"]["securityGroupIds"] == [control_plane.id]


# --- nodes ----------------------------------------------------------------------------------


def _template_of(plan: Plan, group: PlannedResource) -> PlannedResource:
    (template,) = [
        t for t in plan.of_type(LAUNCH_TEMPLATE) if t.id == group.inputs["launchTemplate"]["id"]
    ]
    return template


def _node_group(built_: Built, group: str) -> PlannedResource:
    return built_.plan.named(NODE_GROUP, f"{NAME}-{group}")


def test_one_node_group_per_configured_group(any_env: Built) -> None:
    groups = any_env.plan.of_type(NODE_GROUP)
    assert sorted(g.name for g in groups) == sorted(
        f"{NAME}-{g}" for g in any_env.args.settings.node_groups
    )
    assert len(any_env.plan.of_type(LAUNCH_TEMPLATE)) == len(groups)


def test_nodes_require_imdsv2_and_pods_cannot_reach_it(any_env: Built) -> None:
    for template in any_env.plan.of_type(LAUNCH_TEMPLATE):
        assert template.inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
        }


def test_node_root_volumes_are_encrypted_gp3_with_the_data_key(any_env: Built) -> None:
    for group, settings in any_env.args.settings.node_groups.items():
        template = _template_of(any_env.plan, _node_group(any_env, group))
        (device,) = template.inputs["blockDeviceMappings"]
        assert device["deviceName"] == "/dev/xvda"
        assert device["ebs"] == {
            "volumeSize": settings.disk_size_gib,
            "volumeType": "gp3",
            "encrypted": "true",
            "kmsKeyId": any_env.args.data_key_arn,
            "deleteOnTermination": "true",
        }


def test_nodes_carry_the_platform_sg_and_the_eks_cluster_sg(any_env: Built) -> None:
    node_sg = any_env.sg("-node-sg")
    for template in any_env.plan.of_type(LAUNCH_TEMPLATE):
        assert template.inputs["vpcSecurityGroupIds"] == [node_sg.id, any_env.cluster_sg_id]
        assert template.inputs["updateDefaultVersion"] is True
        assert {t["resourceType"] for t in template.inputs["tagSpecifications"]} == {
            "instance",
            "volume",
        }
        assert "imageId" not in template.inputs and "iamInstanceProfile" not in template.inputs


def test_node_groups_follow_their_config(any_env: Built) -> None:
    node_role = any_env.plan.named(ROLE, "-node-role")
    for group, settings in any_env.args.settings.node_groups.items():
        node_group = _node_group(any_env, group)
        inputs = node_group.inputs
        assert inputs["amiType"] == settings.ami_type.value
        assert inputs["amiType"].startswith("AL2023_")
        assert inputs["capacityType"] == settings.capacity_type.value
        assert inputs["instanceTypes"] == list(settings.instance_types)
        assert inputs["scalingConfig"] == {
            "minSize": settings.min_size,
            "desiredSize": settings.desired_size,
            "maxSize": settings.max_size,
        }
        assert inputs["updateConfig"] == {"maxUnavailablePercentage": 33}
        assert inputs["labels"] == settings.labels
        assert inputs.get("taints", []) == [
            {"key": t.key, "value": t.value, "effect": t.effect.value} for t in settings.taints
        ]
        assert inputs["subnetIds"] == SUBNETS
        assert inputs["nodeRoleArn"] == node_role.outputs["arn"]
        latest = _template_of(any_env.plan, node_group).outputs["latestVersion"]
        assert inputs["launchTemplate"]["version"] == str(int(latest))
        assert "remoteAccess" not in inputs and "diskSize" not in inputs


def test_serving_nodes_are_tainted_and_labelled(dev: Built) -> None:
    serving = _node_group(dev, "serving").inputs
    assert serving["labels"] == {"feature-platform/pool": "serving"}
    assert serving["taints"] == [
        {"key": "feature-platform/serving", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    assert _node_group(dev, "general").inputs.get("taints", []) == []


def test_the_autoscaler_owns_the_desired_size(any_env: Built) -> None:
    for group in any_env.plan.of_type(NODE_GROUP):
        assert group.ignore_changes == ["scalingConfig.desiredSize"]


def test_node_groups_wait_for_their_role_and_the_networking_add_ons(any_env: Built) -> None:
    plan = any_env.plan
    node_role = plan.named(ROLE, "-node-role")
    needed = {a.urn for a in plan.of_type(ATTACHMENT) if a.inputs["role"] == node_role.id}
    needed |= {any_env.addon(addon).urn for addon in PRE_COMPUTE_ADDONS}
    for group in plan.of_type(NODE_GROUP):
        assert needed <= set(group.depends_on), group.name


# --- add-ons --------------------------------------------------------------------------------


def test_add_on_versions_are_pinned_from_config(any_env: Built) -> None:
    versions = any_env.args.settings.addons
    expected = {
        "vpc-cni": versions.vpc_cni,
        "kube-proxy": versions.kube_proxy,
        "eks-pod-identity-agent": versions.pod_identity_agent,
        "coredns": versions.coredns,
        "aws-ebs-csi-driver": versions.ebs_csi_driver,
    }
    addons = any_env.plan.of_type(ADDON)
    assert {a.inputs["addonName"]: a.inputs["addonVersion"] for a in addons} == expected
    for addon in addons:
        assert addon.inputs["clusterName"] == any_env.args.cluster_name
        assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
        assert addon.inputs["resolveConflictsOnUpdate"] == "PRESERVE"


def test_the_cni_enforces_network_policies(any_env: Built) -> None:
    configuration = json.loads(any_env.addon("vpc-cni").inputs["configurationValues"])
    assert configuration == {"enableNetworkPolicy": "true"}


def test_deployment_add_ons_wait_for_nodes_and_daemonsets_do_not(any_env: Built) -> None:
    groups = {g.urn for g in any_env.plan.of_type(NODE_GROUP)}
    for addon in POST_COMPUTE_ADDONS:
        assert groups <= set(any_env.addon(addon).depends_on), addon
    for addon in PRE_COMPUTE_ADDONS:
        assert not groups & set(any_env.addon(addon).depends_on), addon


def test_ebs_csi_role_is_bound_to_its_controller_service_account(any_env: Built) -> None:
    args = any_env.args
    role = any_env.plan.named(ROLE, "-ebs-csi-role")
    (statement,) = policy(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/kubernetes-namespace": "kube-system",
            "aws:RequestTag/kubernetes-service-account": "ebs-csi-controller-sa",
        },
        "ArnLike": {
            "aws:RequestTag/eks-cluster-arn": (
                f"arn:aws:eks:{args.region}:{args.account_id}:cluster/{args.cluster_name}"
            )
        },
    }
    assert _attached(any_env.plan, role) == {
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    }
    addon = any_env.addon("aws-ebs-csi-driver")
    assert addon.inputs["podIdentityAssociations"] == [
        {"roleArn": role.outputs["arn"], "serviceAccount": "ebs-csi-controller-sa"}
    ]
    # EKS makes the association from the add-on; a second one would conflict.
    assert any_env.plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") == []


def test_ebs_csi_driver_uses_the_data_key_only_and_grants_only_to_aws_resources(
    any_env: Built,
) -> None:
    role = any_env.plan.named(ROLE, "-ebs-csi-role")
    (inline,) = [p for p in any_env.plan.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    by_sid = statements(policy(inline))
    assert set(by_sid) == {"DataKeyGrants", "DataKeyUse"}
    for statement in by_sid.values():
        assert as_list(statement["Resource"]) == [any_env.args.data_key_arn]
    assert set(by_sid["DataKeyGrants"]["Action"]) == {
        "kms:CreateGrant",
        "kms:ListGrants",
        "kms:RevokeGrant",
    }
    assert by_sid["DataKeyGrants"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert set(by_sid["DataKeyUse"]["Action"]) == {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:DescribeKey",
    }
    # The add-on starts only once the role can do its job.
    assert inline.urn in any_env.addon("aws-ebs-csi-driver").depends_on


# --- access entries -------------------------------------------------------------------------


def _admins(built_: Built, policy: str = ADMIN_POLICY) -> dict[str, PlannedResource]:
    """Principal ARN -> its association with ``policy`` (cluster admin by default)."""
    entries = {e.inputs["principalArn"]: e for e in built_.plan.of_type(ACCESS_ENTRY)}
    associations: dict[str, PlannedResource] = {}
    for association in built_.plan.of_type(ACCESS_POLICY):
        principal = association.inputs["principalArn"]
        assert association.inputs["policyArn"] in {ADMIN_POLICY, VIEW_POLICY}
        if association.inputs["policyArn"] != policy:
            continue
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert association.inputs["clusterName"] == built_.args.cluster_name
        assert entries[principal].urn in association.depends_on
        associations[principal] = association
    for entry in entries.values():
        assert entry.inputs["type"] == "STANDARD"
        assert entry.inputs["clusterName"] == built_.args.cluster_name
    # Every entry has exactly one association: admin or view, never both, never none.
    assert len(built_.plan.of_type(ACCESS_POLICY)) == len(entries)
    assert set(associations) <= set(entries)
    return associations


def test_deployer_and_admins_are_cluster_admins_through_access_entries(any_env: Built) -> None:
    args = any_env.args
    assert args.settings.admin_role_arns  # every stack names at least one admin role
    admins = _admins(any_env)
    assert set(admins) == {args.deploy_role_arn, *args.settings.admin_role_arns}
    ready = any_env.plan.outputs["access_ready"]
    expected = {r.urn for r in any_env.plan.of_type(ACCESS_ENTRY)} | {
        a.urn for a in (*admins.values(), *_admins(any_env, VIEW_POLICY).values())
    }
    assert set(ready) == expected and len(ready) == len(expected)


def test_the_drift_role_only_views_the_cluster(any_env: Built) -> None:
    """The drift role reads the Kubernetes layer it refreshes and can change nothing."""
    viewers = _admins(any_env, VIEW_POLICY)
    assert set(viewers) == set(any_env.args.settings.view_role_arns)
    assert any(v.endswith(":role/feature-platform-drift") for v in viewers)
    assert not set(viewers) & set(_admins(any_env))


def test_a_deployer_listed_as_admin_gets_one_entry() -> None:
    config = stack_config("dev")
    deployer = config.aws.assume_role_arn
    other = f"arn:aws:iam::{config.aws.account_id}:role/platform-oncall"
    settings = config.cluster.model_copy(update={"admin_role_arns": (deployer, other)})
    result = build(replace(cluster_args(config), settings=settings))
    assert sorted(_admins(result)) == sorted([deployer, other])
    viewers = len(config.cluster.view_role_arns)
    assert len(result.plan.of_type(ACCESS_ENTRY)) == 2 + viewers


def test_a_viewer_listed_as_admin_stays_admin_only() -> None:
    config = stack_config("dev")
    (drift,) = config.cluster.view_role_arns
    settings = config.cluster.model_copy(update={"admin_role_arns": (drift,)})
    result = build(replace(cluster_args(config), settings=settings))
    assert drift in _admins(result)
    assert _admins(result, VIEW_POLICY) == {}


# --- outputs and structure ------------------------------------------------------------------


def test_kubeconfig_gets_a_token_for_the_deployer_role(any_env: Built) -> None:
    args = any_env.args
    cluster = any_env.eks()
    config = json.loads(any_env.plan.outputs["kubeconfig"])
    (entry,) = config["clusters"]
    assert entry["cluster"] == {
        "server": cluster.outputs["endpoint"],
        "certificate-authority-data": cluster.outputs["certificateAuthority"]["data"],
    }
    (user,) = config["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "aws"
    command = exec_["args"]
    assert command[:2] == ["eks", "get-token"]
    options = dict(zip(command[2::2], command[3::2], strict=False))
    assert options["--cluster-name"] == args.cluster_name
    assert options["--region"] == args.region
    assert options["--role-arn"] == args.deploy_role_arn
    assert "token" not in user["user"]  # nothing long-lived in the file


def test_with_ambient_credentials_the_token_assumes_no_role() -> None:
    """The pipelines run as the deployer already: a token that assumed it again would need
    the deployer to trust itself."""
    from components.cluster import kubeconfig  # noqa: PLC0415

    assumed = kubeconfig("c", "https://e", "ca", "eu-central-1", "arn:aws:iam::1:role/d")
    ambient = kubeconfig("c", "https://e", "ca", "eu-central-1", None)
    assert "--role-arn" in assumed["users"][0]["user"]["exec"]["args"]
    assert "--role-arn" not in ambient["users"][0]["user"]["exec"]["args"]


def test_outputs_point_at_the_resources(any_env: Built) -> None:
    outputs = any_env.plan.outputs
    assert outputs["node_security_group_id"] == any_env.sg("-node-sg").id
    assert outputs["cluster_security_group_id"] == any_env.cluster_sg_id
    assert outputs["node_role_arn"] == any_env.plan.named(ROLE, "-node-role").outputs["arn"]
    assert outputs["endpoint"] == any_env.eks().outputs["endpoint"]
    assert (
        outputs["certificate_authority"] == (any_env.eks().outputs["certificateAuthority"]["data"])
    )


def test_every_resource_is_a_named_child_of_the_component(any_env: Built) -> None:
    (component,) = any_env.plan.of_type(COMPONENT)
    (ebs_identity,) = any_env.plan.of_type("featureplatform:identity:WorkloadIdentity")
    for resource in any_env.plan.resources:
        if resource.type in (COMPONENT, "pulumi:providers:aws"):
            continue
        assert resource.name.startswith(f"{NAME}-"), resource.name
        assert resource.parent in (component.urn, ebs_identity.urn), resource.name
