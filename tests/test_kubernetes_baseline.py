"""Kubernetes baseline: restricted namespaces, default-deny with explicit allows, quotas,
exact service accounts, non-secret connection settings and the encrypted default storage."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from blueprint.capture import Plan, PlannedResource, RecordingMonitor, capture_program
from blueprint.mocks import PlatformMocks
from components.config.subnets import plan_subnets
from components.kubernetes_baseline import (
    CONFIG_MAP_NAME,
    FEATURE_SERVER_PORT,
    KUBE_STATE_METRICS_PORT,
    METRICS_PORT,
    NAMESPACE_NAME_LABEL,
    POD_IDENTITY_AGENT_CIDR,
    Egress,
    KubernetesBaseline,
    KubernetesBaselineArgs,
    Tenant,
)
from tests.conftest import run_component, stack_config

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
COMPONENT = "featureplatform:compute:KubernetesBaseline"

TENANTS = (
    Tenant(
        "feature-serving",
        "feature-server",
        "Feast feature server: online feature reads",
        frozenset({Egress.ONLINE_STORE, Egress.AWS_APIS}),
    ),
    Tenant(
        "materialization",
        "materializer",
        "Materialization jobs: offline store to online store",
        frozenset({Egress.ONLINE_STORE, Egress.KAFKA, Egress.AWS_APIS}),
    ),
    Tenant(
        "ingestion",
        "ingester",
        "Stream ingestion from Kafka",
        frozenset({Egress.KAFKA, Egress.AWS_APIS}),
    ),
)
SERVICE_ACCOUNTS = {t.namespace: t.service_account for t in TENANTS}

DEV = stack_config("dev")
VPC_CIDR = DEV.network.cidr
ZONES = tuple(f"{DEV.aws.region}{z}" for z in "abc"[: DEV.network.az_count])
DATA_SUBNETS = tuple(
    s.cidr
    for s in plan_subnets(VPC_CIDR, ZONES, DEV.network.subnet_prefixes.model_dump()).tier("data")
)
DATA_KEY_ARN = "arn:aws:kms:eu-central-1:111111111111:key/0e3c6b5e-data"
CONNECTIONS = {
    "KAFKA_BOOTSTRAP_SERVERS": "b-1.msk.example:9098,b-2.msk.example:9098",
    "ONLINE_STORE_HOST": "master.valkey.example",
    "ONLINE_STORE_PORT": "6379",
    "ONLINE_STORE_AUTH_SECRET_ARN": "arn:aws:secretsmanager:eu-central-1:111111111111:secret:a",
    "REGISTRY_PATH": "s3://registry-bucket/registry.pb",
    "AWS_REGION": "eu-central-1",
}

PRIVATE_NETWORKS = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)

# Data-store egress, always TCP and only ever to the data subnets.
DATA_STORE_PORTS = {Egress.ONLINE_STORE: 6379, Egress.KAFKA: 9098}


def _args(**overrides: Any) -> KubernetesBaselineArgs:
    args = KubernetesBaselineArgs(
        tenants=TENANTS,
        settings=DEV.kubernetes,
        vpc_cidr=VPC_CIDR,
        data_subnet_cidrs=DATA_SUBNETS,
        connection_settings=CONNECTIONS,
        data_key_arn=DATA_KEY_ARN,
    )
    return replace(args, **overrides)


def _program(
    args: Callable[[], KubernetesBaselineArgs] = _args, *, with_provider: bool = True
) -> Callable[[], None]:
    def build() -> None:
        # An explicit provider with an empty kubeconfig: nothing may fall back to ~/.kube.
        provider = k8s.Provider("k8s", kubeconfig="{}")
        opts = pulumi.ResourceOptions(providers={"kubernetes": provider} if with_provider else {})
        baseline = KubernetesBaseline("baseline", args(), opts)
        pulumi.export("namespaces", baseline.namespaces)
        pulumi.export("service_accounts", baseline.service_accounts)
        pulumi.export("config_map_name", baseline.config_map_name)

    return build


@pytest.fixture(scope="module")
def plan() -> Plan:
    def args() -> KubernetesBaselineArgs:
        # One value as an Output, as the platform passes resource attributes.
        settings = {**CONNECTIONS, "AWS_REGION": pulumi.Output.from_input("eu-central-1")}
        return _args(connection_settings=settings)

    return run_component(_program(args))


def _in(plan: Plan, type_: str, namespace: str) -> list[PlannedResource]:
    return [r for r in plan.of_type(type_) if r.inputs["metadata"].get("namespace") == namespace]


def _one(plan: Plan, type_: str, namespace: str) -> PlannedResource:
    (resource,) = _in(plan, type_, namespace)
    return resource


def _egress(plan: Plan, namespace: str) -> set[tuple[str, int, str, tuple[str, ...]]]:
    """Every ip-block egress allow of a namespace as (protocol, port, cidr, except)."""
    allows = set()
    for policy in _in(plan, NETWORK_POLICY, namespace):
        for rule in policy.inputs["spec"].get("egress", []):
            for peer in rule["to"]:
                if "ipBlock" not in peer:
                    continue
                block = peer["ipBlock"]
                for port in rule["ports"]:
                    allows.add(
                        (
                            port["protocol"],
                            int(port["port"]),
                            block["cidr"],
                            tuple(block.get("except", ())),
                        )
                    )
    return allows


def test_every_object_is_explicitly_named_labelled_and_uses_the_passed_provider(
    plan: Plan,
) -> None:
    (provider,) = plan.of_type("pulumi:providers:kubernetes")
    (component,) = plan.of_type(COMPONENT)
    objects = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert objects
    for resource in objects:
        metadata = resource.inputs["metadata"]
        assert metadata["name"], resource.urn
        assert "generateName" not in metadata
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "pulumi"
        assert metadata["labels"]["app.kubernetes.io/part-of"] == "feature-platform"
        assert resource.provider_urn == provider.urn, resource.urn
        assert resource.parent == component.urn
        assert resource.name.startswith("baseline-")


def test_namespaces_carry_exact_names_and_enforce_the_restricted_profile(plan: Plan) -> None:
    namespaces = {n.inputs["metadata"]["name"]: n for n in plan.of_type(NAMESPACE)}
    assert set(namespaces) == set(SERVICE_ACCOUNTS)
    for namespace in namespaces.values():
        labels = namespace.inputs["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"


def test_namespaced_objects_depend_on_their_namespace(plan: Plan) -> None:
    urns = {n.inputs["metadata"]["name"]: n.urn for n in plan.of_type(NAMESPACE)}
    namespaced = [r for r in plan.resources if "namespace" in r.inputs.get("metadata", {})]
    assert len(namespaced) > len(urns)
    for resource in namespaced:
        namespace = resource.inputs["metadata"]["namespace"]
        assert urns[namespace] in resource.property_dependencies["metadata"], resource.urn


@pytest.mark.parametrize("namespace", list(SERVICE_ACCOUNTS))
def test_every_namespace_denies_all_traffic_by_default(plan: Plan, namespace: str) -> None:
    deny = [
        p
        for p in _in(plan, NETWORK_POLICY, namespace)
        if p.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    ]
    assert len(deny) == 1


@pytest.mark.parametrize("namespace", list(SERVICE_ACCOUNTS))
def test_dns_egress_goes_only_to_coredns(plan: Plan, namespace: str) -> None:
    dns_rules = [
        rule
        for policy in _in(plan, NETWORK_POLICY, namespace)
        for rule in policy.inputs["spec"].get("egress", [])
        if any(int(port["port"]) == 53 for port in rule["ports"])
    ]
    (rule,) = dns_rules
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert sorted((p["protocol"], int(p["port"])) for p in rule["ports"]) == [
        ("TCP", 53),
        ("UDP", 53),
    ]


@pytest.mark.parametrize("tenant", TENANTS, ids=lambda t: t.namespace)
def test_egress_allows_are_exactly_what_the_tenant_is_configured_for(
    plan: Plan, tenant: Tenant
) -> None:
    allows = _egress(plan, tenant.namespace)
    expected: set[tuple[str, int, str, tuple[str, ...]]] = set()
    for egress, port in DATA_STORE_PORTS.items():
        if egress in tenant.egress:
            expected |= {("TCP", port, cidr, ()) for cidr in DATA_SUBNETS}
    if Egress.AWS_APIS in tenant.egress:
        expected |= {
            ("TCP", 443, VPC_CIDR, ()),
            ("TCP", 80, POD_IDENTITY_AGENT_CIDR, ()),
        }
        world = {a for a in allows if a[:3] == ("TCP", 443, "0.0.0.0/0")}
        expected |= world
        (https_anywhere,) = world
        # HTTPS to public addresses (S3 via the gateway endpoint), never to other private
        # networks: those are cut out; only the VPC itself is allowed by its own block.
        excluded = [ipaddress.IPv4Network(n) for n in https_anywhere[3]]
        for network in PRIVATE_NETWORKS:
            assert any(network.subnet_of(e) for e in excluded), network
    assert allows == expected


def test_data_store_ports_are_reachable_only_by_the_tenants_that_use_them(plan: Plan) -> None:
    ports = {ns: {a[1] for a in _egress(plan, ns)} for ns in SERVICE_ACCOUNTS}
    assert 6379 not in ports["ingestion"]
    assert 9098 not in ports["feature-serving"]
    assert {6379, 9098} <= ports["materialization"]


def test_no_egress_rule_allows_every_port_or_every_destination(plan: Plan) -> None:
    for policy in plan.of_type(NETWORK_POLICY):
        for rule in policy.inputs["spec"].get("egress", []):
            assert rule.get("ports"), policy.urn
            assert rule.get("to"), policy.urn


def test_ingress_is_only_the_feature_server_port_from_labelled_client_namespaces(
    plan: Plan,
) -> None:
    ingress = {
        policy.inputs["metadata"]["namespace"]: policy.inputs["spec"]["ingress"]
        for policy in plan.of_type(NETWORK_POLICY)
        if policy.inputs["spec"].get("ingress")
    }
    assert list(ingress) == ["feature-serving"]
    (rule,) = ingress["feature-serving"]
    assert rule["ports"] == [{"protocol": "TCP", "port": FEATURE_SERVER_PORT}]
    # A peer without selectors or with an empty selector would mean "from everywhere".
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"feature-platform/client": "true"}}}
    ]


@pytest.mark.parametrize("namespace", list(SERVICE_ACCOUNTS))
def test_quota_and_container_defaults_come_from_config(plan: Plan, namespace: str) -> None:
    quota = DEV.kubernetes.quota
    assert _one(plan, QUOTA, namespace).inputs["spec"]["hard"] == {
        "requests.cpu": quota.requests_cpu,
        "requests.memory": quota.requests_memory,
        "limits.cpu": quota.limits_cpu,
        "limits.memory": quota.limits_memory,
        "pods": str(quota.pods),
    }
    defaults = DEV.kubernetes.container_defaults
    assert _one(plan, LIMIT_RANGE, namespace).inputs["spec"]["limits"] == [
        {
            "type": "Container",
            "default": {"cpu": defaults.limit_cpu, "memory": defaults.limit_memory},
            "defaultRequest": {"cpu": defaults.request_cpu, "memory": defaults.request_memory},
        }
    ]


@pytest.mark.parametrize("tenant", TENANTS, ids=lambda t: t.namespace)
def test_service_accounts_have_exact_names_and_no_automounted_token(
    plan: Plan, tenant: Tenant
) -> None:
    account = _one(plan, SERVICE_ACCOUNT, tenant.namespace)
    assert account.inputs["metadata"]["name"] == tenant.service_account
    assert account.inputs["automountServiceAccountToken"] is False


@pytest.mark.parametrize("namespace", list(SERVICE_ACCOUNTS))
def test_every_namespace_gets_the_connection_settings_and_no_secret(
    plan: Plan, namespace: str
) -> None:
    config_map = _one(plan, CONFIG_MAP, namespace)
    assert config_map.inputs["metadata"]["name"] == CONFIG_MAP_NAME
    assert config_map.inputs["data"] == CONNECTIONS
    assert config_map.secret_inputs == []


def test_a_secret_connection_setting_is_refused_before_any_config_map_exists() -> None:
    def args() -> KubernetesBaselineArgs:
        secret = pulumi.Output.secret("a-valkey-auth-token")
        return _args(connection_settings={**CONNECTIONS, "ONLINE_STORE_AUTH_TOKEN": secret})

    monitor = RecordingMonitor(PlatformMocks())
    with pytest.raises(ValueError, match="'ONLINE_STORE_AUTH_TOKEN' is a Pulumi secret"):
        capture_program(_program(args), monitor=monitor)
    assert not [r for r in monitor.recorded if r.type == CONFIG_MAP]


def test_the_default_storage_class_is_encrypted_gp3_with_the_data_key(plan: Plan) -> None:
    (storage_class,) = plan.of_type(STORAGE_CLASS)
    inputs = storage_class.inputs
    assert inputs["metadata"]["name"] == "gp3-encrypted"
    annotations = inputs["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    assert inputs["provisioner"] == "ebs.csi.aws.com"
    assert inputs["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": DATA_KEY_ARN}
    assert inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert inputs["allowVolumeExpansion"] is True
    assert inputs["reclaimPolicy"] == "Retain"


def test_outputs_name_the_namespaces_service_accounts_and_config_map(plan: Plan) -> None:
    assert plan.outputs == {
        "namespaces": list(SERVICE_ACCOUNTS),
        "service_accounts": SERVICE_ACCOUNTS,
        "config_map_name": CONFIG_MAP_NAME,
    }


def test_without_a_kubernetes_provider_nothing_is_created() -> None:
    monitor = RecordingMonitor(PlatformMocks())
    with pytest.raises(ValueError, match="needs a kubernetes provider"):
        capture_program(_program(with_provider=False), monitor=monitor)
    assert not [r for r in monitor.recorded if r.type.startswith("kubernetes:")]


def _tenant(namespace: str, egress: frozenset[Egress] = frozenset()) -> Tenant:
    return Tenant(namespace, "workload", "a workload", egress)


INVALID: Mapping[str, tuple[dict[str, Any], str]] = {
    "no tenants": ({"tenants": ()}, "at least one tenant"),
    "duplicate namespace": (
        {"tenants": (_tenant("ingestion"), _tenant("ingestion"))},
        "namespaces must be unique",
    ),
    "reserved namespace": ({"tenants": (_tenant("kube-system"),)}, "reserved for Kubernetes"),
    "invalid namespace": ({"tenants": (_tenant("Feature_Serving"),)}, "RFC 1123"),
    "invalid vpc cidr": ({"vpc_cidr": "10.10.0.1/16"}, "not a valid IPv4 network"),
    "data egress without data subnets": (
        {"data_subnet_cidrs": (), "tenants": (_tenant("ingestion", frozenset({Egress.KAFKA})),)},
        "data_subnet_cidrs is empty",
    ),
    "config key not an env var": (
        {"connection_settings": {"kafka.bootstrap": "b-1:9098"}},
        "UPPER_SNAKE_CASE",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_arguments_are_rejected_with_a_named_reason(case: str) -> None:
    overrides, message = INVALID[case]
    monitor = RecordingMonitor(PlatformMocks())
    with pytest.raises(ValueError, match=message):
        capture_program(_program(lambda: _args(**overrides)), monitor=monitor)
    assert not [r for r in monitor.recorded if r.type.startswith("kubernetes:")]


MONITORING = Tenant(
    "monitoring",
    "metrics-agent",
    "Scrapes the platform's metrics",
    frozenset({Egress.METRICS_SCRAPE, Egress.AWS_APIS}),
)


@pytest.fixture(scope="module")
def scraped() -> Plan:
    """The baseline with a metrics agent's namespace, as the platform builds it."""
    return run_component(
        _program(
            lambda: _args(
                tenants=(*TENANTS, MONITORING),
                metrics_namespace="monitoring",
                service_cidr=pulumi.Output.from_input("172.20.0.0/16"),
            )
        )
    )


def _ingress(plan: Plan, namespace: str) -> list[dict[str, Any]]:
    return [
        rule
        for policy in _in(plan, NETWORK_POLICY, namespace)
        for rule in policy.inputs["spec"].get("ingress", [])
    ]


@pytest.mark.parametrize("tenant", TENANTS, ids=lambda t: t.namespace)
def test_each_tenant_admits_only_the_metrics_agent_on_the_metrics_port(
    scraped: Plan, tenant: Tenant
) -> None:
    scrape = [r for r in _ingress(scraped, tenant.namespace) if r["ports"][0]["port"] == 9464]
    assert scrape == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "monitoring"}}}],
            "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
        }
    ]


def test_the_metrics_agent_reaches_only_the_tenants_metrics_ports(scraped: Plan) -> None:
    rules = [
        rule
        for policy in _in(scraped, NETWORK_POLICY, "monitoring")
        for rule in policy.inputs["spec"].get("egress", [])
        if any("matchExpressions" in peer.get("namespaceSelector", {}) for peer in rule["to"])
    ]
    # Discovery goes through the API server's service address, and only on 443.
    assert ("TCP", 443, "172.20.0.1/32", ()) in _egress(scraped, "monitoring")
    (rule,) = rules
    (peer,) = rule["to"]
    (expression,) = peer["namespaceSelector"]["matchExpressions"]
    assert expression["operator"] == "In"
    assert set(expression["values"]) == {t.namespace for t in (*TENANTS, MONITORING)}
    assert {p["port"] for p in rule["ports"]} == {METRICS_PORT, KUBE_STATE_METRICS_PORT}


def test_without_a_metrics_namespace_no_scrape_is_admitted(plan: Plan) -> None:
    for tenant in TENANTS:
        ports = {p["port"] for r in _ingress(plan, tenant.namespace) for p in r["ports"]}
        assert METRICS_PORT not in ports


def test_the_metrics_agent_may_only_discover_targets(scraped: Plan) -> None:
    (role,) = scraped.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    granted = {
        (group, resource, verb)
        for rule in role.inputs["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert {verb for *_, verb in granted} == {"get", "list", "watch"}
    assert {resource for _, resource, _ in granted} == {
        "pods",
        "services",
        "endpoints",
        "endpointslices",
    }
    (binding,) = scraped.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "metrics-agent", "namespace": "monitoring"}
    ]
    assert binding.inputs["roleRef"]["name"] == role.inputs["metadata"]["name"]


def test_without_a_metrics_namespace_nobody_gets_cluster_read_access(plan: Plan) -> None:
    assert not plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
