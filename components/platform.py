"""FeaturePlatform: the whole environment, composed from the components."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import cache_access as cache
from components import iam_documents as iam
from components.cluster import Cluster, ClusterArgs
from components.config import StackConfig
from components.config.models import Credentials
from components.config.tenants import TenantSpec
from components.consistency_probe import ConsistencyProbe, ConsistencyProbeArgs
from components.deploy_runner import (
    DEPLOY_WORKFLOWS,
    REVIEW_WORKFLOWS,
    DeployRunner,
    DeployRunnerArgs,
)
from components.encryption import Encryption, EncryptionArgs
from components.identity import WorkloadIdentity, WorkloadIdentityArgs
from components.kubernetes_baseline import (
    CLIENT_NAMESPACE_LABEL,
    Egress,
    KubernetesBaseline,
    KubernetesBaselineArgs,
)
from components.kubernetes_baseline import Tenant as Namespace
from components.network import Network, NetworkArgs
from components.observability.component import Observability, ObservabilityArgs
from components.observability.health import HealthContext
from components.observability.slo_alarms import SliContext, cache_node_ids
from components.observability.specs import PLATFORM_NAMESPACE
from components.online_store import OnlineStore, OnlineStoreArgs
from components.provider import PROJECT, aws_provider, default_tags
from components.storage import Storage, StorageArgs
from components.streaming import Streaming, StreamingArgs
from components.tenant import Tenant, TenantArgs


@dataclass(frozen=True)
class Workload:
    """One platform workload: its namespace, service account and what it may reach."""

    namespace: str
    service_account: str
    description: str
    egress: frozenset[Egress]
    tenant: bool = True
    """Owns its namespace (the baseline creates it); False: runs in another's namespace and
    brings its own service account (the consistency probe)."""


# The workloads the platform runs; namespaces, service accounts, Pod Identity roles and
# NetworkPolicy egress all come from this one table.
WORKLOADS: dict[str, Workload] = {
    "feature-server": Workload(
        "feature-serving",
        "feature-server",
        "Serves online features to search, recommendations and personalisation",
        frozenset({Egress.ONLINE_STORE, Egress.AWS_APIS}),
    ),
    "materializer": Workload(
        "materialization",
        "materializer",
        "Loads features from the offline store and feature events into the online store",
        frozenset({Egress.ONLINE_STORE, Egress.KAFKA, Egress.AWS_APIS}),
    ),
    "ingester": Workload(
        "ingestion",
        "ingester",
        "Publishes feature events to Kafka",
        frozenset({Egress.KAFKA, Egress.AWS_APIS}),
    ),
    "metrics-agent": Workload(
        "monitoring",
        "metrics-agent",
        "Scrapes the platform's metrics and remote-writes them to the managed Prometheus workspace",
        frozenset({Egress.METRICS_SCRAPE, Egress.AWS_APIS}),
    ),
    "consistency-probe": Workload(
        "materialization",
        "consistency-probe",
        "Compares sampled online features with the offline store and publishes the SLI",
        frozenset({Egress.ONLINE_STORE, Egress.AWS_APIS}),
        tenant=False,
    ),
}
METRICS_NAMESPACE_TENANT = "monitoring"
FEATURE_EVENTS_TOPIC = "feature-events"
DEAD_LETTER_TOPIC = "materialization-dlq"
MATERIALIZER_GROUP = "materializer"
"""Kafka consumer group of the materializer (its IAM policy names exactly this group)."""
REGISTRY_KEY = "registry.db"
ONLINE_STORE_ID_SUFFIX = "online"
"""The replication group is ``<project>-<environment>-online`` (ids are 40 characters at most)."""


@dataclass(frozen=True, kw_only=True)
class _Parts:
    """What the builders after the data stores take from the components built before."""

    encryption: Encryption
    storage: Storage
    cluster: Cluster
    streaming: Streaming
    online_store: OnlineStore
    observability: Observability


TENANT_LABEL = "feature-platform/tenant"


def physical_prefix(config: StackConfig) -> str:
    """``feature-platform-<instance>``: what the stack's fixed physical names start with (EKS,
    MSK and ElastiCache names, KMS aliases, alarms, the runner, teams' budgets)."""
    return f"{PROJECT}-{config.instance}"


def online_store_id(config: StackConfig) -> str:
    """``feature-platform-<instance>-online``: the replication group (the observability's node
    ids and the teams' ``elasticache:Connect`` name it before it exists)."""
    return f"{physical_prefix(config)}-{ONLINE_STORE_ID_SUFFIX}"


def feature_team_namespace(spec: TenantSpec) -> Namespace:
    """A feature team's namespace in the tenancy baseline: its workloads' service accounts,
    its quota, egress to the feature server, the online store (as its own users), AWS APIs
    and (with topics) Kafka, and the client label that lets it call the feature server."""
    accounts = [w.service_account for w in spec.workloads.values()]
    # Every workload reads or writes a feature set, so each has an online-store user.
    egress = {Egress.AWS_APIS, Egress.FEATURE_SERVER, Egress.ONLINE_STORE}
    if spec.topics:
        egress.add(Egress.KAFKA)
    client_label, client_value = CLIENT_NAMESPACE_LABEL
    return Namespace(
        spec.namespace,
        accounts[0],
        f"Feature team {spec.name} (owner {spec.owner}, cost center {spec.cost_center})",
        frozenset(egress),
        more_service_accounts=tuple(accounts[1:]),
        quota=spec.quota,
        labels={TENANT_LABEL: spec.name, client_label: client_value},
        deployer_group=spec.deployer_group if spec.cluster_access else None,
    )


def _permissions(parts: _Parts) -> dict[str, tuple[iam.Statement, ...]]:
    """Each workload's grants: exactly the buckets, topics, secret and keys it uses."""
    encryption, storage, streaming = parts.encryption, parts.storage, parts.streaming
    online_store, observability = parts.online_store, parts.observability
    events = streaming.topics[FEATURE_EVENTS_TOPIC].arn
    dead_letters = streaming.topics[DEAD_LETTER_TOPIC].arn
    return {
        # Serves online features: reads feature definitions and the store credential.
        "feature-server": (
            *iam.s3_read("Registry", storage.registry_arn),
            iam.secret_read("OnlineStoreAuth", online_store.auth_secret_arn),
            iam.kms_use(
                "DecryptDataAndSecrets", encryption.data_key_arn, encryption.secrets_key_arn
            ),
        ),
        # Consumes feature events and reads the offline store, writes the online store
        # (with the store credential) and the offline store; failures go to the DLQ.
        "materializer": (
            *iam.s3_read("Registry", storage.registry_arn),
            *iam.s3_read("OfflineStore", storage.offline_store_arn),
            *iam.s3_write("OfflineStore", storage.offline_store_arn),
            iam.secret_read("OnlineStoreAuth", online_store.auth_secret_arn),
            iam.kms_use("UseDataKey", encryption.data_key_arn, encrypt=True),
            iam.kms_use("DecryptSecrets", encryption.secrets_key_arn),
            *iam.kafka_consume(
                "FeatureEvents",
                streaming.cluster_arn,
                (events,),
                (iam.kafka_group_arn(streaming.cluster_arn, MATERIALIZER_GROUP),),
            ),
            iam.Statement(
                sid="DeadLetters",
                actions=("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"),
                resources=(dead_letters,),
            ),
            # Producers are idempotent by default (Kafka >= 3.0); that is a cluster action.
            iam.Statement(
                sid="DeadLettersIdempotent",
                actions=("kafka-cluster:WriteDataIdempotently",),
                resources=(streaming.cluster_arn,),
            ),
            # The data-quality SLI: records validated and rejected against the contract.
            iam.metrics_publish("PlatformMetrics", PLATFORM_NAMESPACE),
        ),
        # Publishes feature events.
        "ingester": iam.kafka_produce("FeatureEvents", streaming.cluster_arn, events),
        # Remote-writes scraped samples into this environment's workspace only.
        "metrics-agent": (
            iam.prometheus_remote_write("RemoteWrite", observability.prometheus_workspace_arn),
        ),
        # Reads exactly what it compares; publishes the consistency SLI.
        "consistency-probe": (
            *iam.s3_read("Registry", storage.registry_arn),
            *iam.s3_read("OfflineStore", storage.offline_store_arn),
            iam.secret_read("OnlineStoreAuth", online_store.auth_secret_arn),
            iam.kms_use(
                "DecryptDataAndSecrets", encryption.data_key_arn, encryption.secrets_key_arn
            ),
            iam.metrics_publish("PlatformMetrics", PLATFORM_NAMESPACE),
        ),
    }


class FeaturePlatform(pulumi.ComponentResource):
    """Network, keys, storage, compute, streaming, the online store and workload identities."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    data_subnet_ids: pulumi.Output[list[str]]
    offline_store_bucket: pulumi.Output[str]
    registry_bucket: pulumi.Output[str]
    access_logs_bucket: pulumi.Output[str]
    data_key_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    cluster_endpoint: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    kafka_bootstrap_brokers: pulumi.Output[str]
    online_store_endpoint: pulumi.Output[str]
    online_store_auth_secret_arn: pulumi.Output[str]
    workload_role_arns: pulumi.Output[dict[str, str]]
    tenant_role_arns: pulumi.Output[dict[str, Any]]
    """Per feature team (tenants/), its workloads' Pod Identity role ARNs."""
    page_topic_arn: pulumi.Output[str]
    ticket_topic_arn: pulumi.Output[str]
    prometheus_remote_write_url: pulumi.Output[str]
    deploy_runner_project: pulumi.Output[str | None]
    """The CodeBuild project workflows run on (``runs-on: codebuild-<project>-...``), or None."""

    def __init__(
        self,
        name: str,
        config: StackConfig,
        opts: pulumi.ResourceOptions | None = None,
        *,
        tenants: tuple[TenantSpec, ...] = (),
    ) -> None:
        super().__init__("featureplatform:platform:FeaturePlatform", name, None, opts)
        provider = aws_provider(f"{name}-aws", config, pulumi.ResourceOptions(parent=self))
        # Every component (and so every AWS resource) gets the tagged provider explicitly.
        uses_provider = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        account, region = config.aws.account_id, config.aws.region
        protect = config.protection.protect_stateful
        retention = config.logging.retention_days
        # EKS, MSK and ElastiCache names are fixed (log groups and IAM ARNs are derived from
        # them; the replication group's id does not fit an auto-name).
        physical = physical_prefix(config)

        encryption = Encryption(
            f"{name}-kms",
            EncryptionArgs(
                account_id=account,
                region=region,
                alias_prefix=physical,
                key_admin_role_arn=config.kms.key_admin_role_arn,
                deployer_role_arn=config.aws.assume_role_arn,
                deletion_window_days=config.kms.deletion_window_days,
                protect=protect,
            ),
            opts=uses_provider,
        )
        network = Network(
            f"{name}-network",
            NetworkArgs(
                region=region,
                account_id=account,
                plan=config.subnet_plan,
                nat_gateways=config.network.nat_gateways,
                flow_log_retention_days=config.network.flow_log_retention_days,
                logs_key_arn=encryption.logs_key_arn,
                protect=protect,
            ),
            opts=uses_provider,
        )
        storage = Storage(
            f"{name}-storage",
            StorageArgs(
                account_id=account,
                data_key_arn=encryption.data_key_arn,
                force_destroy=config.storage.force_destroy,
                noncurrent_version_expiration_days=config.storage.noncurrent_version_expiration_days,
                offline_tiering_days=config.storage.offline_tiering_days,
                access_log_expiration_days=config.storage.access_log_expiration_days,
                protect=protect,
            ),
            opts=uses_provider,
        )
        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(
                cluster_name=physical,
                account_id=account,
                region=region,
                settings=config.cluster,
                vpc_id=network.vpc_id,
                vpc_cidr=network.vpc_cidr,
                private_subnet_ids=network.private_subnet_ids,
                cluster_key_arn=encryption.cluster_key_arn,
                data_key_arn=encryption.data_key_arn,
                logs_key_arn=encryption.logs_key_arn,
                log_retention_days=retention,
                deploy_role_arn=config.aws.assume_role_arn,
                token_role_arn=config.aws.assume_role_arn
                if config.aws.credentials is Credentials.ASSUME
                else None,
                permissions_boundary_arn=config.identity.permissions_boundary_arn,
                protect=protect,
                instance_tags=default_tags(config),
            ),
            opts=uses_provider,
        )
        # The node security group is the platform's client identity on the network: the
        # data stores admit their ports from it and from nothing else.
        streaming = Streaming(
            f"{name}-streaming",
            StreamingArgs(
                cluster_name=physical,
                settings=config.streaming,
                vpc_id=network.vpc_id,
                data_subnet_ids=network.data_subnet_ids,
                az_count=config.network.az_count,
                client_security_group_id=cluster.node_security_group_id,
                data_key_arn=encryption.data_key_arn,
                logs_key_arn=encryption.logs_key_arn,
                log_retention_days=retention,
                protect=protect,
            ),
            opts=uses_provider,
        )
        # Each team workload's cache user: data first, so the user group lists them all and
        # each team's role names its own user.
        cache_users = {spec.name: cache.team_cache_users(spec, config.instance) for spec in tenants}
        online_store = self._online_store(
            name,
            config,
            uses_provider,
            encryption=encryption,
            network=network,
            cluster=cluster,
            team_users=tuple(u for users in cache_users.values() for u in users.values()),
        )

        observability = self._observability(
            name,
            config,
            uses_provider,
            encryption=encryption,
            network=network,
            online_store=online_store,
        )

        runner = self._deploy_runner(
            name, config, uses_provider, encryption=encryption, network=network, cluster=cluster
        )

        parts = _Parts(
            encryption=encryption,
            storage=storage,
            cluster=cluster,
            streaming=streaming,
            online_store=online_store,
            observability=observability,
        )
        roles = self._workload_identities(name, config, uses_provider, parts)
        teams = self._tenants(name, config, uses_provider, parts, tenants, cache_users=cache_users)
        if config.kubernetes.apply:
            self._kubernetes(name, config, parts, tenants)

        self.vpc_id = network.vpc_id
        self.private_subnet_ids = network.private_subnet_ids
        self.data_subnet_ids = network.data_subnet_ids
        self.offline_store_bucket = storage.offline_store_bucket
        self.registry_bucket = storage.registry_bucket
        self.access_logs_bucket = storage.access_logs_bucket
        self.data_key_arn = encryption.data_key_arn
        self.cluster_name = cluster.cluster_name
        self.cluster_endpoint = cluster.endpoint
        self.node_security_group_id = cluster.node_security_group_id
        self.kafka_bootstrap_brokers = streaming.bootstrap_brokers
        self.online_store_endpoint = online_store.endpoint
        self.online_store_auth_secret_arn = online_store.auth_secret_arn
        # What is wired outside the program: the pager and ticket subscriptions, the agent.
        self.page_topic_arn = observability.page_topic_arn
        self.ticket_topic_arn = observability.ticket_topic_arn
        self.prometheus_remote_write_url = pulumi.Output.concat(
            observability.prometheus_endpoint, "api/v1/remote_write"
        )
        self.deploy_runner_project = (
            runner.project_name if runner else pulumi.Output.from_input(None)
        )
        self.workload_role_arns = pulumi.Output.all(
            **{workload: role.role_arn for workload, role in roles.items()}
        )
        self.tenant_role_arns = pulumi.Output.all(
            **{tenant: team.role_arns for tenant, team in teams.items()}
        )
        self.register_outputs(self.outputs())

    def _online_store(
        self,
        name: str,
        config: StackConfig,
        opts: pulumi.ResourceOptions,
        *,
        encryption: Encryption,
        network: Network,
        cluster: Cluster,
        team_users: tuple[cache.CacheUser, ...],
    ) -> OnlineStore:
        """The replication group, its users (the platform's and the teams') and its rotation."""
        engine = config.online_store.engine.value
        return OnlineStore(
            f"{name}-online-store",
            OnlineStoreArgs(
                account_id=config.aws.account_id,
                region=config.aws.region,
                replication_group_id=online_store_id(config),
                user_group_id=cache.user_group_id(config.instance, engine),
                default_user_id=cache.default_user_id(config.instance),
                team_users=team_users,
                settings=config.online_store,
                multi_az=config.data_stores.multi_az,
                vpc_id=network.vpc_id,
                vpc_cidr=network.vpc_cidr,
                data_subnet_ids=network.data_subnet_ids,
                private_subnet_ids=network.private_subnet_ids,
                interface_endpoints=network.interface_endpoints,
                client_security_group_id=cluster.node_security_group_id,
                data_key_arn=encryption.data_key_arn,
                logs_key_arn=encryption.logs_key_arn,
                secrets_key_arn=encryption.secrets_key_arn,
                log_retention_days=config.logging.retention_days,
                recovery_window_days=config.secrets.recovery_window_days,
                permissions_boundary_arn=config.identity.permissions_boundary_arn,
                protect=config.protection.protect_stateful,
            ),
            opts=opts,
        )

    def _workload_identities(
        self, name: str, config: StackConfig, opts: pulumi.ResourceOptions, parts: _Parts
    ) -> dict[str, WorkloadIdentity]:
        """A Pod Identity role per workload: exactly the buckets, topics, secret and keys it
        uses."""
        account, region = config.aws.account_id, config.aws.region
        return {
            workload: WorkloadIdentity(
                f"{name}-{workload}",
                WorkloadIdentityArgs(
                    account_id=account,
                    region=region,
                    namespace=WORKLOADS[workload].namespace,
                    service_account=WORKLOADS[workload].service_account,
                    statements=statements,
                    permissions_boundary_arn=config.identity.permissions_boundary_arn,
                    cluster_name=parts.cluster.cluster_name,
                ),
                opts=opts,
            )
            for workload, statements in _permissions(parts).items()
        }

    def _tenants(
        self,
        name: str,
        config: StackConfig,
        opts: pulumi.ResourceOptions,
        parts: _Parts,
        tenants: tuple[TenantSpec, ...],
        *,
        cache_users: Mapping[str, Mapping[str, cache.CacheUser]],
    ) -> dict[str, Tenant]:
        """Each feature team's topics and workload roles (tenants/<name>.yaml)."""
        azs = config.network.az_count
        account, region = config.aws.account_id, config.aws.region
        group_arn = cache.replication_group_arn(region, account, online_store_id(config))
        return {
            spec.name: Tenant(
                f"{name}-tenant-{spec.name}",
                TenantArgs(
                    spec=spec,
                    account_id=config.aws.account_id,
                    region=config.aws.region,
                    cluster_name=parts.cluster.cluster_name,
                    kafka_cluster_arn=parts.streaming.cluster_arn,
                    replication_factor=config.streaming.replication_factor(azs),
                    min_insync_replicas=config.streaming.min_insync_replicas(azs),
                    offline_store_arn=parts.storage.offline_store_arn,
                    data_key_arn=parts.encryption.data_key_arn,
                    online_store_arn=group_arn,
                    cache_user_arns={
                        workload: cache.user_arn(region, account, user.user_id)
                        for workload, user in cache_users[spec.name].items()
                    },
                    permissions_boundary_arn=config.identity.permissions_boundary_arn,
                    protect=config.protection.protect_stateful,
                    instance_suffix=f".pr{config.review}" if config.review is not None else "",
                    budget_name=f"{physical_prefix(config)}-{spec.name}",
                ),
                opts=opts,
            )
            for spec in tenants
        }

    def _kubernetes(
        self,
        name: str,
        config: StackConfig,
        parts: _Parts,
        tenants: tuple[TenantSpec, ...] = (),
    ) -> None:
        """The tenancy baseline and the consistency probe, through a provider built from the
        cluster's outputs."""
        cluster, streaming, online_store = parts.cluster, parts.streaming, parts.online_store
        storage, encryption, region = parts.storage, parts.encryption, config.aws.region
        # Built from the cluster's outputs (never a local kubeconfig), and only once the
        # deployer's access entry exists: before that, every call is Unauthorized.
        kubernetes = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=cluster.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=cluster.access_ready),
        )
        baseline = KubernetesBaseline(
            f"{name}-baseline",
            KubernetesBaselineArgs(
                tenants=(
                    *(
                        Namespace(w.namespace, w.service_account, w.description, w.egress)
                        for w in WORKLOADS.values()
                        if w.tenant
                    ),
                    *(feature_team_namespace(spec) for spec in tenants),
                ),
                metrics_namespace=METRICS_NAMESPACE_TENANT,
                service_cidr=cluster.service_cidr,
                settings=config.kubernetes,
                vpc_cidr=config.subnet_plan.vpc_cidr,
                data_subnet_cidrs=tuple(s.cidr for s in config.subnet_plan.tier("data")),
                connection_settings={
                    "AWS_REGION": region,
                    "KAFKA_BOOTSTRAP_SERVERS": streaming.bootstrap_brokers,
                    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                    "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM",
                    "FEATURE_EVENTS_TOPIC": FEATURE_EVENTS_TOPIC,
                    "DEAD_LETTER_TOPIC": DEAD_LETTER_TOPIC,
                    "ONLINE_STORE_HOST": online_store.endpoint,
                    "ONLINE_STORE_PORT": online_store.port.apply(str),
                    "ONLINE_STORE_TLS": "true",
                    # Feast: redis_type "redis_cluster" with cluster mode, "redis" without.
                    "ONLINE_STORE_CLUSTER_MODE": str(config.online_store.cluster_mode).lower(),
                    "ONLINE_STORE_AUTH_SECRET_ARN": online_store.auth_secret_arn,
                    "REGISTRY_PATH": pulumi.Output.concat(
                        "s3://", storage.registry_bucket, "/", REGISTRY_KEY
                    ),
                    "OFFLINE_STORE_PATH": pulumi.Output.concat(
                        "s3://", storage.offline_store_bucket, "/"
                    ),
                },
                data_key_arn=encryption.data_key_arn,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": kubernetes}),
        )
        probe = WORKLOADS["consistency-probe"]
        ConsistencyProbe(
            f"{name}-consistency-probe",
            ConsistencyProbeArgs(
                namespace=baseline.namespace_named(probe.namespace),
                service_account=probe.service_account,
                environment=config.instance,
                metrics_namespace=PLATFORM_NAMESPACE,
                settings=config.alerting.consistency_probe,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": kubernetes}),
        )

    def _observability(
        self,
        name: str,
        config: StackConfig,
        opts: pulumi.ResourceOptions,
        *,
        encryption: Encryption,
        network: Network,
        online_store: OnlineStore,
    ) -> Observability:
        physical = physical_prefix(config)
        store = config.online_store
        nodes = cache_node_ids(
            online_store_id(config),
            cluster_mode=store.cluster_mode,
            shards=store.shards,
            replicas_per_shard=store.replicas_per_shard,
        )
        return Observability(
            f"{name}-observability",
            ObservabilityArgs(
                prefix=physical,
                account_id=config.aws.account_id,
                region=config.aws.region,
                slos=config.slos,
                thresholds=config.alerting.health,
                sli=SliContext(
                    environment=config.instance,
                    kafka_cluster_name=physical,
                    cache_nodes_by_shard=nodes,
                ),
                health=HealthContext(
                    kafka_cluster_name=physical,
                    broker_count=config.streaming.broker_count(config.network.az_count),
                    cache_nodes=tuple(n for shard in nodes for n in shard),
                    cache_replicas=store.replicas_per_shard > 0,
                    nat_gateway_ids=network.nat_gateway_ids,
                    rotation_function_name=online_store.rotation_function_name,
                    environment=config.instance,
                ),
                alerts_key_arn=encryption.alerts_key_arn,
                data_key_arn=encryption.data_key_arn,
                logs_key_arn=encryption.logs_key_arn,
                log_retention_days=config.logging.retention_days,
                protect=config.protection.protect_stateful,
            ),
            opts=opts,
        )

    def _deploy_runner(
        self,
        name: str,
        config: StackConfig,
        opts: pulumi.ResourceOptions,
        *,
        encryption: Encryption,
        network: Network,
        cluster: Cluster,
    ) -> DeployRunner | None:
        """The in-VPC runner that applies this stack (ADR 0021), if the stack enables it."""
        if not config.deploy_runner.enabled:
            return None
        return DeployRunner(
            f"{name}-deploy-runner",
            DeployRunnerArgs(
                project_name=f"{physical_prefix(config)}-deploy-runner",
                workflows=REVIEW_WORKFLOWS if config.review is not None else DEPLOY_WORKFLOWS,
                account_id=config.aws.account_id,
                region=config.aws.region,
                settings=config.deploy_runner,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                cluster_security_group_id=cluster.cluster_security_group_id,
                data_key_arn=encryption.data_key_arn,
                logs_key_arn=encryption.logs_key_arn,
                log_retention_days=config.logging.retention_days,
                permissions_boundary_arn=config.identity.permissions_boundary_arn,
                protect=config.protection.protect_stateful,
            ),
            opts=opts,
        )

    def outputs(self) -> dict[str, pulumi.Output[object]]:
        """The stack outputs, by name (``__main__`` exports exactly these)."""
        return {
            "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids,
            "data_subnet_ids": self.data_subnet_ids,
            "offline_store_bucket": self.offline_store_bucket,
            "registry_bucket": self.registry_bucket,
            "access_logs_bucket": self.access_logs_bucket,
            "data_key_arn": self.data_key_arn,
            "cluster_name": self.cluster_name,
            "cluster_endpoint": self.cluster_endpoint,
            "node_security_group_id": self.node_security_group_id,
            "kafka_bootstrap_brokers": self.kafka_bootstrap_brokers,
            "online_store_endpoint": self.online_store_endpoint,
            "online_store_auth_secret_arn": self.online_store_auth_secret_arn,
            "workload_role_arns": self.workload_role_arns,
            "page_topic_arn": self.page_topic_arn,
            "ticket_topic_arn": self.ticket_topic_arn,
            "prometheus_remote_write_url": self.prometheus_remote_write_url,
            "deploy_runner_project": self.deploy_runner_project,
            "tenant_role_arns": self.tenant_role_arns,
        }
