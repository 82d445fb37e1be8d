"""MSK: the Kafka cluster that carries feature events, its configuration and its topics."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config.data_stores import StreamingSettings
from components.log_group import encrypted_log_group
from components.options import child, stateful

SASL_IAM_PORT = 9098
"""Brokers listen for SASL/IAM over TLS here; the only listener clients may reach."""
# Prometheus exporters on every broker when open monitoring is on (ports fixed by MSK).
JMX_EXPORTER_PORT = 11001
NODE_EXPORTER_PORT = 11002
ALL_PORTS = (0, 65535)

MSK_CLIENT_SUBNET_COUNTS = (2, 3)
"""MSK spreads brokers over two or three client subnets, each in its own AZ."""
CLUSTER_NAME_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")
"""What CreateCluster accepts as a cluster name (64 characters at most)."""

ENHANCED_MONITORING = "PER_TOPIC_PER_PARTITION"
"""The level that publishes per-partition consumer lag (OffsetLag, EstimatedTimeLag)."""

DEFAULT_PARTITIONS = 6
"""For a topic created without a count: divides evenly over 2 (dev) and 3 (prod) brokers."""

STORAGE_NAMESPACE = "kafka"
STORAGE_DIMENSION = "kafka:broker-storage:VolumeSize"
STORAGE_METRIC = "KafkaBrokerStorageUtilization"
STORAGE_TARGET_UTILIZATION_PERCENT = 60.0
"""Grow at 60 % used: MSK allows one storage update per broker every six hours, so the
headroom must last until the next one can happen."""
STORAGE_MIN_CAPACITY_GIB = 1
"""Application Auto Scaling needs a floor; storage never shrinks, so it is never reached."""

VOLUME_SIZE_PATH = "brokerNodeGroupInfo.storageInfo.ebsStorageInfo.volumeSize"
"""The engine's property path of the broker volume size (ignored while autoscaling owns it)."""

MS_PER_HOUR = 3_600_000


@dataclass(frozen=True, kw_only=True)
class StreamingArgs:
    cluster_name: str
    """Explicit MSK cluster name, e.g. ``feature-platform-dev``."""
    settings: StreamingSettings
    """Version, broker type and count, storage, monitoring and topics, from the stack config."""
    vpc_id: pulumi.Input[str]
    """VPC of the broker security group."""
    data_subnet_ids: pulumi.Input[list[str]]
    """The data subnets (no internet route), one per AZ: the brokers' client subnets."""
    az_count: int
    """Number of data subnets; brokers, replication factor and min ISR follow from it."""
    client_security_group_id: pulumi.Input[str]
    """The EKS node/pod security group: the only source allowed to reach the brokers."""
    data_key_arn: pulumi.Input[str]
    """KMS key encrypting the broker volumes."""
    logs_key_arn: pulumi.Input[str]
    """KMS key encrypting the broker-log group."""
    log_retention_days: int
    """Retention of the broker-log group."""
    protect: bool
    """Protect and retain the cluster and its topics; deletion protection on the log group."""

    def __post_init__(self) -> None:
        # Both would only fail at apply time, after the network and keys already exist.
        if not CLUSTER_NAME_PATTERN.match(self.cluster_name):
            raise ValueError(
                f"cluster_name {self.cluster_name!r}: letters, digits and hyphens, "
                "starting with a letter or digit, at most 64 characters"
            )
        if self.az_count not in MSK_CLIENT_SUBNET_COUNTS:
            raise ValueError(
                f"az_count {self.az_count}: MSK needs client subnets in "
                f"{' or '.join(map(str, MSK_CLIENT_SUBNET_COUNTS))} AZs"
            )


def server_properties(settings: StreamingSettings, az_count: int) -> str:
    """The broker ``server.properties`` for the cluster's size."""
    replicas = settings.replication_factor(az_count)
    min_isr = settings.min_insync_replicas(az_count)
    properties = {
        # Topics exist only as code (below); a typo in a producer must fail, not create one.
        "auto.create.topics.enable": "false",
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "num.partitions": DEFAULT_PARTITIONS,
        # Consumer offsets and transaction state are as durable as the data, and never ask
        # for more replicas than there are brokers (dev has two).
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        # An out-of-sync replica never becomes leader: no silent loss of acknowledged writes.
        "unclean.leader.election.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def topic_configs(settings: StreamingSettings, topic: str, az_count: int) -> str:
    """Per-topic Kafka configs (JSON, as ``aws.msk.Topic`` takes them)."""
    return json.dumps(
        {
            "retention.ms": str(settings.topics[topic].retention_hours * MS_PER_HOUR),
            "min.insync.replicas": str(settings.min_insync_replicas(az_count)),
            "cleanup.policy": "delete",
        },
        sort_keys=True,
    )


class Streaming(pulumi.ComponentResource):
    """MSK cluster reachable only with IAM over TLS, from the workloads' security group."""

    cluster_arn: pulumi.Output[str]
    bootstrap_brokers: pulumi.Output[str]
    """``bootstrap_brokers_sasl_iam``: the only listener that is turned on."""
    security_group_id: pulumi.Output[str]
    topic_arns: pulumi.Output[dict[str, str]]
    """Topic ARNs by topic name."""
    configuration_arn: pulumi.Output[str]
    topics: dict[str, aws.msk.Topic]
    """The topic resources by name (``topic.arn`` for IAM statements)."""

    def __init__(
        self, name: str, args: StreamingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:data:Streaming", name, None, opts)
        settings = args.settings

        # Security group without inline rules: each rule is its own resource, so adding one
        # never rewrites the others. The provider removes AWS's default allow-all egress
        # rule when it creates the group, so only the rules below exist.
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="MSK brokers: SASL/IAM over TLS from the workloads only",
            tags={"Name": f"{name}-brokers"},
            opts=child(self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-clients-iam",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=SASL_IAM_PORT,
            to_port=SASL_IAM_PORT,
            referenced_security_group_id=args.client_security_group_id,
            description="Kafka clients (EKS): SASL/IAM over TLS",
            opts=child(self),
        )
        if settings.open_monitoring:
            # Without it the exporters are on but nothing can scrape them; same single
            # source as the data port, and the exporters serve metrics, never records.
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-clients-exporters",
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=JMX_EXPORTER_PORT,
                to_port=NODE_EXPORTER_PORT,
                referenced_security_group_id=args.client_security_group_id,
                description="Prometheus (EKS): JMX and node exporters",
                opts=child(self),
            )
        # Broker to broker: the group's members (the brokers' ENIs) may reach one another,
        # as they could in the VPC default group MSK would otherwise use. Egress goes to
        # the group only: brokers open no connection to anything else in the VPC (answers to
        # clients pass because security groups are stateful).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-brokers-in",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=ALL_PORTS[0],
            to_port=ALL_PORTS[1],
            referenced_security_group_id=sg.id,
            description="Broker to broker",
            opts=child(self),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-brokers-out",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=ALL_PORTS[0],
            to_port=ALL_PORTS[1],
            referenced_security_group_id=sg.id,
            description="Broker to broker",
            opts=child(self),
        )

        # No kafka_versions: a configuration that lists versions must be replaced when the
        # cluster's version moves past them, and a replaced configuration means a cluster
        # update racing a delete. Without the list it fits every version; a change of
        # properties becomes a new revision of the same configuration, rolled out in place.
        configuration = aws.msk.Configuration(
            f"{name}-config",
            name=args.cluster_name,
            description="Broker defaults of the feature platform's cluster",
            server_properties=server_properties(settings, args.az_count),
            opts=child(self),
        )

        # Under /aws/vendedlogs/ CloudWatch Logs covers the delivery with one wildcard
        # resource policy instead of growing a policy per log group (5,120-character limit).
        log_group = encrypted_log_group(
            f"{name}-broker-logs",
            self,
            log_name=f"/aws/vendedlogs/msk/{args.cluster_name}",
            retention_days=args.log_retention_days,
            key_arn=args.logs_key_arn,
            protect=args.protect,
        )

        # The client subnets (so the AZ count) are fixed at creation: MSK cannot move a
        # cluster to other subnets, and the provider replaces it instead. With a fixed name
        # the new cluster cannot be created beside the old one, so a replacement deletes
        # first; `blueprint check` blocks it unless the change carries an allowance (ADR 0012).
        cluster_opts = pulumi.ResourceOptions.merge(
            stateful(self, args.protect), pulumi.ResourceOptions(delete_before_replace=True)
        )
        if settings.storage_autoscaling:
            # The autoscaler grows the volumes; Pulumi must not try to shrink them back to
            # the initial size (MSK refuses: storage only grows, by at least 10 GiB).
            cluster_opts = pulumi.ResourceOptions.merge(
                cluster_opts, pulumi.ResourceOptions(ignore_changes=[VOLUME_SIZE_PATH])
            )
        cluster = aws.msk.Cluster(
            f"{name}-cluster",
            cluster_name=args.cluster_name,
            kafka_version=settings.kafka_version,
            # MSK requires a multiple of the client subnets: the same brokers in every AZ.
            number_of_broker_nodes=settings.broker_count(args.az_count),
            broker_node_group_info=aws.msk.ClusterBrokerNodeGroupInfoArgs(
                instance_type=settings.broker_instance_type,
                client_subnets=args.data_subnet_ids,
                security_groups=[sg.id],
                storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoArgs(
                    ebs_storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs(
                        volume_size=settings.volume_size_gib,
                    ),
                ),
            ),
            encryption_info=aws.msk.ClusterEncryptionInfoArgs(
                encryption_at_rest_kms_key_arn=args.data_key_arn,
                encryption_in_transit=aws.msk.ClusterEncryptionInfoEncryptionInTransitArgs(
                    client_broker="TLS", in_cluster=True
                ),
            ),
            # IAM only: access is granted per topic and group by IAM policies, no shared
            # SCRAM secrets or client certificates to rotate, no anonymous listener.
            client_authentication=aws.msk.ClusterClientAuthenticationArgs(
                sasl=aws.msk.ClusterClientAuthenticationSaslArgs(iam=True, scram=False),
                unauthenticated=False,
            ),
            configuration_info=aws.msk.ClusterConfigurationInfoArgs(
                arn=configuration.arn, revision=configuration.latest_revision
            ),
            enhanced_monitoring=ENHANCED_MONITORING,
            # Always sent, so turning the setting off also turns the exporters off.
            open_monitoring=aws.msk.ClusterOpenMonitoringArgs(
                prometheus=aws.msk.ClusterOpenMonitoringPrometheusArgs(
                    jmx_exporter=aws.msk.ClusterOpenMonitoringPrometheusJmxExporterArgs(
                        enabled_in_broker=settings.open_monitoring
                    ),
                    node_exporter=aws.msk.ClusterOpenMonitoringPrometheusNodeExporterArgs(
                        enabled_in_broker=settings.open_monitoring
                    ),
                )
            ),
            logging_info=aws.msk.ClusterLoggingInfoArgs(
                broker_logs=aws.msk.ClusterLoggingInfoBrokerLogsArgs(
                    cloudwatch_logs=aws.msk.ClusterLoggingInfoBrokerLogsCloudwatchLogsArgs(
                        enabled=True, log_group=log_group.name
                    )
                )
            ),
            opts=cluster_opts,
        )

        if settings.storage_autoscaling:
            target = aws.appautoscaling.Target(
                f"{name}-storage-target",
                service_namespace=STORAGE_NAMESPACE,
                scalable_dimension=STORAGE_DIMENSION,
                resource_id=cluster.arn,
                min_capacity=STORAGE_MIN_CAPACITY_GIB,
                max_capacity=settings.max_volume_size_gib,
                opts=child(self),
            )
            aws.appautoscaling.Policy(
                f"{name}-storage-policy",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=STORAGE_METRIC
                    ),
                    target_value=STORAGE_TARGET_UTILIZATION_PERCENT,
                    # MSK storage cannot shrink; a scale-in would only fail.
                    disable_scale_in=True,
                ),
                opts=child(self),
            )

        # Topics as code (auto-creation is off). They hold the records, so they are
        # protected and retained like the cluster.
        self.topics = {
            topic: aws.msk.Topic(
                f"{name}-topic-{topic}",
                cluster_arn=cluster.arn,
                name=topic,
                partition_count=topic_settings.partitions,
                replication_factor=settings.replication_factor(args.az_count),
                configs=topic_configs(settings, topic, args.az_count),
                opts=stateful(self, args.protect),
            )
            for topic, topic_settings in settings.topics.items()
        }

        self.cluster_arn = cluster.arn
        self.bootstrap_brokers = cluster.bootstrap_brokers_sasl_iam
        self.security_group_id = sg.id
        self.topic_arns = pulumi.Output.all(
            **{topic: resource.arn for topic, resource in self.topics.items()}
        )
        self.configuration_arn = configuration.arn
        self.register_outputs(
            {
                "cluster_arn": self.cluster_arn,
                "bootstrap_brokers": self.bootstrap_brokers,
                "security_group_id": self.security_group_id,
                "topic_arns": self.topic_arns,
                "configuration_arn": self.configuration_arn,
            }
        )
