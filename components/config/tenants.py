"""Feature teams (tenants): one small file each, ``tenants/<name>.yaml``, validated like a stack.

A tenant declares who owns it, where it runs, its feature sets (topics, an offline-store prefix,
an online key prefix), its compute quotas and its workloads with what each reads or writes.
The platform derives every name from the tenant's (``<tenant>.<topic>``, ``<tenant>/<prefix>/``,
``<tenant>:<prefix>:``), so two tenants can never name the same thing; the loader also refuses
names the platform's own resources use. Defaults (quotas) come from the environment's profile.

An invalid file stops the program before any resource is registered, naming the file, the key
path and what is allowed, as the stack config does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, model_validator

from components.config.base import ROLE_ARN_PATTERN, ConfigModel, ConfigRuleError
from components.config.compute import QUANTITY_PATTERN, NamespaceQuota
from components.config.models import DataClassification, Environment

TENANTS_DIR = "tenants"
TENANT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$"
"""A DNS label of 2 to 20 characters: it names the namespace, prefixes topics, groups, object
keys and cache keys, and fits IAM's 64-character role names with room for the workload."""
LOCAL_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,28}[a-z0-9]$"
"""Feature sets, topics (before the tenant prefix), workloads and service accounts: 2 to 30
characters. A workload's role is auto-named ``<tenant>.<workload>-role-<7 hex>``, which IAM
caps at 64 characters: 20 + 1 + 30 + 13 fits."""
PREFIX_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""One path segment of the offline store, one segment of the online keys: no ``/``, ``:``,
``*`` or ``?``, so a prefix can never widen an IAM resource or a cache key pattern."""

RESERVED_TENANT_NAMES = frozenset(
    {
        # The platform's own namespaces and Kubernetes' (components/platform.py WORKLOADS).
        "feature-serving",
        "materialization",
        "ingestion",
        "monitoring",
        "default",
        "platform",
        "feature-platform",
        "registry",
        "aws",
        "amazon",
    }
)
"""Names a tenant cannot take: they are, or could be mistaken for, the platform's."""
RESERVED_PREFIXES = ("kube-", "aws-", "eks-", "feature-platform")
REVIEW_LIKE = re.compile(r"^pr[0-9]")
"""``pr1-search`` would name its budget as review stack pr-1's ``search`` does."""
TAG_VALUE_PATTERN = r"^[\w .:/=+\-@]+$"
"""What IAM, EKS and Budgets accept in a tag value (letters, digits, spaces, ``_.:/=+-@``):
the owner and cost center become tags on every resource of the team."""
MAX_FEATURE_SETS = 16
MAX_TOPICS_PER_FEATURE_SET = 8
"""A workload's role policy is inline, and IAM allows 10,240 characters of inline policy per
role: 16 feature sets of 8 topics at the longest names stay below it."""

CLASSIFICATION_ORDER = tuple(DataClassification)
"""Least to most sensitive: a tenant may not hold data above the platform's classification."""


class TenantTopic(ConfigModel):
    """One topic of a feature set; its Kafka name is ``<tenant>.<topic>``."""

    partitions: int = Field(default=3, ge=1, le=100, description="Partition count.")
    retention_hours: int = Field(default=72, ge=1, le=8760, description="Hours records are kept.")


class FeatureSet(ConfigModel):
    """Features a tenant owns: their events, offline files and online keys."""

    topics: dict[Annotated[str, Field(pattern=LOCAL_NAME_PATTERN)], TenantTopic] = Field(
        default_factory=dict,
        max_length=MAX_TOPICS_PER_FEATURE_SET,
        description="Topics by name (Kafka name `<tenant>.<topic>`).",
    )
    offline_prefix: str | None = Field(
        default=None,
        pattern=PREFIX_PATTERN,
        description="Offline-store prefix under the tenant's (`s3://<bucket>/<tenant>/<this>/`); "
        "default: the feature set's name.",
    )
    online_key_prefix: str | None = Field(
        default=None,
        pattern=PREFIX_PATTERN,
        description="Online-store key prefix under the tenant's (`<tenant>:<this>:`); default: "
        "the feature set's name.",
    )


class TenantQuotas(ConfigModel):
    """The tenant namespace's ResourceQuota; unset keys come from the environment's profile."""

    requests_cpu: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    requests_memory: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    limits_cpu: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    limits_memory: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    pods: int | None = Field(default=None, ge=1, le=5000)

    def over(self, defaults: NamespaceQuota) -> NamespaceQuota:
        return defaults.model_copy(
            update={k: v for k, v in self.model_dump().items() if v is not None}
        )


class TenantWorkload(ConfigModel):
    """One workload: its service account and which of the tenant's feature sets it uses."""

    service_account: str | None = Field(
        default=None,
        pattern=LOCAL_NAME_PATTERN,
        description="Kubernetes service account; default: the workload's name.",
    )
    reads: tuple[Annotated[str, Field(pattern=LOCAL_NAME_PATTERN)], ...] = Field(
        default=(), description="Feature sets it reads: topics, offline prefix, online keys."
    )
    writes: tuple[Annotated[str, Field(pattern=LOCAL_NAME_PATTERN)], ...] = Field(
        default=(), description="Feature sets it writes: topics, offline prefix, online keys."
    )


class TenantBudget(ConfigModel):
    """An AWS Budget on the monthly cost of everything tagged with the team."""

    monthly_usd: int = Field(ge=1, le=1_000_000, description="Monthly limit in USD.")
    notify: tuple[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")], ...] = Field(
        min_length=1,
        max_length=10,
        description="Email addresses told at 80 % of the forecast and 100 % of the actual cost.",
    )


class TenantFile(ConfigModel):
    """``tenants/<name>.yaml``."""

    owner: str = Field(
        min_length=1,
        max_length=64,
        pattern=TAG_VALUE_PATTERN,
        description="Owning team (tag `tenant-owner`).",
    )
    cost_center: str = Field(
        min_length=1,
        max_length=64,
        pattern=TAG_VALUE_PATTERN,
        description="Cost center billed (tag `tenant-cost-center`).",
    )
    data_classification: DataClassification = Field(
        description="Highest classification of the tenant's data; at most the platform's."
    )
    environments: tuple[Environment, ...] = Field(
        min_length=1, description="Environments the tenant is enabled in."
    )
    feature_sets: dict[Annotated[str, Field(pattern=LOCAL_NAME_PATTERN)], FeatureSet] = Field(
        min_length=1, max_length=MAX_FEATURE_SETS, description="Feature sets by name."
    )
    quotas: TenantQuotas = Field(
        default_factory=TenantQuotas, description="Namespace quota overrides."
    )
    workloads: dict[Annotated[str, Field(pattern=LOCAL_NAME_PATTERN)], TenantWorkload] = Field(
        min_length=1, description="Workloads by name."
    )
    cluster_access: dict[
        Environment, tuple[Annotated[str, Field(pattern=ROLE_ARN_PATTERN)], ...]
    ] = Field(
        default_factory=dict,
        description="Per environment, IAM roles of the team (its CI, its people's SSO roles) "
        "that may deploy workloads into its namespace, and nothing else in the cluster.",
    )
    budget: TenantBudget | None = Field(
        default=None,
        description="An AWS Budget on the team's tagged cost (the `tenant` tag must be an "
        "active cost allocation tag of the organisation).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TenantFile:
        violations: list[tuple[tuple[str, ...], str]] = []
        known = ", ".join(sorted(self.feature_sets))
        accounts: dict[str, str] = {}
        for name, workload in self.workloads.items():
            if not workload.reads and not workload.writes:
                violations.append((("workloads", name), "reads or writes at least one feature set"))
            for key, sets in (("reads", workload.reads), ("writes", workload.writes)):
                for index, wanted in enumerate(sets):
                    if wanted not in self.feature_sets:
                        violations.append(
                            (
                                ("workloads", name, key, str(index)),
                                f"{wanted!r} is not a feature set of this tenant; allowed: {known}",
                            )
                        )
            account = workload.service_account or name
            if account in accounts:
                violations.append(
                    (
                        ("workloads", name, "serviceAccount"),
                        f"{account!r} is already the service account of {accounts[account]!r}",
                    )
                )
            accounts[account] = name
        for kind, attribute in (
            ("offlinePrefix", "offline_prefix"),
            ("onlineKeyPrefix", "online_key_prefix"),
        ):
            seen: dict[str, str] = {}
            for name, feature_set in self.feature_sets.items():
                prefix = getattr(feature_set, attribute) or name
                if prefix in seen:
                    violations.append(
                        (
                            ("featureSets", name, kind),
                            f"{prefix!r} is also the {kind} of {seen[prefix]!r}; each feature "
                            "set needs its own",
                        )
                    )
                seen[prefix] = name
        topics: dict[str, str] = {}
        for name, feature_set in self.feature_sets.items():
            for topic in feature_set.topics:
                if topic in topics:
                    violations.append(
                        (
                            ("featureSets", name, "topics", topic),
                            f"topic {topic!r} is also in feature set {topics[topic]!r}",
                        )
                    )
                topics[topic] = name
        if violations:
            raise ConfigRuleError(*violations)
        return self


# --- what the program builds from a file -------------------------------------------------------


@dataclass(frozen=True)
class TenantFeatureSet:
    name: str
    topics: Mapping[str, TenantTopic]
    """By Kafka name (``<tenant>.<topic>``)."""
    offline_prefix: str
    """``<tenant>/<prefix>/``: the key prefix in the offline-store bucket."""
    online_key_prefix: str
    """``<tenant>:<prefix>:``: the prefix of the online-store keys."""


@dataclass(frozen=True)
class TenantWorkloadSpec:
    name: str
    service_account: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]


@dataclass(frozen=True)
class TenantSpec:
    """One tenant, resolved for one environment (names derived, quota defaults applied)."""

    name: str
    source: str
    owner: str
    cost_center: str
    data_classification: DataClassification
    feature_sets: Mapping[str, TenantFeatureSet]
    quota: NamespaceQuota
    workloads: Mapping[str, TenantWorkloadSpec]
    budget: TenantBudget | None = None
    cluster_access: tuple[str, ...] = ()
    """The roles that may deploy into the namespace in this environment."""

    @property
    def deployer_group(self) -> str:
        """The Kubernetes group its access entries map to; its namespace's RoleBinding names it."""
        return f"feature-team:{self.name}:deployers"

    @property
    def namespace(self) -> str:
        return self.name

    @property
    def topics(self) -> dict[str, TenantTopic]:
        return {t: s for fs in self.feature_sets.values() for t, s in fs.topics.items()}

    @property
    def group_prefix(self) -> str:
        """Kafka consumer groups the tenant may use: ``<tenant>.*``."""
        return f"{self.name}."

    def tags(self) -> dict[str, str]:
        """On everything the tenant owns: cost allocation and the governance policies."""
        return {
            "tenant": self.name,
            "tenant-owner": self.owner,
            "tenant-cost-center": self.cost_center,
            "tenant-data-classification": self.data_classification.value,
        }


class TenantError(Exception):
    """Invalid tenant files; ``problems`` are ``(file, key path, message)``."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {file}: {key}: {message}" for file, key, message in problems)
        super().__init__(f"invalid tenant configuration:\n{lines}")


def _key_path(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc if part != "[key]") or "(top level)"


def parse_tenant(name: str, raw: Any, *, source: str) -> TenantFile:
    """Validate one file's content; :class:`TenantError` names the file and each key."""
    problems: list[tuple[str, str, str]] = []
    if not re.fullmatch(TENANT_NAME_PATTERN, name):
        problems.append(
            (
                source,
                "(file name)",
                f"{name!r} is not a tenant name; allowed: 2-20 characters, lower-case "
                "letters, digits and '-', starting with a letter",
            )
        )
    elif name in RESERVED_TENANT_NAMES or name.startswith(RESERVED_PREFIXES):
        problems.append((source, "(file name)", f"{name!r} is reserved for the platform"))
    elif REVIEW_LIKE.match(name):
        problems.append(
            (source, "(file name)", f"{name!r}: names starting pr<digit> are review stacks'")
        )
    if not isinstance(raw, Mapping):
        problems.append((source, "(top level)", "a tenant file is a mapping of keys"))
        raise TenantError(problems)
    try:
        parsed = TenantFile.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error["loc"]
            rule = (error.get("ctx") or {}).get("error")
            if isinstance(rule, ConfigRuleError):
                for path, message in rule.violations:
                    problems.append((source, _key_path((*loc, *path)), message))
            else:
                problems.append((source, _key_path(loc), error["msg"]))
    if problems:
        raise TenantError(problems)
    return parsed


def resolve(
    name: str,
    tenant: TenantFile,
    *,
    source: str,
    quota_defaults: NamespaceQuota,
    environment: Environment = Environment.DEV,
) -> TenantSpec:
    feature_sets = {
        fs_name: TenantFeatureSet(
            name=fs_name,
            topics={f"{name}.{topic}": spec for topic, spec in fs.topics.items()},
            offline_prefix=f"{name}/{fs.offline_prefix or fs_name}/",
            online_key_prefix=f"{name}:{fs.online_key_prefix or fs_name}:",
        )
        for fs_name, fs in tenant.feature_sets.items()
    }
    workloads = {
        w_name: TenantWorkloadSpec(
            name=w_name,
            service_account=w.service_account or w_name,
            reads=tuple(dict.fromkeys(w.reads)),
            writes=tuple(dict.fromkeys(w.writes)),
        )
        for w_name, w in tenant.workloads.items()
    }
    return TenantSpec(
        name=name,
        source=source,
        owner=tenant.owner,
        cost_center=tenant.cost_center,
        data_classification=tenant.data_classification,
        feature_sets=feature_sets,
        quota=tenant.quotas.over(quota_defaults),
        workloads=workloads,
        budget=tenant.budget,
        cluster_access=tenant.cluster_access.get(environment, ()),
    )


def load_tenants(
    directory: Path,
    *,
    environment: Environment,
    platform_classification: DataClassification,
    quota_defaults: NamespaceQuota,
    platform_topics: Iterable[str] = (),
    account_id: str | None = None,
    platform_principals: Iterable[str] = (),
) -> tuple[TenantSpec, ...]:
    """Every tenant enabled in ``environment``, sorted by name; all problems at once."""
    problems: list[tuple[str, str, str]] = []
    tenants: list[TenantSpec] = []
    ceiling = CLASSIFICATION_ORDER.index(platform_classification)
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        source = f"{directory.name}/{path.name}"
        try:
            raw = yaml.safe_load(path.read_text())
            parsed = parse_tenant(path.stem, raw, source=source)
        except yaml.YAMLError as exc:
            problems.append((source, "(file)", f"not valid YAML: {exc}"))
            continue
        except UnicodeDecodeError:
            problems.append((source, "(file)", "not UTF-8 text"))
            continue
        except TenantError as exc:
            problems += exc.problems
            continue
        if CLASSIFICATION_ORDER.index(parsed.data_classification) > ceiling:
            problems.append(
                (
                    source,
                    "dataClassification",
                    f"{parsed.data_classification.value!r} is above the platform's "
                    f"{platform_classification.value!r}; allowed: "
                    + ", ".join(c.value for c in CLASSIFICATION_ORDER[: ceiling + 1]),
                )
            )
            continue
        access = parsed.cluster_access.get(environment, ())
        foreign = [a for a in access if account_id is not None and a.split(":")[4] != account_id]
        if foreign:
            problems.append(
                (
                    source,
                    f"clusterAccess.{environment.value}",
                    f"{foreign} are not roles of the {environment.value} account {account_id}; "
                    "access entries map roles of the environment's own account",
                )
            )
            continue
        if environment in parsed.environments:
            tenants.append(
                resolve(
                    path.stem,
                    parsed,
                    source=source,
                    quota_defaults=quota_defaults,
                    environment=environment,
                )
            )
    # EKS holds one access entry per principal: a role the platform maps already, or one two
    # teams name, would fail the deploy half-way.
    owner: dict[str, str] = dict.fromkeys(platform_principals, "the platform")
    for tenant in tenants:
        for principal in tenant.cluster_access:
            if principal in owner:
                problems.append(
                    (
                        tenant.source,
                        "clusterAccess",
                        f"{principal} already has cluster access through {owner[principal]}; "
                        "a role maps to one access entry",
                    )
                )
            owner.setdefault(principal, f"team {tenant.name!r}")
    reserved_topics = set(platform_topics)
    for tenant in tenants:
        for topic in tenant.topics:
            if topic in reserved_topics:
                problems.append(
                    (tenant.source, "featureSets", f"topic {topic!r} is a platform topic")
                )
    if problems:
        raise TenantError(problems)
    return tuple(tenants)
