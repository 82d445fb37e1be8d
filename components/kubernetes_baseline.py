"""The Kubernetes tenancy baseline: what every platform namespace gets before a workload lands.

Per tenant: a namespace enforcing the ``restricted`` Pod Security Standard, default-deny
NetworkPolicies with explicit allows, a ResourceQuota and container defaults, the workload's
service account (the exact name its Pod Identity association names) and the non-secret
connection settings as a ConfigMap. Cluster-wide: the encrypted gp3 default StorageClass.

Everything is applied through the kubernetes provider the caller passes in ``opts``; the
component refuses to fall back to the default provider, which would read a local kubeconfig.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from components.config.compute import KubernetesSettings, NamespaceQuota
from components.options import child

COMMON_LABELS: Mapping[str, str] = {
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/part-of": "feature-platform",
}

POD_SECURITY_LEVEL = "restricted"
# "latest" follows the cluster's own version. Pinning enforce-version to a minor would need
# the cluster version here; the restricted profile has only tightened in ways our workloads
# (non-root, no privilege escalation, RuntimeDefault seccomp) already meet, and audit/warn
# at the same version surface any change before enforcement bites.
POD_SECURITY_VERSION = "latest"
POD_SECURITY_LABELS: Mapping[str, str] = {
    label: value
    for mode in ("enforce", "audit", "warn")
    for label, value in (
        (f"pod-security.kubernetes.io/{mode}", POD_SECURITY_LEVEL),
        (f"pod-security.kubernetes.io/{mode}-version", POD_SECURITY_VERSION),
    )
}
DESCRIPTION_ANNOTATION = "kubernetes.io/description"

CONFIG_MAP_NAME = "feature-platform-connections"
DEPLOYER_ROLE_NAME = "feature-team-deployer"
QUOTA_NAME = "feature-platform-quota"
LIMIT_RANGE_NAME = "feature-platform-container-defaults"
STORAGE_CLASS_NAME = "gp3-encrypted"
DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"

DNS_PORT = 53
ONLINE_STORE_PORT = 6379
KAFKA_IAM_PORT = 9098
"""MSK brokers' SASL/IAM listener (TLS)."""
HTTPS_PORT = 443
POD_IDENTITY_AGENT_CIDR = "169.254.170.23/32"
POD_IDENTITY_AGENT_PORT = 80
"""The EKS Pod Identity agent (a node-local DaemonSet) serves credentials on this address."""
ANYWHERE = "0.0.0.0/0"
NON_PUBLIC_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
"""Cut out of the world-wide HTTPS allow: peered, on-premises and link-local networks."""

FEATURE_SERVING_NAMESPACE = "feature-serving"
"""The tenant whose pods (the Feast feature server) accept requests from client namespaces."""
FEATURE_SERVER_PORT = 6566
"""The Feast feature server's default port."""
CLIENT_NAMESPACE_LABEL = ("feature-platform/client", "true")
METRICS_PORT = 9464
"""The OpenTelemetry Prometheus exporter's default port: where every platform pod serves
``/metrics``."""
KUBE_STATE_METRICS_PORT = 8080
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Namespaces carrying this label may call the feature server."""

RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
DNS_LABEL_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
"""An RFC 1123 label, what Kubernetes allows as a namespace or service account name."""
CONFIG_KEY_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
"""Keys become environment variables (``envFrom``), so they must be valid variable names."""


class Egress(StrEnum):
    """Explicit egress allows a tenant namespace may get on top of DNS."""

    ONLINE_STORE = "online-store"
    """TCP 6379 to the data subnets (Valkey)."""
    KAFKA = "kafka"
    """TCP 9098 to the data subnets (MSK with IAM auth)."""
    AWS_APIS = "aws-apis"
    """TCP 443 to interface endpoints and S3, TCP 80 to the Pod Identity agent."""
    METRICS_SCRAPE = "metrics-scrape"
    """TCP 9464 to the platform namespaces' pods and TCP 8080 to kube-state-metrics: the
    metrics agent's scrapes."""
    FEATURE_SERVER = "feature-server"
    """TCP 6566 to the feature server's namespace: a feature team's workloads read online
    features through it (the feature server admits namespaces labelled as clients)."""


@dataclass(frozen=True)
class Tenant:
    """One workload's namespace and identity."""

    namespace: str
    """Namespace name, exactly as Pod Identity associations and workloads refer to it."""
    service_account: str
    """Service account name, exactly as its Pod Identity association names it."""
    description: str
    """What runs here (an annotation on the namespace and the service account)."""
    egress: frozenset[Egress]
    """Explicit egress allows of this namespace."""
    more_service_accounts: tuple[str, ...] = ()
    """A feature team's further workloads, one service account (and Pod Identity role) each."""
    quota: NamespaceQuota | None = None
    """The namespace's ResourceQuota; ``None``: the environment's ``kubernetes.quota``."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra namespace labels: a feature team's ``feature-platform/tenant`` and the client
    label that lets it call the feature server."""
    deployer_group: str | None = None
    """A feature team's Kubernetes group (its access entries map its roles to it): bound to a
    Role that manages workloads in this namespace and nothing else."""

    @property
    def service_accounts(self) -> tuple[str, ...]:
        return (self.service_account, *self.more_service_accounts)


@dataclass(frozen=True, kw_only=True)
class KubernetesBaselineArgs:
    """Inputs of :class:`KubernetesBaseline`."""

    tenants: tuple[Tenant, ...]
    """The platform namespaces, one per workload."""
    settings: KubernetesSettings
    """Quota and container defaults from config."""
    vpc_cidr: str
    """The VPC's CIDR (interface endpoints live in it)."""
    data_subnet_cidrs: tuple[str, ...]
    """CIDRs of the subnets holding the online store and Kafka."""
    connection_settings: Mapping[str, pulumi.Input[str]]
    """Non-secret connection settings published to every namespace (never a Pulumi secret)."""
    data_key_arn: pulumi.Input[str]
    """KMS key that encrypts the volumes of the default StorageClass."""
    metrics_namespace: str | None = None
    """The tenant whose agent scrapes the others: each other tenant admits it on the metrics
    port, and it admits its own pods (the agent to kube-state-metrics)."""
    service_cidr: pulumi.Input[str] | None = None
    """The cluster's service range: the metrics agent discovers its targets through the API
    server's service address (its first), which the network policy agent judges, not the
    control plane's addresses behind it."""


def _check_args(args: KubernetesBaselineArgs) -> None:
    """Reject what would otherwise fail in the cluster, or silently widen access."""
    if not args.tenants:
        raise ValueError("KubernetesBaseline needs at least one tenant")
    namespaces = [t.namespace for t in args.tenants]
    if len(set(namespaces)) != len(namespaces):
        raise ValueError(f"tenant namespaces must be unique, got {namespaces}")
    for tenant in args.tenants:
        if len(set(tenant.service_accounts)) != len(tenant.service_accounts):
            raise ValueError(f"{tenant.namespace}: service accounts must be unique")
        for kind, value in (
            ("namespace", tenant.namespace),
            *(("service account", account) for account in tenant.service_accounts),
        ):
            if not DNS_LABEL_PATTERN.match(value):
                raise ValueError(f"{kind} {value!r} is not a valid RFC 1123 label")
        # Default-deny and the restricted profile would break the cluster's own components.
        if tenant.namespace in RESERVED_NAMESPACES or tenant.namespace.startswith("kube-"):
            raise ValueError(f"namespace {tenant.namespace!r} is reserved for Kubernetes")
    for cidr in (args.vpc_cidr, *args.data_subnet_cidrs):
        try:
            ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as exc:
            raise ValueError(f"{cidr!r} is not a valid IPv4 network ({exc})") from None
    needs_data = {Egress.ONLINE_STORE, Egress.KAFKA}
    if not args.data_subnet_cidrs and any(t.egress & needs_data for t in args.tenants):
        raise ValueError("data_subnet_cidrs is empty but a tenant needs egress to the data stores")
    for key in args.connection_settings:
        if not CONFIG_KEY_PATTERN.match(key):
            raise ValueError(
                f"connection setting {key!r} is not an UPPER_SNAKE_CASE environment variable name"
            )


def _refuse_secret(key: str, value: pulumi.Input[str]) -> pulumi.Input[str]:
    """Pass a connection setting through, failing the run if it is a Pulumi secret.

    A ConfigMap is readable by anyone who can read the namespace, so a secret would leak.
    Secrecy of an Output is only known asynchronously; the check runs on the secrecy flag
    (known even in preview, when the value may not be), so the ConfigMap is never sent to
    the engine with a secret in it. Plain strings and awaitables cannot be secrets.
    """
    if not isinstance(value, pulumi.Output):
        return value

    def check(is_secret: bool) -> bool:
        if is_secret:
            raise ValueError(
                f"connection setting {key!r} is a Pulumi secret; a ConfigMap would expose it. "
                "Keep the value in Secrets Manager and publish only its ARN."
            )
        return True

    is_secret: pulumi.Input[bool] = value.is_secret()
    guard = pulumi.Output.from_input(is_secret).apply(check)
    return pulumi.Output.all(guard, value).apply(lambda pair: cast(str, pair[1]))


def _metadata(
    name: str, namespace: pulumi.Input[str], annotations: Mapping[str, str] | None = None
) -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(
        name=name,
        namespace=namespace,
        labels=dict(COMMON_LABELS),
        annotations=dict(annotations) if annotations else None,
    )


def _port(port: int, protocol: str = "TCP") -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol=protocol)


def _cidr(cidr: str, except_: tuple[str, ...] = ()) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr, except_=list(except_) or None)
    )


def _matching(labels: Mapping[str, str]) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels))


def _api_service_address(service_cidr: str) -> str:
    """The ``kubernetes`` service's address: the first of the service range, as a /32."""
    return f"{ipaddress.ip_network(service_cidr)[1]}/32"


def _egress_rules(
    egress: Egress, args: KubernetesBaselineArgs
) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgs]:
    rule = k8s.networking.v1.NetworkPolicyEgressRuleArgs
    data_subnets = [_cidr(c) for c in args.data_subnet_cidrs]
    if egress is Egress.ONLINE_STORE:
        return [rule(to=data_subnets, ports=[_port(ONLINE_STORE_PORT)])]
    if egress is Egress.KAFKA:
        return [rule(to=data_subnets, ports=[_port(KAFKA_IAM_PORT)])]
    if egress is Egress.FEATURE_SERVER:
        serving = k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=_matching({NAMESPACE_NAME_LABEL: FEATURE_SERVING_NAMESPACE})
        )
        return [rule(to=[serving], ports=[_port(FEATURE_SERVER_PORT)])]
    if egress is Egress.METRICS_SCRAPE:
        tenants = k8s.meta.v1.LabelSelectorArgs(
            match_expressions=[
                k8s.meta.v1.LabelSelectorRequirementArgs(
                    key=NAMESPACE_NAME_LABEL,
                    operator="In",
                    values=sorted(t.namespace for t in args.tenants),
                )
            ]
        )
        rules = [
            rule(
                to=[k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=tenants)],
                ports=[_port(METRICS_PORT), _port(KUBE_STATE_METRICS_PORT)],
            )
        ]
        if args.service_cidr is not None:
            api = pulumi.Output.from_input(args.service_cidr).apply(_api_service_address)
            peer = k8s.networking.v1.NetworkPolicyPeerArgs(
                ip_block=k8s.networking.v1.IPBlockArgs(cidr=api)
            )
            rules.append(rule(to=[peer], ports=[_port(HTTPS_PORT)]))
        return rules
    # AWS APIs: interface endpoints sit in the VPC CIDR, but S3 (and DynamoDB) go through the
    # gateway endpoint to the service's public IPs, which a NetworkPolicy cannot name (it has
    # no prefix lists). So HTTPS to any public address is allowed. Pods run in the private
    # subnets, whose route to the internet is the NAT gateway: this rule therefore also lets
    # a pod reach any public HTTPS endpoint (docs/security.md, known limit); the S3 endpoint
    # policy bounds only what goes to S3. Private ranges other than the VPC stay closed (no
    # lateral HTTPS to peered or on-premises networks).
    return [
        rule(
            to=[_cidr(args.vpc_cidr), _cidr(ANYWHERE, NON_PUBLIC_RANGES)],
            ports=[_port(HTTPS_PORT)],
        ),
        # Without this the AWS SDK's container credential provider cannot get credentials.
        rule(to=[_cidr(POD_IDENTITY_AGENT_CIDR)], ports=[_port(POD_IDENTITY_AGENT_PORT)]),
    ]


class KubernetesBaseline(pulumi.ComponentResource):
    """Namespaces, network isolation, quotas, identities and shared config of the platform."""

    namespaces: pulumi.Output[list[str]]
    service_accounts: pulumi.Output[dict[str, str]]
    config_map_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: KubernetesBaselineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:compute:KubernetesBaseline", name, None, opts)
        # Without an explicit provider every child would use the default one, which reads
        # whatever kubeconfig the runner happens to have: possibly another cluster.
        if self.get_provider("kubernetes:core/v1:Namespace") is None:
            raise ValueError(
                "KubernetesBaseline needs a kubernetes provider in opts "
                '(ResourceOptions(providers={"kubernetes": provider}))'
            )
        _check_args(args)
        connection_data = {
            key: _refuse_secret(key, value) for key, value in args.connection_settings.items()
        }

        namespace_names: list[pulumi.Output[str]] = []
        self._namespaces: dict[str, pulumi.Output[str]] = {}
        service_accounts: dict[str, pulumi.Output[str]] = {}
        config_maps: list[pulumi.Output[str]] = []
        for tenant in args.tenants:
            prefix = f"{name}-{tenant.namespace}"
            namespace = k8s.core.v1.Namespace(
                f"{prefix}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    # An explicit name: Pod Identity associations and workloads refer to it,
                    # so an auto-named "feature-serving-1a2b3c4" would match nothing.
                    name=tenant.namespace,
                    # The tenant's own labels never override Pod Security or the platform's.
                    labels={**tenant.labels, **COMMON_LABELS, **POD_SECURITY_LABELS},
                    annotations={DESCRIPTION_ANNOTATION: tenant.description},
                ),
                opts=child(self),
            )
            # Namespaced children take the namespace from this output, so each is created
            # after (and deleted before) its namespace without an explicit depends_on.
            in_namespace = namespace.metadata.name
            namespace_names.append(in_namespace)
            self._namespaces[tenant.namespace] = in_namespace

            self._network_policies(prefix, tenant, args, in_namespace)

            self._quota(prefix, tenant, args, in_namespace)
            service_accounts[tenant.namespace] = self._service_accounts(
                prefix, tenant, in_namespace
            )
            if tenant.deployer_group is not None:
                self._deployer_access(prefix, tenant.deployer_group, in_namespace)
            # ConfigMaps are namespaced, so each tenant gets its own copy.
            config_map = k8s.core.v1.ConfigMap(
                f"{prefix}-connections",
                metadata=_metadata(CONFIG_MAP_NAME, in_namespace),
                data=connection_data,
                opts=child(self),
            )
            config_maps.append(config_map.metadata.name)

        k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS_NAME,
                labels=dict(COMMON_LABELS),
                # Older EKS clusters also mark gp2 as default; with two defaults Kubernetes
                # (1.26+) picks the newest, which is this one.
                annotations={DEFAULT_STORAGE_CLASS_ANNOTATION: "true"},
            ),
            provisioner=EBS_CSI_PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": args.data_key_arn},
            # Bind in the pod's availability zone; an EBS volume cannot follow it elsewhere.
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # Deleting a claim must not delete the data with it.
            reclaim_policy="Retain",
            opts=child(self),
        )

        self.namespaces = pulumi.Output.all(*namespace_names)
        self.service_accounts = pulumi.Output.all(**service_accounts)
        # Same name in every namespace; derived from all maps so a consumer waits for each.
        self.config_map_name = pulumi.Output.all(*config_maps).apply(lambda names: str(names[0]))
        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "service_accounts": self.service_accounts,
                "config_map_name": self.config_map_name,
            }
        )

    def _network_policies(
        self,
        prefix: str,
        tenant: Tenant,
        args: KubernetesBaselineArgs,
        namespace: pulumi.Input[str],
    ) -> None:
        policy = k8s.networking.v1.NetworkPolicy
        spec = k8s.networking.v1.NetworkPolicySpecArgs
        every_pod = k8s.meta.v1.LabelSelectorArgs()
        # Isolate every pod both ways; what is allowed is added below, one policy per reason.
        policy(
            f"{prefix}-default-deny",
            metadata=_metadata("default-deny", namespace),
            spec=spec(pod_selector=every_pod, policy_types=["Ingress", "Egress"]),
            opts=child(self),
        )
        dns = k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=_matching({"kubernetes.io/metadata.name": "kube-system"}),
            pod_selector=_matching({"k8s-app": "kube-dns"}),
        )
        policy(
            f"{prefix}-allow-dns",
            metadata=_metadata("allow-dns-egress", namespace),
            spec=spec(
                pod_selector=every_pod,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[dns],
                        # TCP too: responses larger than 512 bytes fall back to it.
                        ports=[_port(DNS_PORT, "UDP"), _port(DNS_PORT, "TCP")],
                    )
                ],
            ),
            opts=child(self),
        )
        for egress in sorted(tenant.egress):
            policy(
                f"{prefix}-allow-{egress.value}",
                metadata=_metadata(f"allow-{egress.value}-egress", namespace),
                spec=spec(
                    pod_selector=every_pod,
                    policy_types=["Egress"],
                    egress=_egress_rules(egress, args),
                ),
                opts=child(self),
            )
        if args.metrics_namespace is not None:
            self._metrics_ingress(prefix, tenant, args.metrics_namespace, namespace)
            if tenant.namespace == args.metrics_namespace:
                self._discovery_access(prefix, tenant, namespace)
        if tenant.namespace == FEATURE_SERVING_NAMESPACE:
            # The only ingress in the platform: clients reach the feature server from
            # namespaces that opted in by label, on its port only. The namespace holds only
            # the feature server, so every pod is selected rather than depending on a chart's
            # pod labels.
            client_label, client_value = CLIENT_NAMESPACE_LABEL
            policy(
                f"{prefix}-allow-feature-clients",
                metadata=_metadata("allow-feature-clients-ingress", namespace),
                spec=spec(
                    pod_selector=every_pod,
                    policy_types=["Ingress"],
                    ingress=[
                        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                            from_=[
                                k8s.networking.v1.NetworkPolicyPeerArgs(
                                    namespace_selector=_matching({client_label: client_value})
                                )
                            ],
                            ports=[_port(FEATURE_SERVER_PORT)],
                        )
                    ],
                ),
                opts=child(self),
            )

    def _quota(
        self,
        prefix: str,
        tenant: Tenant,
        args: KubernetesBaselineArgs,
        namespace: pulumi.Input[str],
    ) -> None:
        """The namespace's ResourceQuota (the tenant's, else the environment's) and the
        container defaults that keep pods without limits admissible under it."""
        hard = tenant.quota or args.settings.quota
        k8s.core.v1.ResourceQuota(
            f"{prefix}-quota",
            metadata=_metadata(QUOTA_NAME, namespace),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(
                hard={
                    "requests.cpu": hard.requests_cpu,
                    "requests.memory": hard.requests_memory,
                    "limits.cpu": hard.limits_cpu,
                    "limits.memory": hard.limits_memory,
                    "pods": str(hard.pods),
                }
            ),
            opts=child(self),
        )
        # A quota on limits.* makes the API server reject pods whose containers declare
        # no limits; these defaults fill them in instead.
        defaults = args.settings.container_defaults
        k8s.core.v1.LimitRange(
            f"{prefix}-limits",
            metadata=_metadata(LIMIT_RANGE_NAME, namespace),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default={"cpu": defaults.limit_cpu, "memory": defaults.limit_memory},
                        default_request={
                            "cpu": defaults.request_cpu,
                            "memory": defaults.request_memory,
                        },
                    )
                ]
            ),
            opts=child(self),
        )

    def _service_accounts(
        self, prefix: str, tenant: Tenant, namespace: pulumi.Input[str]
    ) -> pulumi.Output[str]:
        """One service account per workload of the namespace; returns the first's name."""
        primary: pulumi.Output[str] | None = None
        for service_account in tenant.service_accounts:
            # The first keeps its historical logical name (no replacement of existing ones).
            suffix = "" if service_account == tenant.service_account else f"-{service_account}"
            account = k8s.core.v1.ServiceAccount(
                f"{prefix}-service-account{suffix}",
                metadata=_metadata(
                    service_account,
                    namespace,
                    {DESCRIPTION_ANNOTATION: tenant.description},
                ),
                # Pod Identity needs no Kubernetes API token; pods that call the API opt in.
                automount_service_account_token=False,
                opts=child(self),
            )
            if service_account == tenant.service_account:
                primary = account.metadata.name
        assert primary is not None  # the first service account is always created
        return primary

    def _deployer_access(self, prefix: str, group: str, namespace: pulumi.Input[str]) -> None:
        """What a feature team's deployers may do in its namespace: run workloads with its
        service accounts. Not its NetworkPolicies, quota, limits, service accounts or RBAC
        (the platform's), and not Secrets (credentials come from Pod Identity)."""
        write = ["get", "list", "watch", "create", "update", "patch", "delete"]
        read = ["get", "list", "watch"]
        rule = k8s.rbac.v1.PolicyRuleArgs
        role = k8s.rbac.v1.Role(
            f"{prefix}-deployer-role",
            metadata=_metadata(DEPLOYER_ROLE_NAME, namespace),
            rules=[
                rule(
                    api_groups=[""],
                    resources=["pods", "services", "configmaps", "persistentvolumeclaims"],
                    verbs=write,
                ),
                rule(api_groups=[""], resources=["pods/log", "events"], verbs=read),
                rule(
                    api_groups=["apps"],
                    resources=["deployments", "statefulsets", "replicasets"],
                    verbs=write,
                ),
                rule(api_groups=["batch"], resources=["jobs", "cronjobs"], verbs=write),
                rule(
                    api_groups=["autoscaling"], resources=["horizontalpodautoscalers"], verbs=write
                ),
                rule(api_groups=["policy"], resources=["poddisruptionbudgets"], verbs=write),
                rule(
                    api_groups=["", "networking.k8s.io"],
                    resources=[
                        "serviceaccounts",
                        "networkpolicies",
                        "resourcequotas",
                        "limitranges",
                    ],
                    verbs=read,
                ),
            ],
            opts=child(self),
        )
        k8s.rbac.v1.RoleBinding(
            f"{prefix}-deployer-binding",
            metadata=_metadata(DEPLOYER_ROLE_NAME, namespace),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="Group", name=group, api_group="rbac.authorization.k8s.io"
                )
            ],
            opts=child(self),
        )

    def _discovery_access(self, prefix: str, tenant: Tenant, namespace: pulumi.Input[str]) -> None:
        """Read-only discovery of scrape targets for the metrics agent: pods, services and
        endpoints, never secrets or config maps. The agent's pod opts in to an API token."""
        read = ["get", "list", "watch"]
        role = k8s.rbac.v1.ClusterRole(
            f"{prefix}-discovery-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"feature-platform-{tenant.service_account}", labels=dict(COMMON_LABELS)
            ),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""], resources=["pods", "services", "endpoints"], verbs=read
                ),
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["discovery.k8s.io"], resources=["endpointslices"], verbs=read
                ),
            ],
            opts=child(self),
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{prefix}-discovery-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"feature-platform-{tenant.service_account}", labels=dict(COMMON_LABELS)
            ),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=tenant.service_account, namespace=namespace
                )
            ],
            opts=child(self),
        )

    def namespace_named(self, name: str) -> pulumi.Output[str]:
        """A tenant namespace's name as an output: what depends on it waits for it."""
        return self._namespaces[name]

    def _metrics_ingress(
        self, prefix: str, tenant: Tenant, metrics_namespace: str, namespace: pulumi.Input[str]
    ) -> None:
        """Admit the metrics agent's scrapes: on the metrics port from its namespace, and, in
        its own namespace, on kube-state-metrics' port from its own pods."""
        own = tenant.namespace == metrics_namespace
        ports = [_port(KUBE_STATE_METRICS_PORT)] if own else [_port(METRICS_PORT)]
        k8s.networking.v1.NetworkPolicy(
            f"{prefix}-allow-metrics-scrape-ingress",
            metadata=_metadata("allow-metrics-scrape-ingress", namespace),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=_matching(
                                    {NAMESPACE_NAME_LABEL: metrics_namespace}
                                )
                            )
                        ],
                        ports=ports,
                    )
                ],
            ),
            opts=child(self),
        )
