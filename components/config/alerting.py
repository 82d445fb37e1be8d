"""Config of the resource health alarms: what breaks the SLOs first, and when to say so.

Every threshold has a documented default in :mod:`components.config.profiles`; an environment
overrides one by setting its key. Each alarm routes by its ``severity`` to the page or the
ticket topic; an environment that does not page sends pages to the ticket topic instead.
"""

from __future__ import annotations

from pydantic import Field

from components.config.base import ConfigModel


class HealthThresholds(ConfigModel):
    """Alarm thresholds of the platform's stateful services; each alarm fires above its value."""

    kafka_disk_used_percent: float = Field(
        ge=1,
        le=100,
        description="MSK `KafkaDataLogsDiskUsed` of the fullest broker (%); storage "
        "autoscaling acts at its own target, this alarm is for when it cannot keep up.",
    )
    cache_engine_cpu_percent: float = Field(
        ge=1,
        le=100,
        description="ElastiCache `EngineCPUUtilization` of the busiest node (%): the engine "
        "thread is single-core, so this is its saturation.",
    )
    cache_memory_percent: float = Field(
        ge=1,
        le=100,
        description="ElastiCache `DatabaseMemoryUsagePercentage` of the fullest node (%).",
    )
    cache_evictions: int = Field(
        ge=0,
        le=1_000_000,
        description="ElastiCache `Evictions` per 5 minutes on any node; an evicted online "
        "feature is served as missing, so the default is 0.",
    )
    cache_replication_lag_seconds: float = Field(
        gt=0,
        le=3600,
        description="ElastiCache `ReplicationLag` of any replica (seconds).",
    )
    cache_connections: int = Field(
        ge=1,
        le=65000,
        description="ElastiCache `CurrConnections` of any node; Valkey's `maxclients` is 65000.",
    )
    nat_port_allocation_errors: int = Field(
        ge=0,
        le=1_000_000,
        description="NAT gateway `ErrorPortAllocation` per 5 minutes on any gateway.",
    )
    pod_restarts: int = Field(
        ge=1,
        le=1000,
        description="Container restarts per hour of one platform pod (Prometheus, "
        "kube-state-metrics) before a ticket.",
    )


ECR_IMAGE_PATTERN = (
    r"^(?P<account>\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9][a-z0-9._/-]*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
)
"""A tag or digest in an ECR repository: the platform runs only images it built."""
CRON_PATTERN = r"^(\S+\s+){4}\S+$"


class ConsistencyProbeSettings(ConfigModel):
    """The scheduled probe that compares online features with the offline store."""

    image: str = Field(
        pattern=ECR_IMAGE_PATTERN,
        description="Probe image in the environment's own ECR (built from "
        "`functions/consistency_probe`), by tag or digest.",
    )
    schedule: str = Field(
        pattern=CRON_PATTERN, description="CronJob schedule (five cron fields, UTC)."
    )
    sample_size: int = Field(
        ge=10, le=100_000, description="Entities compared per run (random sample)."
    )


class AlertingSettings(ConfigModel):
    """Health alarm thresholds and the consistency probe."""

    health: HealthThresholds = Field(description="Resource health alarm thresholds.")
    consistency_probe: ConsistencyProbeSettings = Field(
        description="The online/offline consistency probe (a CronJob in `materialization`)."
    )
