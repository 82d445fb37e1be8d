"""The typed stack config: the checked-in stacks, profile defaults and every rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pydantic import BaseModel

from blueprint.capture import RecordingMonitor, capture
from blueprint.mocks import PlatformMocks
from components.config import (
    ConfigError,
    Environment,
    NatGateways,
    StackConfig,
    parse_stack_config,
)
from components.config.keys import PROVIDER_KEYS, secret_settings
from components.config.models import (
    EU_REGIONS,
    PROD_KMS_DELETION_WINDOW_DAYS,
    PROD_MIN_LOG_RETENTION_DAYS,
)
from tests.conftest import PROJECT_DIR, STACKS, namespace_values, stack_config

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(values: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = values
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(values: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = values
        for part in parents:
            node = node[part]
        del node[leaf]

    return mutate


def _errors(stack: str, mutate: Mutation) -> dict[str, str]:
    values = copy.deepcopy(namespace_values(stack))
    mutate(values)
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(values, source=f"stacks/Pulumi.{stack}.yaml", stack=stack)
    assert caught.value.source == f"stacks/Pulumi.{stack}.yaml"
    return dict(caught.value.problems)


@pytest.mark.parametrize("stack", STACKS)
def test_checked_in_stacks_validate(stack: str) -> None:
    config = stack_config(stack)
    assert config.environment is Environment(stack)
    assert config.aws.region in EU_REGIONS


def test_profiles_supply_the_defaults_each_environment_relies_on() -> None:
    dev, staging, prod = (stack_config(s) for s in STACKS)
    assert (dev.network.az_count, dev.network.nat_gateways) == (2, NatGateways.SINGLE)
    assert dev.storage.force_destroy and not dev.protection.protect_stateful
    assert staging.network.nat_gateways is NatGateways.PER_AZ and staging.data_stores.multi_az
    assert (prod.network.az_count, prod.network.nat_gateways) == (3, NatGateways.PER_AZ)
    assert prod.protection.protect_stateful and not prod.storage.force_destroy
    assert prod.logging.retention_days >= PROD_MIN_LOG_RETENTION_DAYS
    assert prod.kms.deletion_window_days == PROD_KMS_DELETION_WINDOW_DAYS
    assert prod.data_stores.multi_az


def test_stack_values_override_profile_values_key_by_key() -> None:
    config = stack_config("dev", logging={"retentionDays": 90})
    assert config.logging.retention_days == 90
    # Untouched siblings still come from the profile.
    assert config.network.nat_gateways is NatGateways.SINGLE


INVALID: list[tuple[str, str, Mutation, str, str]] = [
    # (case, stack, mutation, key named in the error, fragment of what is allowed)
    ("public CIDR", "dev", _set("network.cidr", "8.8.0.0/16"), "network.cidr", "10.0.0.0/8"),
    ("VPC too large", "dev", _set("network.cidr", "10.0.0.0/8"), "network.cidr", "/16 to /20"),
    ("VPC too small", "dev", _set("network.cidr", "10.0.0.0/24"), "network.cidr", "/16 to /20"),
    ("not a CIDR", "dev", _set("network.cidr", "10.0.0.300/16"), "network.cidr", "not a valid"),
    ("host bits set", "dev", _set("network.cidr", "10.0.0.1/16"), "network.cidr", "not a valid"),
    (
        "plan does not fit",
        "dev",
        _set("network.cidr", "10.0.0.0/20"),
        "network.subnetPrefixes",
        "larger than the VPC",
    ),
    (
        "plan overflows",
        "dev",
        _set("network.subnetPrefixes", {"private": 17, "data": 20, "public": 24}),
        "network.subnetPrefixes",
        "needs",
    ),
    ("one AZ", "dev", _set("network.azCount", 1), "network.azCount", "2 to 3"),
    ("four AZs", "staging", _set("network.azCount", 4), "network.azCount", "2 to 3"),
    ("two AZs in prod", "prod", _set("network.azCount", 2), "network.azCount", "3 AZs"),
    (
        "single NAT in prod",
        "prod",
        _set("network.natGateways", "single"),
        "network.natGateways",
        "per-az",
    ),
    ("NAT typo", "dev", _set("network.natGateways", "one"), "network.natGateways", "per-az"),
    (
        "force destroy in prod",
        "prod",
        _set("storage.forceDestroy", True),
        "storage.forceDestroy",
        "false",
    ),
    (
        "single-AZ data in prod",
        "prod",
        _set("dataStores.multiAz", False),
        "dataStores.multiAz",
        "true",
    ),
    (
        "short logs in prod",
        "prod",
        _set("logging.retentionDays", 90),
        "logging.retentionDays",
        str(PROD_MIN_LOG_RETENTION_DAYS),
    ),
    (
        "short flow logs in prod",
        "prod",
        _set("network.flowLogRetentionDays", 30),
        "network.flowLogRetentionDays",
        str(PROD_MIN_LOG_RETENTION_DAYS),
    ),
    (
        "unprotected prod",
        "prod",
        _set("protection.protectStateful", False),
        "protection.protectStateful",
        "true",
    ),
    (
        "short key window in prod",
        "prod",
        _set("kms.deletionWindowDays", 7),
        "kms.deletionWindowDays",
        "30",
    ),
    (
        "key window out of range",
        "dev",
        _set("kms.deletionWindowDays", 3),
        "kms.deletionWindowDays",
        "7 to 30",
    ),
    (
        "retention not accepted by CloudWatch",
        "dev",
        _set("logging.retentionDays", 45),
        "logging.retentionDays",
        "allowed: 1, 3, 5",
    ),
    (
        "secret recovery of 0",
        "dev",
        _set("secrets.recoveryWindowDays", 0),
        "secrets.recoveryWindowDays",
        "7 to 30",
    ),
    ("missing owner", "dev", _delete("tags.owner"), "tags.owner", "required"),
    ("blank owner", "dev", _set("tags.owner", "  "), "tags.owner", "blank"),
    ("empty cost center", "dev", _set("tags.costCenter", ""), "tags.costCenter", "at least 1"),
    (
        "unknown classification",
        "dev",
        _set("tags.dataClassification", "secret"),
        "tags.dataClassification",
        "'restricted'",
    ),
    ("empty extra tag", "dev", _set("tags.extra", {"team": ""}), "tags.extra.team", "at least 1"),
    ("region outside the EU", "dev", _set("aws.region", "us-east-1"), "aws.region", "eu-central-1"),
    (
        "non-EU region allowed in prod",
        "prod",
        _set("aws.allowedRegions", ["eu-central-1", "us-east-1"]),
        "aws.allowedRegions",
        "only narrow the EU allowlist",
    ),
    ("bad account id", "dev", _set("aws.accountId", "1234"), "aws.accountId", "pattern"),
    (
        "role in another account",
        "dev",
        _set("aws.assumeRoleArn", "arn:aws:iam::999999999999:role/deployer"),
        "aws.assumeRoleArn",
        "environment's account",
    ),
    (
        "not a role ARN",
        "dev",
        _set("aws.assumeRoleArn", "deployer"),
        "aws.assumeRoleArn",
        "pattern",
    ),
    (
        "bad boundary ARN",
        "dev",
        _set("identity.permissionsBoundaryArn", "boundary"),
        "identity.permissionsBoundaryArn",
        "pattern",
    ),
    (
        "typo at the top",
        "dev",
        _set("netwrok", {"cidr": "10.0.0.0/16"}),
        "netwrok",
        "allowed keys here: alerting, aws, cluster, dataStores",
    ),
    (
        "typo inside a section",
        "dev",
        _set("network.natGateway", "single"),
        "network.natGateway",
        "allowed keys here: azCount, cidr",
    ),
    ("no environment", "dev", _delete("environment"), "environment", "dev, staging, prod"),
    ("unknown environment", "dev", _set("environment", "qa"), "environment", "dev, staging, prod"),
    ("dev profile in the prod stack", "prod", _set("environment", "dev"), "environment", "'prod'"),
    # --- compute ---
    (
        "public API without an allowlist",
        "dev",
        _set("cluster.endpointPublicAccess", True),
        "cluster.publicAccessCidrs",
        "explicit allowlist",
    ),
    (
        "public API open to the world",
        "dev",
        _set("cluster.publicAccessCidrs", ["0.0.0.0/0"]),
        "cluster.publicAccessCidrs",
        "/16 or narrower",
    ),
    (
        "allowlist without a public API",
        "dev",
        _set("cluster.publicAccessCidrs", ["203.0.113.0/24"]),
        "cluster.publicAccessCidrs",
        "only allowed with endpointPublicAccess",
    ),
    (
        "public API in staging",
        "staging",
        _set("cluster", {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}),
        "cluster.endpointPublicAccess",
        "only dev",
    ),
    (
        "admin role in another account",
        "dev",
        _set("cluster.adminRoleArns", ["arn:aws:iam::999999999999:role/admin"]),
        "cluster.adminRoleArns",
        "not in account 111111111111",
    ),
    (
        "desired outside min..max",
        "dev",
        _set("cluster.nodeGroups.general.desiredSize", 9),
        "cluster.nodeGroups.general.desiredSize",
        "between minSize (2) and maxSize (4)",
    ),
    (
        "Graviton instance on an x86 AMI",
        "dev",
        _set("cluster.nodeGroups.general.instanceTypes", ["m7g.large"]),
        "cluster.nodeGroups.general.amiType",
        "AL2023_ARM_64_STANDARD",
    ),
    (
        "add-on version not pinned",
        "dev",
        _set("cluster.addons.coredns", "latest"),
        "cluster.addons.coredns",
        "eksbuild",
    ),
    (
        "bad quota quantity",
        "dev",
        _set("kubernetes.quota.requestsCpu", "lots"),
        "kubernetes.quota.requestsCpu",
        "pattern",
    ),
    # --- data stores ---
    (
        "storage ceiling below the volume",
        "dev",
        _set("streaming.maxVolumeSizeGib", 50),
        "streaming.maxVolumeSizeGib",
        "at least volumeSizeGib (100)",
    ),
    (
        "bad topic name",
        "dev",
        _set("streaming.topics", {"Feature Events": {"partitions": 1, "retentionHours": 1}}),
        "streaming.topics.Feature Events",
        "not a valid name: String should match pattern",
    ),
    (
        "unsupported engine version",
        "dev",
        _set("onlineStore.engineVersion", "6.2"),
        "onlineStore.engineVersion",
        "allowed: 7.2, 8.0, 8.1",
    ),
    (
        "shards without cluster mode",
        "dev",
        _set("onlineStore.shards", 2),
        "onlineStore.shards",
        "must be 1 without clusterMode",
    ),
    (
        "multi-AZ without a replica",
        "staging",
        _set("onlineStore.replicasPerShard", 0),
        "onlineStore.replicasPerShard",
        "replica in another AZ",
    ),
    (
        "unknown eviction policy",
        "dev",
        _set("onlineStore.maxmemoryPolicy", "lru"),
        "onlineStore.maxmemoryPolicy",
        "allkeys-lru",
    ),
    (
        "prod without cluster mode",
        "prod",
        _set("onlineStore", {"clusterMode": False, "shards": 1}),
        "onlineStore.clusterMode",
        "prod requires true",
    ),
    (
        "prod with a short snapshot history",
        "prod",
        _set("onlineStore.snapshotRetentionDays", 3),
        "onlineStore.snapshotRetentionDays",
        "at least 7 days",
    ),
    (
        "SLO target 100",
        "dev",
        _set("slos.servingAvailability.target", 100),
        "slos.servingAvailability.target",
        "allowed: 95.0 to 99.99",
    ),
    (
        "SLO target too low",
        "dev",
        _set("slos.freshness.target", 90),
        "slos.freshness.target",
        "allowed: 95.0 to 99.99",
    ),
    (
        "SLO period of a week",
        "dev",
        _set("slos.consistency.windowDays", 7),
        "slos.consistency.windowDays",
        "allowed: 28, 30",
    ),
    (
        "SLO owner not a team name",
        "dev",
        _set("slos.dataQuality.owner", "ML Platform"),
        "slos.dataQuality.owner",
        "should match pattern",
    ),
    (
        "SLO unknown key",
        "dev",
        _set("slos.servingAvailability.burnRate", 14.4),
        "slos.servingAvailability.burnRate",
        "unknown key; allowed keys here: owner, page, target, ticket, windowDays",
    ),
    ("unknown SLO", "dev", _set("slos.throughput", {}), "slos.throughput", "unknown key"),
    (
        "serving latency off the buckets",
        "dev",
        _set("slos.servingLatency.thresholdSeconds", 0.2),
        "slos.servingLatency.thresholdSeconds",
        "not a bucket bound",
    ),
    (
        "freshness under a minute",
        "dev",
        _set("slos.freshness.maxLagSeconds", 30),
        "slos.freshness.maxLagSeconds",
        "greater than or equal to 60",
    ),
    (
        "prod SLO without paging",
        "prod",
        _set("slos.servingAvailability.page", False),
        "slos.servingAvailability.page",
        "prod requires true",
    ),
    (
        "prod SLO without tickets",
        "prod",
        _set("slos.freshness.ticket", False),
        "slos.freshness.ticket",
        "prod requires true",
    ),
    (
        "an SLO nobody is told about",
        "dev",
        _set("slos.consistency", {"page": False, "ticket": False}),
        "slos.consistency.ticket",
        "page or ticket must be true",
    ),
    (
        "probe image from another account",
        "staging",
        _set(
            "alerting.consistencyProbe.image",
            "111111111111.dkr.ecr.eu-central-1.amazonaws.com/feature-platform/probe:1.0.0",
        ),
        "alerting.consistencyProbe.image",
        "must be in account 222222222222's ECR",
    ),
    (
        "probe image outside ECR",
        "dev",
        _set("alerting.consistencyProbe.image", "docker.io/library/python:3.12"),
        "alerting.consistencyProbe.image",
        "should match pattern",
    ),
    (
        "more cache nodes than an alarm can read",
        "prod",
        _set("onlineStore.shards", 4),
        "onlineStore.shards",
        "at most 10 nodes",
    ),
    (
        "credentials neither assumed nor ambient",
        "dev",
        _set("aws.credentials", "profile"),
        "aws.credentials",
        "'assume' or 'ambient'",
    ),
    (
        "more shards than an alarm has expressions for",
        "dev",
        _set("onlineStore", {"clusterMode": True, "shards": 10, "replicasPerShard": 0}),
        "onlineStore.shards",
        "at most 9 shards",
    ),
    (
        "more brokers than an alarm can read",
        "prod",
        _set("streaming.brokersPerAz", 4),
        "streaming.brokersPerAz",
        "at most 10 brokers",
    ),
    (
        "health threshold over 100 %",
        "dev",
        _set("alerting.health.cacheMemoryPercent", 120),
        "alerting.health.cacheMemoryPercent",
        "less than or equal to 100",
    ),
]


@pytest.mark.parametrize(
    ("stack", "mutate", "key", "allowed"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_config_names_the_key_and_what_is_allowed(
    stack: str, mutate: Mutation, key: str, allowed: str
) -> None:
    problems = _errors(stack, mutate)
    assert f"feature-platform:{key}" in problems, problems
    assert allowed in problems[f"feature-platform:{key}"]


def test_every_broken_prod_rule_is_reported_at_once() -> None:
    def weaken(values: dict[str, Any]) -> None:
        values["network"]["natGateways"] = "single"
        values["storage"] = {"forceDestroy": True}
        values["dataStores"] = {"multiAz": False}

    problems = _errors("prod", weaken)
    assert {
        "feature-platform:network.natGateways",
        "feature-platform:storage.forceDestroy",
        "feature-platform:dataStores.multiAz",
    } <= set(problems)


def test_slo_routing_per_environment_and_prod_pages_on_every_slo() -> None:
    dev, staging, prod = (stack_config(s) for s in STACKS)
    # Dev never pages but tickets, so every alert path is deployed and rehearsed.
    assert all(o.ticket and not o.page for _, o in dev.slos.declarations())
    assert all(o.ticket and not o.page for _, o in staging.slos.declarations())
    assert all(o.page and o.ticket for _, o in prod.slos.declarations())
    assert [name for name, _ in prod.slos.declarations()] == [
        "freshness",
        "online-store-availability",
        "online-store-latency",
        "serving-availability",
        "serving-latency",
        "data-quality",
        "consistency",
    ]
    assert prod.slos.serving_availability.target == 99.9
    assert prod.slos.serving_latency.threshold_seconds == 0.1


def test_the_same_weakening_is_allowed_in_dev() -> None:
    config = stack_config("dev", storage={"forceDestroy": True}, dataStores={"multiAz": False})
    assert config.storage.force_destroy and not config.data_stores.multi_az
    wider = {**namespace_values("dev")["aws"], "allowedRegions": ["eu-central-1", "us-east-1"]}
    assert "us-east-1" in stack_config("dev", aws=wider).aws.allowed_regions


def test_invalid_stack_file_stops_the_program_before_any_resource(
    write_stack: Callable[[str, Mutation], Path],
) -> None:
    stack_file = write_stack(
        "prod", _set("feature-platform:network", {"cidr": "10.30.0.0/16", "natGateways": "single"})
    )
    monitor = RecordingMonitor(PlatformMocks())
    with pytest.raises(pulumi.RunError) as caught:
        capture(PROJECT_DIR, "prod", stack_file=stack_file, monitor=monitor)
    message = str(caught.value)
    assert "stacks/Pulumi.prod.yaml" in message
    assert "feature-platform:network.natGateways" in message
    assert "per-az" in message
    assert monitor.recorded == []  # nothing half-built


def test_unknown_key_in_the_stack_file_stops_the_program(
    write_stack: Callable[[str, Mutation], Path],
) -> None:
    stack_file = write_stack("dev", _set("feature-platform:loging", {"retentionDays": 30}))
    monitor = RecordingMonitor(PlatformMocks())
    with pytest.raises(pulumi.RunError, match=r"feature-platform:loging: unknown key"):
        capture(PROJECT_DIR, "dev", stack_file=stack_file, monitor=monitor)
    assert monitor.recorded == []


def test_a_stack_must_be_named_after_its_environment() -> None:
    """Physical names derive from the environment: a copied stack would collide in the account."""
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(
            namespace_values("staging"), source="stacks/Pulumi.staging-eu.yaml", stack="staging-eu"
        )
    message = dict(caught.value.problems)["feature-platform:environment"]
    assert "'staging' in stack 'staging-eu'" in message
    assert "feature-platform-staging" in message and "rename the stack" in message
    # Without a stack name (a model on its own) only the values are judged.
    assert (
        parse_stack_config(namespace_values("staging"), source="x").environment.value == "staging"
    )


def test_provider_keys_point_at_settings_that_exist() -> None:
    """Each `aws:*` key the error redirects names a real key of the project's namespace."""
    for target in PROVIDER_KEYS.values():
        model: type[BaseModel] = StackConfig
        for part in target.removeprefix("feature-platform:").split("."):
            field = next((f for n, f in model.model_fields.items() if part in {n, f.alias}), None)
            assert field is not None, f"{target}: no {part!r} in {model.__name__}"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                model = field.annotation


def test_no_setting_is_a_secret_so_every_secure_value_is_refused() -> None:
    assert secret_settings() == []
