"""Environment profiles: the defaults each environment starts from.

Profiles are plain data in the same shape (camelCase keys) as the ``feature-platform:``
namespace of a stack file, so a stack file overrides exactly the keys that differ and the
merged result is validated once by :class:`~components.config.models.StackConfig`.
``docs/environments.md`` renders this table; ``tests/test_docs.py`` keeps the two in step.
"""

from __future__ import annotations

from typing import Any

from components.config.models import Environment

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
