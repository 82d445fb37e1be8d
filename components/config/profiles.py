"""Environment profiles: the defaults each environment starts from.

Profiles are plain data in the same shape (camelCase keys) as the ``feature-platform:``
namespace of a stack file, so a stack file overrides exactly the keys that differ and the
merged result is validated once by :class:`~components.config.models.StackConfig`.
``docs/environments.md`` renders this table; ``tests/test_docs.py`` keeps the two in step.
"""

from __future__ import annotations

from typing import Any

from components.config.models import Environment
from components.config.slos import SloSettings

COMMON: dict[str, Any] = {
    "network": {
        # Sized for a /16: EKS with the VPC CNI gives every pod a VPC address, so the
        # workload tier gets the bulk; data stores need few addresses; public only hosts
        # NAT gateways and load balancers.
        "subnetPrefixes": {"private": 18, "data": 22, "public": 24},
    },
    "storage": {
        "offlineTieringDays": 0,
    },
    "cluster": {
        "kubernetesVersion": "1.33",
        # Versions published for 1.33 (`aws eks describe-addon-versions
        # --kubernetes-version 1.33`); bumped together with kubernetesVersion.
        "addons": {
            "vpcCni": "v1.19.6-eksbuild.7",
            "coredns": "v1.12.1-eksbuild.2",
            "kubeProxy": "v1.33.0-eksbuild.2",
            "podIdentityAgent": "v1.3.7-eksbuild.2",
            "ebsCsiDriver": "v1.45.0-eksbuild.2",
        },
    },
    "kubernetes": {
        "containerDefaults": {
            "requestCpu": "100m",
            "requestMemory": "128Mi",
            "limitCpu": "1",
            "limitMemory": "512Mi",
        },
    },
    "streaming": {
        "kafkaVersion": "3.8.x",
        "brokersPerAz": 1,
        "topics": {
            # Feature events keyed by entity; 7 days lets materialization replay a week.
            "feature-events": {"partitions": 12, "retentionHours": 168},
            # Records materialization could not write, kept for inspection and replay.
            "materialization-dlq": {"partitions": 3, "retentionHours": 336},
        },
    },
    "onlineStore": {
        "engine": "valkey",
        "engineVersion": "8.0",
        # Materialization rewrites every feature on schedule: evicting the least recently
        # used key costs a cache miss (served as a default), refusing writes would stall it.
        "maxmemoryPolicy": "allkeys-lru",
        # Snapshots at night (UTC), well clear of the weekly maintenance window.
        "snapshotWindow": "01:00-02:00",
        "maintenanceWindow": "sun:03:00-sun:04:00",
        "rotationDays": 30,
    },
    # Off unless a stack opts in (a job on the runner acts as the deployer role); the
    # smallest size is enough: `pulumi up` mostly waits on AWS.
    "deployRunner": {"enabled": False, "computeType": "BUILD_GENERAL1_SMALL"},
    # The same objectives everywhere, so an alert is rehearsed in dev and staging before it
    # can page in prod; only the routing (page, ticket) differs by environment.
    "slos": {
        # Materialization runs continuously; five minutes behind is still "fresh" for the
        # models that read online features.
        "freshness": {"target": 99.5, "windowDays": 30, "maxLagSeconds": 300},
        "onlineStoreAvailability": {"target": 99.9, "windowDays": 30},
        # Valkey reads take tens of microseconds; a millisecond means a node is in trouble.
        "onlineStoreLatency": {"target": 99.5, "windowDays": 30, "thresholdMicroseconds": 1000},
        "servingAvailability": {"target": 99.9, "windowDays": 30},
        "servingLatency": {"target": 99.0, "windowDays": 30, "thresholdSeconds": 0.1},
        "dataQuality": {"target": 99.5, "windowDays": 30},
        "consistency": {"target": 99.0, "windowDays": 30},
    },
    "alerting": {
        "health": {
            # Storage autoscaling targets 60 %; 80 % means it is not keeping up.
            "kafkaDiskUsedPercent": 80,
            # AWS's guidance for the engine thread (ElastiCache "Which metrics should I
            # monitor?"): act before 90 %.
            "cacheEngineCpuPercent": 80,
            "cacheMemoryPercent": 80,
            # The online store is sized to hold every feature: an eviction loses one.
            "cacheEvictions": 0,
            "cacheReplicationLagSeconds": 5,
            "cacheConnections": 50000,
            # Any failed NAT port allocation is a connection a workload did not get.
            "natPortAllocationErrors": 0,
            "podRestarts": 3,
        },
        # Every 5 minutes: the consistency SLO's shortest burn-rate window is 5 minutes, and a
        # window without a run holds no evidence, so a slower schedule could never page.
        "consistencyProbe": {"schedule": "*/5 * * * *", "sampleSize": 1000},
    },
}

SLO_KEYS = tuple(field.alias or name for name, field in SloSettings.model_fields.items())


def _slo_routing(*, page: bool, ticket: bool, owner: str) -> dict[str, Any]:
    """The same routing for every SLO of an environment."""
    return {name: {"page": page, "ticket": ticket, "owner": owner} for name in SLO_KEYS}


def _node_groups(
    general: tuple[str, int, int, int], serving: tuple[str, int, int, int]
) -> dict[str, Any]:
    """General-purpose nodes for platform jobs; memory-optimised Graviton for feature serving."""
    (g_type, g_min, g_desired, g_max), (s_type, s_min, s_desired, s_max) = general, serving
    return {
        "general": {
            "instanceTypes": [g_type],
            "amiType": "AL2023_x86_64_STANDARD",
            "minSize": g_min,
            "desiredSize": g_desired,
            "maxSize": g_max,
            "labels": {"feature-platform/pool": "general"},
        },
        "serving": {
            "instanceTypes": [s_type],
            "amiType": "AL2023_ARM_64_STANDARD",
            "minSize": s_min,
            "desiredSize": s_desired,
            "maxSize": s_max,
            "labels": {"feature-platform/pool": "serving"},
            # Only the feature server (which tolerates this) lands on serving nodes.
            "taints": [
                {"key": "feature-platform/serving", "value": "true", "effect": "NO_SCHEDULE"}
            ],
        },
    }


PROFILES: dict[Environment, dict[str, Any]] = {
    Environment.DEV: {
        "network": {"azCount": 2, "natGateways": "single", "flowLogRetentionDays": 30},
        "kms": {"deletionWindowDays": 7},
        "storage": {
            "forceDestroy": True,
            "noncurrentVersionExpirationDays": 7,
            "accessLogExpirationDays": 30,
        },
        "secrets": {"recoveryWindowDays": 7},
        "dataStores": {"multiAz": False},
        "logging": {"retentionDays": 30},
        "protection": {"protectStateful": False},
        "cluster": {"nodeGroups": _node_groups(("m7i.large", 2, 2, 4), ("r7g.large", 1, 1, 2))},
        "kubernetes": {
            "quota": {
                "requestsCpu": "8",
                "requestsMemory": "32Gi",
                "limitsCpu": "16",
                "limitsMemory": "64Gi",
                "pods": 50,
            },
        },
        "streaming": {
            "brokerInstanceType": "kafka.t3.small",
            "volumeSizeGib": 100,
            "maxVolumeSizeGib": 100,
            "openMonitoring": False,
        },
        "onlineStore": {
            "nodeType": "cache.t4g.medium",
            "clusterMode": False,
            "shards": 1,
            "replicasPerShard": 0,
            "snapshotRetentionDays": 1,
        },
        # Dev never pages: its burns are experiments. It tickets (to its own topic, usually
        # unsubscribed) so every alert path is deployed and rehearsed as in prod.
        "slos": _slo_routing(page=False, ticket=True, owner="ml-platform"),
    },
    Environment.STAGING: {
        "network": {"azCount": 3, "natGateways": "per-az", "flowLogRetentionDays": 90},
        "kms": {"deletionWindowDays": 30},
        "storage": {
            "forceDestroy": False,
            "noncurrentVersionExpirationDays": 30,
            "accessLogExpirationDays": 90,
        },
        "secrets": {"recoveryWindowDays": 30},
        "dataStores": {"multiAz": True},
        "logging": {"retentionDays": 90},
        "protection": {"protectStateful": False},
        "cluster": {"nodeGroups": _node_groups(("m7i.xlarge", 3, 3, 6), ("r7g.xlarge", 2, 2, 4))},
        "kubernetes": {
            "quota": {
                "requestsCpu": "32",
                "requestsMemory": "128Gi",
                "limitsCpu": "64",
                "limitsMemory": "256Gi",
                "pods": 200,
            },
        },
        "streaming": {
            "brokerInstanceType": "kafka.m7g.large",
            "volumeSizeGib": 500,
            "maxVolumeSizeGib": 2000,
            "openMonitoring": True,
        },
        "onlineStore": {
            "nodeType": "cache.r7g.large",
            "clusterMode": True,
            "shards": 2,
            "replicasPerShard": 1,
            "snapshotRetentionDays": 7,
        },
        # Staging tickets (a slow burn there is a regression about to ship) but never pages.
        "slos": _slo_routing(page=False, ticket=True, owner="ml-platform"),
    },
    Environment.PROD: {
        "network": {"azCount": 3, "natGateways": "per-az", "flowLogRetentionDays": 365},
        "kms": {"deletionWindowDays": 30},
        "storage": {
            "forceDestroy": False,
            "noncurrentVersionExpirationDays": 90,
            "accessLogExpirationDays": 400,
        },
        "secrets": {"recoveryWindowDays": 30},
        "dataStores": {"multiAz": True},
        "logging": {"retentionDays": 365},
        "protection": {"protectStateful": True},
        "cluster": {"nodeGroups": _node_groups(("m7i.xlarge", 3, 3, 12), ("r7g.2xlarge", 3, 3, 9))},
        "kubernetes": {
            "quota": {
                "requestsCpu": "96",
                "requestsMemory": "512Gi",
                "limitsCpu": "192",
                "limitsMemory": "1Ti",
                "pods": 500,
            },
        },
        "streaming": {
            "brokerInstanceType": "kafka.m7g.xlarge",
            "volumeSizeGib": 1000,
            "maxVolumeSizeGib": 4000,
            "openMonitoring": True,
        },
        "onlineStore": {
            "nodeType": "cache.r7g.xlarge",
            "clusterMode": True,
            "shards": 3,
            "replicasPerShard": 2,
            "snapshotRetentionDays": 14,
        },
        "slos": _slo_routing(page=True, ticket=True, owner="ml-platform"),
    },
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` wins; nested mappings merge key by key, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def profile_defaults(environment: Environment) -> dict[str, Any]:
    return deep_merge(COMMON, PROFILES[environment])
