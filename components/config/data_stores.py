"""Config of the data stores: MSK (feature events) and ElastiCache (the online store)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from components.config.base import ConfigModel, ConfigRuleError

KAFKA_VERSION_PATTERN = r"^\d+\.\d+\.(\d+|x)$"
"""MSK version strings: ``3.6.0`` or the auto-patching form ``3.8.x``."""
TOPIC_NAME_PATTERN = r"^[a-z][a-z0-9._-]{0,248}$"
MAX_KAFKA_REPLICATION_FACTOR = 3
"""Topics get three replicas where there are three brokers; never more than the brokers."""
MSK_VOLUME_RANGE_GIB = (1, 16384)
"""EBS storage per broker that MSK accepts."""
WINDOW_PATTERN = (
    r"^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$"
)
SNAPSHOT_WINDOW_PATTERN = r"^\d{2}:\d{2}-\d{2}:\d{2}$"
SNAPSHOT_RETENTION_RANGE = (0, 35)
"""ElastiCache keeps automatic snapshots for at most 35 days."""
USERS_PER_GROUP_QUOTA = 100
"""ElastiCache's default quota "Users per user group" (adjustable)."""
ROTATION_DAYS_RANGE = (1, 365)
"""Secrets Manager schedules rotation every 1 to 365 days (``AutomaticallyAfterDays``)."""

# Engine versions the platform supports, with the parameter-group family of each.
ENGINE_FAMILIES: dict[str, dict[str, str]] = {
    "valkey": {"7.2": "valkey7", "8.0": "valkey8", "8.1": "valkey8"},
    "redis": {"7.0": "redis7", "7.1": "redis7"},
}


class CacheEngine(StrEnum):
    VALKEY = "valkey"
    REDIS = "redis"


class MaxmemoryPolicy(StrEnum):
    """The eviction policies ElastiCache accepts for ``maxmemory-policy``."""

    VOLATILE_LRU = "volatile-lru"
    ALLKEYS_LRU = "allkeys-lru"
    VOLATILE_LFU = "volatile-lfu"
    ALLKEYS_LFU = "allkeys-lfu"
    VOLATILE_RANDOM = "volatile-random"
    ALLKEYS_RANDOM = "allkeys-random"
    VOLATILE_TTL = "volatile-ttl"
    NOEVICTION = "noeviction"


class TopicSettings(ConfigModel):
    """One platform topic."""

    partitions: int = Field(ge=1, le=1000, description="Partition count.")
    retention_hours: int = Field(ge=1, le=8760, description="Hours records are kept.")


class StreamingSettings(ConfigModel):
    """The MSK cluster that carries feature events."""

    kafka_version: str = Field(
        pattern=KAFKA_VERSION_PATTERN, description="MSK Kafka version, e.g. `3.8.x`."
    )
    broker_instance_type: str = Field(
        pattern=r"^kafka\.[a-z0-9]+\.[a-z0-9]+$", description="Broker type, e.g. `kafka.m7g.large`."
    )
    brokers_per_az: int = Field(ge=1, le=10, description="Brokers in each data subnet's AZ.")
    volume_size_gib: int = Field(description="EBS storage per broker at creation (GiB).")
    max_volume_size_gib: int = Field(
        description="Storage autoscaling ceiling per broker; equal to volumeSizeGib turns it off."
    )
    open_monitoring: bool = Field(description="Expose the Prometheus JMX and node exporters.")
    topics: dict[Annotated[str, Field(pattern=TOPIC_NAME_PATTERN)], TopicSettings] = Field(
        min_length=1, description="Platform topics by name."
    )

    @model_validator(mode="after")
    def _consistent(self) -> StreamingSettings:
        low, high = MSK_VOLUME_RANGE_GIB
        violations: list[tuple[tuple[str, ...], str]] = []
        for key, value in (
            ("volumeSizeGib", self.volume_size_gib),
            ("maxVolumeSizeGib", self.max_volume_size_gib),
        ):
            if not low <= value <= high:
                violations.append(((key,), f"{value} GiB; allowed: {low} to {high}"))
        if self.max_volume_size_gib < self.volume_size_gib:
            violations.append(
                (("maxVolumeSizeGib",), f"must be at least volumeSizeGib ({self.volume_size_gib})")
            )
        if violations:
            raise ConfigRuleError(*violations)
        return self

    @property
    def storage_autoscaling(self) -> bool:
        return self.max_volume_size_gib > self.volume_size_gib

    def broker_count(self, az_count: int) -> int:
        """MSK requires a multiple of the number of client subnets (one per AZ)."""
        return self.brokers_per_az * az_count

    def replication_factor(self, az_count: int) -> int:
        return min(MAX_KAFKA_REPLICATION_FACTOR, self.broker_count(az_count))

    def min_insync_replicas(self, az_count: int) -> int:
        """One less than the replicas, so one broker may be down (patching) without outage."""
        return max(1, self.replication_factor(az_count) - 1)


class OnlineStoreSettings(ConfigModel):
    """The ElastiCache replication group that serves online features."""

    engine: CacheEngine = Field(default=CacheEngine.VALKEY, description="`valkey` or `redis`.")
    engine_version: str = Field(description="Engine version, e.g. `8.0`.")
    node_type: str = Field(
        pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$", description="Node type, e.g. `cache.r7g.large`."
    )
    cluster_mode: bool = Field(description="Shard the keyspace (clients use a cluster client).")
    shards: int = Field(ge=1, le=500, description="Shards (node groups); 1 without cluster mode.")
    replicas_per_shard: int = Field(ge=0, le=5, description="Read replicas in each shard.")
    maxmemory_policy: MaxmemoryPolicy = Field(description="Eviction policy when memory is full.")
    snapshot_retention_days: int = Field(description="Days automatic snapshots are kept.")
    snapshot_window: str = Field(
        pattern=SNAPSHOT_WINDOW_PATTERN, description="Daily snapshot window (UTC), `hh:mm-hh:mm`."
    )
    maintenance_window: str = Field(
        pattern=WINDOW_PATTERN,
        description="Weekly maintenance window (UTC), `ddd:hh:mm-ddd:hh:mm`.",
    )
    rotation_days: int = Field(
        description="Days between automatic rotations of the platform user's password."
    )
    users_per_group_quota: int = Field(
        default=USERS_PER_GROUP_QUOTA,
        ge=2,
        le=10_000,
        description="The account's ElastiCache quota of users per user group (AWS's default "
        "is 100; raise it with Service Quotas first). The platform's user and one per "
        "feature-team workload must fit.",
    )

    @property
    def parameter_group_family(self) -> str:
        return ENGINE_FAMILIES[self.engine.value][self.engine_version]

    @model_validator(mode="after")
    def _consistent(self) -> OnlineStoreSettings:
        violations: list[tuple[tuple[str, ...], str]] = []
        versions = ENGINE_FAMILIES[self.engine.value]
        if self.engine_version not in versions:
            violations.append(
                (
                    ("engineVersion",),
                    f"{self.engine_version!r} for {self.engine.value}; allowed: "
                    f"{', '.join(versions)}",
                )
            )
        if not self.cluster_mode and self.shards != 1:
            violations.append((("shards",), "must be 1 without clusterMode"))
        low, high = SNAPSHOT_RETENTION_RANGE
        if not low <= self.snapshot_retention_days <= high:
            violations.append(
                (
                    ("snapshotRetentionDays",),
                    f"{self.snapshot_retention_days}; allowed: {low}-{high}",
                )
            )
        low, high = ROTATION_DAYS_RANGE
        if not low <= self.rotation_days <= high:
            violations.append((("rotationDays",), f"{self.rotation_days}; allowed: {low}-{high}"))
        if violations:
            raise ConfigRuleError(*violations)
        return self
