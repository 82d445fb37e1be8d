"""Typed, validated stack configuration.

Every key under the ``feature-platform:`` namespace of a stack file maps to one field
here. Field names are snake_case in Python and camelCase in the stack files (the Pulumi
convention). Unknown keys are rejected at every level (``extra="forbid"``): a typo must
never silently fall back to a default.

Rules that span fields, or that depend on the environment, live in validators and raise
:class:`ConfigRuleError` so the error names the exact key path.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated

from pydantic import Field, PrivateAttr, field_validator, model_validator

from components.config.alerting import AlertingSettings
from components.config.base import (
    ROLE_ARN_PATTERN,
    ConfigModel,
    ConfigRuleError,
    retention_days,
)
from components.config.compute import ClusterSettings, KubernetesSettings
from components.config.data_stores import OnlineStoreSettings, StreamingSettings
from components.config.delivery import DeployRunnerSettings
from components.config.slos import SloSettings
from components.config.subnets import SubnetPlan, plan_subnets

_Model = ConfigModel
_retention = retention_days

# --- named limits -------------------------------------------------------------------------

PROD_MIN_LOG_RETENTION_DAYS = 365
"""Prod keeps operational logs (flow logs, control-plane logs) for at least a year."""

PROD_MIN_SNAPSHOT_RETENTION_DAYS = 7
"""Prod can restore the online store from any of the last seven days."""

PROD_KMS_DELETION_WINDOW_DAYS = 30
"""Prod keys get the longest window AWS allows, to catch an accidental deletion."""

KMS_DELETION_WINDOW_RANGE = (7, 30)
"""AWS KMS accepts a pending-deletion window of 7 to 30 days."""

SECRET_RECOVERY_WINDOW_RANGE = (7, 30)
"""Secrets Manager accepts 7-30 days (0 forces deletion without recovery: not allowed here)."""

VPC_PREFIX_RANGE = (16, 20)
"""Largest and smallest VPC we plan for; AWS itself allows /16 to /28."""

AZ_COUNT_RANGE = (2, 3)
PROD_AZ_COUNT = 3

MAX_ALARM_METRICS = 10
"""CloudWatch quotas: a metric-math alarm reads at most 10 metrics and holds at most 10
expressions (PutMetricAlarm ``Metrics``: 20 entries)."""

EU_REGIONS = (
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
)
"""Default region allowlist: feature data about EU users stays in the EU."""

RFC1918_BLOCKS = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)

ACCOUNT_ID_PATTERN = r"^\d{12}$"
POLICY_ARN_PATTERN = r"^arn:aws:iam::(\d{12}|aws):policy/[A-Za-z0-9+=,.@_/-]+$"


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class DataClassification(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class NatGateways(StrEnum):
    SINGLE = "single"
    PER_AZ = "per-az"


class Credentials(StrEnum):
    ASSUME = "assume"
    """The provider (and the kubeconfig's token) assume ``assumeRoleArn`` from whatever
    credentials run Pulumi: a person's session, an admin's break-glass role."""
    AMBIENT = "ambient"
    """The provider uses the credentials Pulumi runs with, as they are: the pipelines, whose
    job already holds the deployer, previewer or drift role through GitHub OIDC. No role then
    needs to trust itself, and every pipeline gives the provider the same inputs, so a
    preview, a drift check and a deploy never differ by the provider's role."""


# --- sections -----------------------------------------------------------------------------


class AwsSettings(_Model):
    """Where the stack deploys: one AWS account per environment."""

    region: str = Field(description="AWS region of every resource in the stack.")
    account_id: str = Field(
        pattern=ACCOUNT_ID_PATTERN,
        description="The environment's AWS account; the provider refuses to act in any other.",
    )
    assume_role_arn: str = Field(
        pattern=ROLE_ARN_PATTERN,
        description="Deployer role in the environment's account: Pulumi runs as it (held by "
        "the pipeline's job, or assumed; see `credentials`); resources that name the deployer "
        "(its cluster access entry, its key grants) name this role.",
    )
    credentials: Credentials = Field(
        default=Credentials.ASSUME,
        description="`assume`: the provider assumes `assumeRoleArn`; `ambient`: it uses the "
        "credentials Pulumi runs with (the pipelines set this in their checkout: each job "
        "already holds its role through OIDC). The account pin holds either way.",
    )
    allowed_regions: tuple[str, ...] = Field(
        default=EU_REGIONS,
        min_length=1,
        description="Regions the platform may run in (data residency).",
    )

    @model_validator(mode="after")
    def _region_allowed(self) -> AwsSettings:
        if self.region not in self.allowed_regions:
            raise ConfigRuleError(
                (
                    ("region",),
                    f"{self.region!r} is not in the region allowlist; "
                    f"allowed: {', '.join(self.allowed_regions)}",
                )
            )
        role_account = self.assume_role_arn.split(":")[4]
        if role_account != self.account_id:
            raise ConfigRuleError(
                (
                    ("assumeRoleArn",),
                    f"the role is in account {role_account} but accountId is "
                    f"{self.account_id}; the role must live in the environment's account",
                )
            )
        return self


class TagSettings(_Model):
    """Ownership tags; ``environment`` and ``managed-by`` are added from the stack itself."""

    owner: str = Field(min_length=1, description="Team that owns the platform (tag `owner`).")
    cost_center: str = Field(min_length=1, description="Cost center billed (tag `cost-center`).")
    data_classification: DataClassification = Field(
        description="Highest classification of data the platform stores.",
    )
    extra: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Additional tags applied to every resource.",
    )

    @field_validator("owner", "cost_center")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SubnetPrefixes(_Model):
    """Prefix length of each subnet tier (one subnet per AZ per tier)."""

    private: int = Field(ge=16, le=28, description="Workload subnets (EKS nodes and pods).")
    data: int = Field(ge=16, le=28, description="Data subnets (MSK, ElastiCache); no internet.")
    public: int = Field(ge=16, le=28, description="Public subnets (NAT gateways, public LBs).")


class NetworkSettings(_Model):
    """The VPC and its subnet plan."""

    cidr: str = Field(description="VPC CIDR: an RFC 1918 block between /16 and /20.")
    az_count: int = Field(description="Availability zones to span (2-3; prod requires 3).")
    nat_gateways: NatGateways = Field(
        description="`single` (dev and staging; refused in prod) or `per-az`."
    )
    subnet_prefixes: SubnetPrefixes = Field(description="Prefix length of each subnet tier.")
    flow_log_retention_days: int = Field(description="Retention of the VPC flow-log group.")

    _check_retention = field_validator("flow_log_retention_days")(_retention)

    @field_validator("cidr")
    @classmethod
    def _rfc1918(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid IPv4 network ({exc})") from None
        if not any(network.subnet_of(block) for block in RFC1918_BLOCKS):
            raise ValueError(
                f"{value} is not private; allowed: inside 10.0.0.0/8, 172.16.0.0/12 or "
                "192.168.0.0/16"
            )
        low, high = VPC_PREFIX_RANGE
        if not low <= network.prefixlen <= high:
            raise ValueError(f"/{network.prefixlen} is out of range; allowed: /{low} to /{high}")
        return value

    @field_validator("az_count")
    @classmethod
    def _az_count(cls, value: int) -> int:
        low, high = AZ_COUNT_RANGE
        if not low <= value <= high:
            raise ValueError(f"{value} AZs; allowed: {low} to {high}")
        return value

    @model_validator(mode="after")
    def _plan_fits(self) -> NetworkSettings:
        try:
            self.subnet_plan(("a",) * self.az_count)
        except ValueError as exc:
            raise ConfigRuleError((("subnetPrefixes",), str(exc))) from None
        return self

    def subnet_plan(self, zones: tuple[str, ...]) -> SubnetPlan:
        """Non-overlapping subnets for the given zones, allocated from the VPC CIDR."""
        return plan_subnets(
            self.cidr,
            zones,
            {
                "private": self.subnet_prefixes.private,
                "data": self.subnet_prefixes.data,
                "public": self.subnet_prefixes.public,
            },
        )


class KmsSettings(_Model):
    """Customer-managed keys."""

    deletion_window_days: int = Field(description="Pending-deletion window of every key.")
    key_admin_role_arn: str = Field(
        pattern=ROLE_ARN_PATTERN,
        description="Role allowed to administer (not use) the platform keys.",
    )

    @field_validator("deletion_window_days")
    @classmethod
    def _window(cls, value: int) -> int:
        low, high = KMS_DELETION_WINDOW_RANGE
        if not low <= value <= high:
            raise ValueError(f"{value} days; allowed: {low} to {high}")
        return value


class StorageSettings(_Model):
    """S3 buckets: offline store, feature registry and access logs."""

    force_destroy: bool = Field(
        description="Allow deleting non-empty buckets on destroy (never in prod)."
    )
    noncurrent_version_expiration_days: int = Field(
        ge=1, le=3650, description="Days a replaced object version is kept."
    )
    offline_tiering_days: int = Field(
        ge=0,
        le=3650,
        description="Days after which offline-store objects move to Intelligent-Tiering.",
    )
    access_log_expiration_days: int = Field(
        ge=1, le=3650, description="Days S3 server access logs are kept."
    )


class SecretsSettings(_Model):
    """Secrets Manager."""

    recovery_window_days: int = Field(description="Days a deleted secret can be restored.")

    @field_validator("recovery_window_days")
    @classmethod
    def _window(cls, value: int) -> int:
        low, high = SECRET_RECOVERY_WINDOW_RANGE
        if not low <= value <= high:
            raise ValueError(f"{value} days; allowed: {low} to {high}")
        return value


class IdentitySettings(_Model):
    """IAM for workloads."""

    permissions_boundary_arn: str | None = Field(
        default=None,
        pattern=POLICY_ARN_PATTERN,
        description="Permissions boundary attached to every workload role, if the org uses one.",
    )


class DataStoreSettings(_Model):
    """Settings shared by the data stores (MSK, ElastiCache)."""

    multi_az: bool = Field(description="Spread data stores across AZs with automatic failover.")


class LoggingSettings(_Model):
    """CloudWatch Logs defaults."""

    retention_days: int = Field(description="Retention of the platform's log groups.")

    _check_retention = field_validator("retention_days")(_retention)


class ProtectionSettings(_Model):
    """Resource options for stateful resources (buckets, keys, secrets, clusters)."""

    protect_stateful: bool = Field(
        description="Set `protect` and `retain_on_delete` on stateful resources."
    )


# --- the stack --------------------------------------------------------------------------


class StackConfig(_Model):
    """Everything under ``feature-platform:`` in one stack file, after profile defaults."""

    environment: Environment = Field(description="Which environment profile the stack uses.")
    aws: AwsSettings = Field(description="Account, region and deployer role.")
    tags: TagSettings = Field(description="Ownership and classification tags.")
    network: NetworkSettings = Field(description="VPC, subnets, NAT and flow logs.")
    kms: KmsSettings = Field(description="Customer-managed KMS keys.")
    storage: StorageSettings = Field(description="S3 buckets.")
    secrets: SecretsSettings = Field(description="Secrets Manager.")
    identity: IdentitySettings = Field(
        default_factory=IdentitySettings, description="Workload IAM roles."
    )
    data_stores: DataStoreSettings = Field(description="MSK and ElastiCache availability.")
    logging: LoggingSettings = Field(description="CloudWatch Logs retention.")
    protection: ProtectionSettings = Field(description="Protection of stateful resources.")
    cluster: ClusterSettings = Field(description="EKS cluster, node groups and add-ons.")
    kubernetes: KubernetesSettings = Field(description="Kubernetes tenancy baseline.")
    streaming: StreamingSettings = Field(description="MSK cluster and platform topics.")
    online_store: OnlineStoreSettings = Field(description="ElastiCache online store.")
    slos: SloSettings = Field(description="Service level objectives and their burn-rate alerts.")
    alerting: AlertingSettings = Field(description="Resource health alarm thresholds.")
    deploy_runner: DeployRunnerSettings = Field(
        default_factory=DeployRunnerSettings,
        description="In-VPC GitHub Actions runner (CodeBuild) that applies the stack.",
    )

    _review: int | None = PrivateAttr(default=None)
    """The pull request of a review stack (``pr-<N>``), set by the loader from the stack name."""

    def as_review(self, pull_request: int) -> StackConfig:
        """This config as review stack ``pr-<pull_request>``: the same settings, its own names."""
        copy = self.model_copy()
        copy._review = pull_request
        return copy

    @property
    def review(self) -> int | None:
        return self._review

    @property
    def instance(self) -> str:
        """What physical names and metric dimensions carry: the environment (``dev``), or
        ``dev-pr<N>`` for a review stack, which shares dev's account with dev itself."""
        env = self.environment.value
        return env if self._review is None else f"{env}-pr{self._review}"

    @property
    def availability_zones(self) -> tuple[str, ...]:
        """AZ names derived from the region (a, b, c): stable and reviewable in a diff."""
        return tuple(f"{self.aws.region}{letter}" for letter in "abc"[: self.network.az_count])

    @property
    def subnet_plan(self) -> SubnetPlan:
        return self.network.subnet_plan(self.availability_zones)

    @property
    def is_prod(self) -> bool:
        return self.environment is Environment.PROD

    @model_validator(mode="after")
    def _cross_section_rules(self) -> StackConfig:
        rules: list[tuple[tuple[str, ...], bool, str]] = [
            (
                ("cluster", "endpointPublicAccess"),
                self.cluster.endpoint_public_access and self.environment is not Environment.DEV,
                "only dev may expose the cluster API publicly; allowed: false",
            ),
            (
                ("onlineStore", "replicasPerShard"),
                self.data_stores.multi_az and self.online_store.replicas_per_shard < 1,
                "multi-AZ failover needs a replica in another AZ; allowed: 1 to 5",
            ),
            *(
                (
                    ("cluster", "adminRoleArns"),
                    arn.split(":")[4] != self.aws.account_id,
                    f"{arn} is not in account {self.aws.account_id}; access entries map roles "
                    "of the environment's own account",
                )
                for arn in self.cluster.admin_role_arns
            ),
            *(
                (
                    ("cluster", "viewRoleArns"),
                    arn.split(":")[4] != self.aws.account_id,
                    f"{arn} is not in account {self.aws.account_id}; access entries map roles "
                    "of the environment's own account",
                )
                for arn in self.cluster.view_role_arns
            ),
            (
                ("onlineStore", "shards"),
                self.online_store.shards * (self.online_store.replicas_per_shard + 1)
                > MAX_ALARM_METRICS,
                f"at most {MAX_ALARM_METRICS} nodes (shards x (replicasPerShard + 1)): the "
                "online-store SLO and health alarms read one metric per node, and a CloudWatch "
                f"metric-math alarm reads at most {MAX_ALARM_METRICS}",
            ),
            (
                ("onlineStore", "shards"),
                self.online_store.shards + 1 > MAX_ALARM_METRICS,
                f"at most {MAX_ALARM_METRICS - 1} shards: the online-store availability alarm "
                f"has one expression per shard plus one, and an alarm holds at most "
                f"{MAX_ALARM_METRICS} expressions",
            ),
            (
                ("streaming", "brokersPerAz"),
                self.streaming.broker_count(self.network.az_count) > MAX_ALARM_METRICS,
                f"at most {MAX_ALARM_METRICS} brokers (brokersPerAz x azCount): the Kafka health "
                f"alarms read one metric per broker, and a metric-math alarm reads at most "
                f"{MAX_ALARM_METRICS}",
            ),
            (
                ("deployRunner", "connectionArn"),
                self.deploy_runner.connection_account not in (None, self.aws.account_id),
                f"the connection must be in account {self.aws.account_id}: the runner's role "
                "may only use a connection of the environment's own account",
            ),
            (
                ("alerting", "consistencyProbe", "image"),
                not self.alerting.consistency_probe.image.startswith(f"{self.aws.account_id}."),
                f"the probe image must be in account {self.aws.account_id}'s ECR: the "
                "environment runs only images its own pipeline built",
            ),
        ]
        violations = [(key, allowed) for key, broken, allowed in rules if broken]
        if violations:
            raise ConfigRuleError(*violations)
        return self

    def _prod_slo_rules(self) -> list[tuple[tuple[str, ...], bool, str]]:
        # Prod is where users feel a burn: a fast one must wake someone, a slow one must reach
        # the owner's queue before the budget is gone.
        rules: list[tuple[tuple[str, ...], bool, str]] = []
        for field_name, field in SloSettings.model_fields.items():
            objective = getattr(self.slos, field_name)
            key = ("slos", field.alias or field_name)
            rules.append(
                ((*key, "page"), not objective.page, "prod requires true: a fast burn must page")
            )
            rules.append(
                (
                    (*key, "ticket"),
                    not objective.ticket,
                    "prod requires true: a slow burn must reach the owner as a ticket",
                )
            )
        return rules

    @model_validator(mode="after")
    def _prod_rules(self) -> StackConfig:
        if not self.is_prod:
            return self
        # Each prod rule: (key path, broken?, what is allowed and why).
        rules: list[tuple[tuple[str, ...], bool, str]] = [
            (
                ("network", "azCount"),
                self.network.az_count != PROD_AZ_COUNT,
                f"prod requires {PROD_AZ_COUNT} AZs so a zone outage keeps quorum",
            ),
            (
                ("network", "natGateways"),
                self.network.nat_gateways is NatGateways.SINGLE,
                "prod requires 'per-az': a single NAT gateway is a zonal single point of failure",
            ),
            (
                ("storage", "forceDestroy"),
                self.storage.force_destroy,
                "prod requires false: destroy must never delete feature data",
            ),
            (
                ("dataStores", "multiAz"),
                not self.data_stores.multi_az,
                "prod requires true: the online store and Kafka must survive an AZ loss",
            ),
            (
                ("logging", "retentionDays"),
                self.logging.retention_days < PROD_MIN_LOG_RETENTION_DAYS,
                f"prod requires at least {PROD_MIN_LOG_RETENTION_DAYS} days",
            ),
            (
                ("network", "flowLogRetentionDays"),
                self.network.flow_log_retention_days < PROD_MIN_LOG_RETENTION_DAYS,
                f"prod requires at least {PROD_MIN_LOG_RETENTION_DAYS} days",
            ),
            (
                ("kms", "deletionWindowDays"),
                self.kms.deletion_window_days != PROD_KMS_DELETION_WINDOW_DAYS,
                f"prod requires {PROD_KMS_DELETION_WINDOW_DAYS} days",
            ),
            (
                ("aws", "allowedRegions"),
                not set(self.aws.allowed_regions) <= set(EU_REGIONS),
                f"prod may only narrow the EU allowlist: {', '.join(EU_REGIONS)}",
            ),
            (
                ("onlineStore", "clusterMode"),
                not self.online_store.cluster_mode,
                "prod requires true: the keyspace is sharded so it can grow without downtime",
            ),
            (
                ("onlineStore", "snapshotRetentionDays"),
                self.online_store.snapshot_retention_days < PROD_MIN_SNAPSHOT_RETENTION_DAYS,
                f"prod requires at least {PROD_MIN_SNAPSHOT_RETENTION_DAYS} days",
            ),
            (
                ("protection", "protectStateful"),
                not self.protection.protect_stateful,
                "prod requires true: buckets, keys and secrets must not be deleted by a stray up",
            ),
            *self._prod_slo_rules(),
        ]
        violations = [(key, allowed) for key, broken, allowed in rules if broken]
        if violations:
            raise ConfigRuleError(*violations)
        return self
