"""Config of the compute layer: the EKS cluster, its node groups and the Kubernetes baseline."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from components.config.base import ROLE_ARN_PATTERN, ConfigModel, ConfigRuleError

KUBERNETES_VERSION_PATTERN = r"^1\.\d{2}$"
ADDON_VERSION_PATTERN = r"^v\d+\.\d+\.\d+-eksbuild\.\d+$"
"""What ``aws eks describe-addon-versions`` lists, e.g. ``v1.19.6-eksbuild.7``."""
NODE_GROUP_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
LABEL_KEY_PATTERN = r"^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
QUANTITY_PATTERN = r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$"
"""A Kubernetes resource quantity as used for CPU and memory (``500m``, ``2``, ``4Gi``)."""

MIN_PUBLIC_CIDR_PREFIX = 16
"""A public API allowlist names office or VPN egress ranges, never anything wider than /16."""

NODE_DISK_RANGE_GIB = (20, 16384)
"""gp3 volumes are 1-16384 GiB; below 20 GiB AL2023 has no room to pull images."""

# Graviton families carry a "g" after the generation digit (m7g, r7g, c7gn, r8g); they need
# an arm64 AMI, every other family an x86_64 one. A mismatch fails at node launch.
_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*\.")


class AmiType(StrEnum):
    """Amazon Linux 2023, the only node OS the platform supports (AL2 reached end of life)."""

    AL2023_X86_64 = "AL2023_x86_64_STANDARD"
    AL2023_ARM_64 = "AL2023_ARM_64_STANDARD"


class CapacityType(StrEnum):
    ON_DEMAND = "ON_DEMAND"
    SPOT = "SPOT"


class TaintEffect(StrEnum):
    """The effects as the EKS API spells them."""

    NO_SCHEDULE = "NO_SCHEDULE"
    NO_EXECUTE = "NO_EXECUTE"
    PREFER_NO_SCHEDULE = "PREFER_NO_SCHEDULE"


class Taint(ConfigModel):
    key: str = Field(pattern=LABEL_KEY_PATTERN, description="Taint key.")
    value: str = Field(default="", max_length=63, description="Taint value.")
    effect: TaintEffect = Field(description="NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE.")


class NodeGroupSettings(ConfigModel):
    """One managed node group."""

    instance_types: tuple[Annotated[str, Field(pattern=r"^[a-z0-9-]+\.[a-z0-9]+$")], ...] = Field(
        min_length=1, description="EC2 instance types, all of one architecture."
    )
    ami_type: AmiType = Field(
        default=AmiType.AL2023_X86_64, description="AL2023 AMI matching the architecture."
    )
    capacity_type: CapacityType = Field(
        default=CapacityType.ON_DEMAND, description="ON_DEMAND or SPOT."
    )
    min_size: int = Field(ge=0, le=450, description="Fewest nodes.")
    desired_size: int = Field(ge=0, le=450, description="Nodes at creation (then autoscaled).")
    max_size: int = Field(ge=1, le=450, description="Most nodes.")
    disk_size_gib: int = Field(default=50, description="Encrypted gp3 root volume size (GiB).")
    labels: dict[Annotated[str, Field(pattern=LABEL_KEY_PATTERN)], str] = Field(
        default_factory=dict, description="Kubernetes labels of the nodes."
    )
    taints: tuple[Taint, ...] = Field(default=(), description="Kubernetes taints of the nodes.")

    @field_validator("disk_size_gib")
    @classmethod
    def _disk(cls, value: int) -> int:
        low, high = NODE_DISK_RANGE_GIB
        if not low <= value <= high:
            raise ValueError(f"{value} GiB; allowed: {low} to {high}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> NodeGroupSettings:
        violations: list[tuple[tuple[str, ...], str]] = []
        if not self.min_size <= self.desired_size <= self.max_size:
            violations.append(
                (
                    ("desiredSize",),
                    f"must lie between minSize ({self.min_size}) and maxSize ({self.max_size})",
                )
            )
        wanted = {
            AmiType.AL2023_ARM_64 if _GRAVITON_FAMILY.match(t) else AmiType.AL2023_X86_64
            for t in self.instance_types
        }
        if wanted != {self.ami_type}:
            types = ", ".join(self.instance_types)
            allowed = " or ".join(sorted(w.value for w in wanted))
            violations.append(
                (("amiType",), f"{self.ami_type.value} does not run {types}; allowed: {allowed}")
            )
        if violations:
            raise ConfigRuleError(*violations)
        return self


class AddonVersions(ConfigModel):
    """EKS add-on versions, pinned so an upgrade is a reviewed change."""

    vpc_cni: str = Field(pattern=ADDON_VERSION_PATTERN, description="`vpc-cni` version.")
    coredns: str = Field(pattern=ADDON_VERSION_PATTERN, description="`coredns` version.")
    kube_proxy: str = Field(pattern=ADDON_VERSION_PATTERN, description="`kube-proxy` version.")
    pod_identity_agent: str = Field(
        pattern=ADDON_VERSION_PATTERN, description="`eks-pod-identity-agent` version."
    )
    ebs_csi_driver: str = Field(
        pattern=ADDON_VERSION_PATTERN, description="`aws-ebs-csi-driver` version."
    )


class ClusterSettings(ConfigModel):
    """The EKS cluster."""

    kubernetes_version: str = Field(
        pattern=KUBERNETES_VERSION_PATTERN, description="Kubernetes minor version, e.g. `1.33`."
    )
    endpoint_public_access: bool = Field(
        default=False,
        description="Expose the API endpoint publicly (dev only, with publicAccessCidrs).",
    )
    public_access_cidrs: tuple[str, ...] = Field(
        default=(), description="Who may reach a public API endpoint (no wider than /16)."
    )
    admin_role_arns: tuple[Annotated[str, Field(pattern=ROLE_ARN_PATTERN)], ...] = Field(
        default=(), description="Roles mapped to cluster admin by access entries."
    )
    view_role_arns: tuple[Annotated[str, Field(pattern=ROLE_ARN_PATTERN)], ...] = Field(
        default=(),
        description="Roles that may read every object, Secrets included, and change nothing "
        "(AmazonEKSAdminViewPolicy): the drift role's `pulumi preview --refresh` reads the "
        "Kubernetes layer it manages.",
    )
    addons: AddonVersions = Field(description="Pinned EKS add-on versions.")
    node_groups: dict[Annotated[str, Field(pattern=NODE_GROUP_NAME_PATTERN)], NodeGroupSettings] = (
        Field(min_length=1, description="Managed node groups by name.")
    )

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            try:
                network = ipaddress.IPv4Network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a valid IPv4 network ({exc})") from None
            if network.prefixlen < MIN_PUBLIC_CIDR_PREFIX:
                raise ValueError(
                    f"{value} is too wide; allowed: /{MIN_PUBLIC_CIDR_PREFIX} or narrower "
                    "(an office or VPN egress range)"
                )
        return values

    @model_validator(mode="after")
    def _public_endpoint(self) -> ClusterSettings:
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ConfigRuleError(
                (
                    ("publicAccessCidrs",),
                    "a public endpoint needs an explicit allowlist; AWS would default to 0.0.0.0/0",
                )
            )
        if self.public_access_cidrs and not self.endpoint_public_access:
            raise ConfigRuleError(
                (("publicAccessCidrs",), "only allowed with endpointPublicAccess: true")
            )
        return self


class NamespaceQuota(ConfigModel):
    """ResourceQuota of each platform namespace."""

    requests_cpu: str = Field(pattern=QUANTITY_PATTERN, description="Sum of CPU requests.")
    requests_memory: str = Field(pattern=QUANTITY_PATTERN, description="Sum of memory requests.")
    limits_cpu: str = Field(pattern=QUANTITY_PATTERN, description="Sum of CPU limits.")
    limits_memory: str = Field(pattern=QUANTITY_PATTERN, description="Sum of memory limits.")
    pods: int = Field(ge=1, le=5000, description="Most pods in the namespace.")


class ContainerDefaults(ConfigModel):
    """LimitRange defaults for containers that declare no resources."""

    request_cpu: str = Field(pattern=QUANTITY_PATTERN, description="Default CPU request.")
    request_memory: str = Field(pattern=QUANTITY_PATTERN, description="Default memory request.")
    limit_cpu: str = Field(pattern=QUANTITY_PATTERN, description="Default CPU limit.")
    limit_memory: str = Field(pattern=QUANTITY_PATTERN, description="Default memory limit.")


class KubernetesSettings(ConfigModel):
    """The Kubernetes tenancy baseline applied inside the cluster."""

    apply: bool = Field(
        default=True,
        description="Apply the baseline in this run (the runner must reach the private API).",
    )
    quota: NamespaceQuota = Field(description="ResourceQuota per platform namespace.")
    container_defaults: ContainerDefaults = Field(description="LimitRange defaults.")
