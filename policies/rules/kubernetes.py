"""Kubernetes tenancy: Pod Security admission on every namespace, and no workload that could
escape its container (privileges, host namespaces, host paths) or starve its neighbours.

Properties are the manifests pulumi-kubernetes sends (camelCase: ``metadata``, ``spec``…).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._base import Config, Props, Severity, as_list, as_map, platform, resource_policy

NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
WORKLOAD_TYPES = (
    "kubernetes:core/v1:Pod",
    "kubernetes:core/v1:ReplicationController",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
)

RESERVED_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"]
"""Namespaces EKS owns: its add-ons (VPC CNI, kube-proxy, EBS CSI) need host access there."""


def _pod_spec(props: Props) -> Mapping[str, Any]:
    """The pod spec wherever the kind keeps it: a CronJob under ``spec.jobTemplate``, the
    controllers under ``spec.template``, a Pod in ``spec`` itself. Found by shape, so the
    check needs no resource type."""
    spec = as_map(props.get("spec"))
    if "jobTemplate" in list(spec):
        spec = as_map(as_map(spec.get("jobTemplate")).get("spec"))
    if "template" in list(spec):
        return as_map(as_map(spec.get("template")).get("spec"))
    return spec


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(label, container)`` for every container, init container and ephemeral container."""
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for i, item in enumerate(as_list(pod.get(field))):
            container = as_map(item)
            name = container.get("name")
            yield f"{field}[{i}]" + (f" ({name})" if name else ""), container


# --- namespaces ------------------------------------------------------------------------------

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def _pod_security(props: Props, config: Config) -> Iterator[str]:
    metadata = as_map(props.get("metadata"))
    if metadata.get("name") in (config.get("exemptNamespaces") or RESERVED_NAMESPACES):
        return
    allowed = list(config.get("allowedLevels") or ["restricted"])
    level = as_map(metadata.get("labels")).get(ENFORCE_LABEL)
    if level is None:
        yield (
            f"`metadata.labels` has no `{ENFORCE_LABEL}`: Pod Security admission enforces "
            "nothing in this namespace"
        )
    elif level not in allowed:
        yield (
            f"`metadata.labels.{ENFORCE_LABEL}` is {level!r}; allowed levels: {', '.join(allowed)}"
        )


resource_policy(
    "k8s-namespace-pod-security",
    description="Every namespace enforces the restricted Pod Security Standard through Pod "
    "Security admission.",
    severity=Severity.HIGH,
    refs=(platform("K8S.1"),),
    remediation="Label the `kubernetes.core.v1.Namespace` with "
    "`metadata=ObjectMetaArgs(labels={'pod-security.kubernetes.io/enforce': 'restricted', "
    "'pod-security.kubernetes.io/enforce-version': 'latest'})` "
    "(`components/kubernetes_baseline.py` does this for platform namespaces).",
    types=(NAMESPACE,),
    check=_pod_security,
    config_schema={
        "allowedLevels": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["restricted"],
            "description": "Pod Security levels a namespace may enforce.",
        },
        "exemptNamespaces": {
            "type": "array",
            "items": {"type": "string"},
            "default": RESERVED_NAMESPACES,
            "description": "Namespaces (by metadata.name) the check skips: EKS system ones.",
        },
    },
)

# --- containers ------------------------------------------------------------------------------

DANGEROUS_CAPABILITIES = ["SYS_ADMIN", "NET_ADMIN", "ALL"]
"""SYS_ADMIN is close to root on the node; NET_ADMIN rewrites the node's networking (and the
VPC CNI's rules); ALL is both and more."""


def _capability(name: Any) -> str:
    text = str(name).upper()
    return text.removeprefix("CAP_")


def _privileges(props: Props, config: Config) -> Iterator[str]:
    forbidden = {_capability(c) for c in config.get("forbiddenCapabilities") or []}
    for label, container in _containers(_pod_spec(props)):
        context = as_map(container.get("securityContext"))
        if context.get("privileged") is True:
            yield f"{label}: `securityContext.privileged` is true"
        if context.get("allowPrivilegeEscalation") is True:
            yield f"{label}: `securityContext.allowPrivilegeEscalation` is true"
        added = [_capability(c) for c in as_list(as_map(context.get("capabilities")).get("add"))]
        for capability in added:
            if capability in forbidden:
                yield f"{label}: `securityContext.capabilities.add` includes {capability}"


resource_policy(
    "k8s-no-privileged-containers",
    description="No container runs privileged, may escalate privileges or adds SYS_ADMIN, "
    "NET_ADMIN or ALL capabilities.",
    severity=Severity.HIGH,
    refs=(platform("K8S.2"),),
    remediation="In each container's `security_context=SecurityContextArgs(...)` set "
    "`privileged=False`, `allow_privilege_escalation=False` and "
    "`capabilities=CapabilitiesArgs(drop=['ALL'])`, adding back only narrow capabilities "
    "(e.g. NET_BIND_SERVICE).",
    types=WORKLOAD_TYPES,
    check=_privileges,
    config_schema={
        "forbiddenCapabilities": {
            "type": "array",
            "items": {"type": "string"},
            "default": DANGEROUS_CAPABILITIES,
            "description": "Capabilities no container may add (with or without CAP_).",
        },
    },
)


def _host_access(props: Props, config: Config) -> Iterator[str]:
    pod = _pod_spec(props)
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field) is True:
            yield f"pod spec `{field}` is true: the pod shares the node's namespace"
    for i, item in enumerate(as_list(pod.get("volumes"))):
        volume = as_map(item)
        if volume.get("hostPath") is not None:
            path = as_map(volume.get("hostPath")).get("path")
            yield (
                f"pod spec `volumes[{i}]` ({volume.get('name')}) mounts the node's "
                f"filesystem with `hostPath` {path!r}"
            )


resource_policy(
    "k8s-no-host-namespaces-or-paths",
    description="No pod shares the node's network, PID or IPC namespace or mounts a hostPath "
    "volume.",
    severity=Severity.HIGH,
    refs=(platform("K8S.3"),),
    remediation="Remove `host_network`, `host_pid` and `host_ipc` from the `PodSpecArgs` (they "
    "default to false) and replace `host_path` volumes with `empty_dir`, `config_map`, "
    "`secret` or a persistent volume claim.",
    types=WORKLOAD_TYPES,
    check=_host_access,
)


def _limits(props: Props, config: Config) -> Iterator[str]:
    for label, container in _containers(_pod_spec(props)):
        if label.startswith("ephemeralContainers"):
            continue  # the API refuses resources on ephemeral (debug) containers
        resources = as_map(container.get("resources"))
        limits, requests = as_map(resources.get("limits")), as_map(resources.get("requests"))
        for path, block, key in (
            ("limits.cpu", limits, "cpu"),
            ("limits.memory", limits, "memory"),
            ("requests.memory", requests, "memory"),
        ):
            if not block.get(key):
                yield f"{label}: `resources.{path}` is not set"


resource_policy(
    "k8s-resource-limits",
    description="Every container declares CPU and memory limits and a memory request, so the "
    "scheduler places it and no pod starves its neighbours.",
    severity=Severity.MEDIUM,
    refs=(platform("K8S.4"),),
    remediation="Set `resources=ResourceRequirementsArgs(requests={'memory': ...}, "
    "limits={'cpu': ..., 'memory': ...})` on every container and init container (the "
    "namespace LimitRange only fills in defaults the manifest does not show).",
    types=WORKLOAD_TYPES,
    check=_limits,
)

# --- service accounts ------------------------------------------------------------------------


def _token_automount(props: Props, config: Config) -> Iterator[str]:
    value = props.get("automountServiceAccountToken")
    if value is not False:
        state = "not set (Kubernetes defaults to true)" if value is None else str(value).lower()
        yield (
            f"`automountServiceAccountToken` is {state}: every pod using this account gets "
            "an API token mounted"
        )


resource_policy(
    "k8s-service-account-token-automount",
    description="Service accounts do not mount an API token into their pods automatically.",
    severity=Severity.LOW,
    refs=(platform("K8S.5"),),
    remediation="Set `automount_service_account_token=False` on the "
    "`kubernetes.core.v1.ServiceAccount`; a pod that needs the API sets "
    "`automount_service_account_token=True` in its own spec.",
    types=(SERVICE_ACCOUNT,),
    check=_token_automount,
)
