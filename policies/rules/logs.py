"""Logging: what the platform records (flow logs, control plane, brokers, caches, buckets)
and how long it keeps it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ._base import Config, Props, Severity, as_list, cis, fsbp, get, platform, resource_policy


def _flow_logs_all_traffic(props: Props, config: Config) -> Iterator[str]:
    traffic = props.get("trafficType")
    if traffic != "ALL":
        # REJECT alone misses the accepted connections an investigation needs (exfiltration).
        shown = "not set" if traffic is None else repr(traffic)
        yield f"`trafficType` is {shown}; required: 'ALL' (accepted and rejected traffic)"


resource_policy(
    "vpc-flow-logs-all-traffic",
    description="VPC flow logs record accepted and rejected traffic.",
    severity=Severity.MEDIUM,
    refs=(fsbp("EC2.6"), cis("3.7")),
    remediation="Set `traffic_type='ALL'` on the `aws.ec2.FlowLog`.",
    types=("aws:ec2/flowLog:FlowLog",),
    check=_flow_logs_all_traffic,
)

_CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def _eks_control_plane_logs(props: Props, config: Config) -> Iterator[str]:
    required = list(config.get("requiredLogTypes") or _CONTROL_PLANE_LOG_TYPES)
    enabled = set(as_list(props.get("enabledClusterLogTypes")))
    missing = [log_type for log_type in required if log_type not in enabled]
    if missing:
        yield f"`enabledClusterLogTypes` lacks {', '.join(missing)}"


resource_policy(
    "eks-control-plane-logs",
    description="EKS clusters send every control-plane log type to CloudWatch Logs.",
    severity=Severity.MEDIUM,
    refs=(fsbp("EKS.8"),),
    remediation=(
        "Set `enabled_cluster_log_types=['api', 'audit', 'authenticator', 'controllerManager', "
        "'scheduler']` on the `aws.eks.Cluster`, and create its log group "
        "`/aws/eks/<cluster>/cluster` (with retention and a KMS key) before the cluster."
    ),
    types=("aws:eks/cluster:Cluster",),
    check=_eks_control_plane_logs,
    config_schema={
        "requiredLogTypes": {
            "type": "array",
            "items": {"enum": _CONTROL_PLANE_LOG_TYPES},
            "default": _CONTROL_PLANE_LOG_TYPES,
            "description": "Control-plane log types that must be enabled.",
        }
    },
)

_BROKER_LOG_DESTINATIONS = ("cloudwatchLogs", "firehose", "s3")


def _msk_broker_logs(props: Props, config: Config) -> Iterator[str]:
    logs = get(props, "loggingInfo.brokerLogs") or {}
    enabled = [
        name
        for name in _BROKER_LOG_DESTINATIONS
        if isinstance(get(logs, name), Mapping) and get(logs, f"{name}.enabled") is True
    ]
    if not enabled:
        yield (
            "`loggingInfo.brokerLogs` enables none of cloudwatchLogs, firehose or s3: "
            "broker logs are discarded"
        )


resource_policy(
    "msk-broker-logs",
    description="MSK clusters deliver broker logs to at least one destination.",
    severity=Severity.MEDIUM,
    refs=(platform("LOG-1"),),
    remediation=(
        "Set `logging_info={'broker_logs': {'cloudwatch_logs': {'enabled': True, 'log_group': "
        "...}}}` on the `aws.msk.Cluster` (or enable `firehose`/`s3`)."
    ),
    types=("aws:msk/cluster:Cluster",),
    check=_msk_broker_logs,
)


def _log_retention_minimum(props: Props, config: Config) -> Iterator[str]:
    minimum = int(config.get("minimumDays", 30))
    days = props.get("retentionInDays")
    if not isinstance(days, (int, float)) or int(days) == 0:
        # Absent (or 0) means "never expire": unbounded cost, and personal data in logs kept
        # with no end date, which data minimisation forbids.
        shown = "0" if isinstance(days, (int, float)) else "not set"
        yield f"`retentionInDays` is {shown}: logs never expire (required: at least {minimum})"
    elif int(days) < minimum:
        yield f"`retentionInDays` is {int(days)}; required: at least {minimum}"


resource_policy(
    "log-retention-minimum",
    # Security Hub control CloudWatch.16 (NIST SP 800-53 standard; not part of FSBP).
    description="Log groups set a retention of at least the minimum; none keeps logs forever.",
    severity=Severity.MEDIUM,
    refs=(platform("LOG-2"),),
    remediation=(
        "Set `retention_in_days` on the `aws.cloudwatch.LogGroup` to a CloudWatch retention "
        "value of at least the policy config `minimumDays` (the platform uses "
        "`logging.retentionDays`); never leave it unset or 0 (never expire)."
    ),
    types=("aws:cloudwatch/logGroup:LogGroup",),
    check=_log_retention_minimum,
    config_schema={
        "minimumDays": {
            "type": "integer",
            "minimum": 1,
            "default": 30,
            "description": "Shortest allowed retention in days (prod: 365).",
        }
    },
)

_CACHE_LOG_TYPES = ("slow-log", "engine-log")


def _elasticache_log_delivery(props: Props, config: Config) -> Iterator[str]:
    if props.get("engine") == "memcached" or props.get("replicationGroupId"):
        return  # memcached has no log delivery; group members inherit the group's
    delivered = {
        block.get("logType")
        for block in as_list(props.get("logDeliveryConfigurations"))
        if isinstance(block, Mapping) and block.get("destination")
    }
    for log_type in _CACHE_LOG_TYPES:
        if log_type not in delivered:
            yield f"`logDeliveryConfigurations` does not deliver the {log_type}"


resource_policy(
    "elasticache-log-delivery",
    description="Valkey/Redis caches deliver both their slow log and their engine log.",
    severity=Severity.LOW,
    refs=(platform("LOG-3"),),
    remediation=(
        "Add `log_delivery_configurations` entries with `log_type='slow-log'` and "
        "`log_type='engine-log'` (`destination_type='cloudwatch-logs'`, `log_format='json'`, "
        "`destination` a log group) to the `aws.elasticache.ReplicationGroup`."
    ),
    types=(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/cluster:Cluster",
    ),
    check=_elasticache_log_delivery,
)

_MONITORING_LEVELS = ["DEFAULT", "PER_BROKER", "PER_TOPIC_PER_BROKER", "PER_TOPIC_PER_PARTITION"]


def _msk_enhanced_monitoring(props: Props, config: Config) -> Iterator[str]:
    minimum = str(config.get("minimumLevel", "PER_TOPIC_PER_PARTITION"))
    level = props.get("enhancedMonitoring") or "DEFAULT"
    rank = _MONITORING_LEVELS.index(level) if level in _MONITORING_LEVELS else -1
    if rank < _MONITORING_LEVELS.index(minimum):
        yield f"`enhancedMonitoring` is {level!r}; required: {minimum} or finer"


resource_policy(
    "msk-enhanced-monitoring",
    # Security Hub control MSK.2 (NIST SP 800-53 standard; not part of FSBP) asks for
    # PER_TOPIC_PER_BROKER; consumer-lag metrics per partition need PER_TOPIC_PER_PARTITION.
    description="MSK clusters publish per-topic metrics at the configured level or finer.",
    severity=Severity.LOW,
    refs=(platform("LOG-4"),),
    remediation=(
        "Set `enhanced_monitoring='PER_TOPIC_PER_PARTITION'` on the `aws.msk.Cluster` (consumer "
        "lag per partition drives materialization alerts)."
    ),
    types=("aws:msk/cluster:Cluster",),
    check=_msk_enhanced_monitoring,
    config_schema={
        "minimumLevel": {
            "enum": _MONITORING_LEVELS[1:],
            "default": "PER_TOPIC_PER_PARTITION",
            "description": "Coarsest allowed enhanced monitoring level.",
        }
    },
)


def _s3_bucket_access_logging(props: Props, config: Config) -> Iterator[str]:
    target = props.get("targetBucket")
    if not target:
        yield "`targetBucket` is not set"
    elif target == props.get("bucket"):
        # Each delivered log object would itself be logged, without end.
        yield "`targetBucket` is the logged bucket itself"
    if not props.get("targetPrefix"):
        yield "`targetPrefix` is not set: logs of different buckets mix at the target's root"


resource_policy(
    "s3-bucket-access-logging",
    description="S3 access logging delivers to a separate log bucket under a per-bucket prefix.",
    severity=Severity.MEDIUM,
    refs=(fsbp("S3.9"),),
    remediation=(
        "Set `target_bucket` to the access-log bucket (not the bucket itself) and "
        "`target_prefix='<bucket>/'` on the `aws.s3.BucketLogging`."
    ),
    types=("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"),
    check=_s3_bucket_access_logging,
)
