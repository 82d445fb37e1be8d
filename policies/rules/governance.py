"""Governance: tags, data classification, where and into which account the platform deploys,
and which instance families it runs on."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._base import (
    Config,
    Props,
    Severity,
    as_list,
    get,
    platform,
    provider_aware_policy,
    resource_policy,
    tags_of,
)

# --- tags ----------------------------------------------------------------------------------

TAGGABLE_TYPES = (
    # Every type this platform creates whose pulumi-aws arguments include `tags` (checked against
    # the installed SDK); a type not listed is still in scope when its properties carry `tags`.
    # Buckets, for one, send no `tags` at all: they get every tag from the provider's defaults.
    "aws:appautoscaling/target:Target",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/eip:Eip",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/instance:Instance",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/addon:Addon",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:lambda/function:Function",
    "aws:msk/cluster:Cluster",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:secretsmanager/secret:Secret",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
)
_TAGGABLE = frozenset(TAGGABLE_TYPES)

REQUIRED_TAGS = [
    "environment",
    "owner",
    "cost-center",
    "data-classification",
    "managed-by",
    "project",
]
"""Cost reports, the audit's resource filter and data-handling rules key on these."""

DATA_CLASSIFICATIONS = ["public", "internal", "confidential", "restricted"]


def _is_taggable(resource_type: str, props: Props) -> bool:
    # Provider resources (`pulumi:providers:aws`) and other clouds' types are out of scope.
    # Keys only: `in` on the analyzer's proxy reads the value, which may be unknown in preview.
    return resource_type.startswith("aws:") and (
        resource_type in _TAGGABLE or "tags" in list(props)
    )


def _own_tags(props: Props) -> dict[str, str]:
    """The resource's own tags as a map; a `tags` list of key/value blocks is read as one."""
    raw = props.get("tags")
    if isinstance(raw, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    tags: dict[str, str] = {}
    for block in as_list(raw):
        if isinstance(block, Mapping) and "key" in block:
            tags[str(block["key"])] = str(block.get("value") or "")
    return tags


def _effective_tags(props: Props, provider_props: Props | None) -> dict[str, str]:
    # `tagsAll` is not read: it is computed, so unknown in a preview. The provider's default
    # tags are what fills it.
    raw = props.get("tags")
    if raw is not None and not isinstance(raw, Mapping):
        # Tag blocks (autoscaling groups): the provider's default tags do not reach them.
        return _own_tags(props)
    return tags_of({"tags": _own_tags(props)}, provider_props)


def _missing_tags(tags: Mapping[str, str], required: Iterable[str]) -> list[str]:
    # An empty value is as useless to a cost report as an absent key.
    return [key for key in required if not str(tags.get(key, "")).strip()]


# --- hand-built resource policies (they read the resource's provider) --------------------


def _required_tags(
    resource_type: str, props: Props, provider_props: Props | None, config: Config
) -> Iterator[str]:
    if not _is_taggable(resource_type, props):
        return
    tags = _effective_tags(props, provider_props)
    for key in _missing_tags(tags, config.get("requiredTags") or REQUIRED_TAGS):
        state = "is empty" if key in tags else "is missing"
        yield (
            f"required tag `{key}` {state}: neither `tags` nor the provider's "
            "`default_tags` give it a value"
        )


def _add_default_tags(
    resource_type: str, props: Props, provider_props: Props | None, config: Config
) -> Mapping[str, Any] | None:
    """The properties with each missing tag that has a default value added to ``tags``."""
    raw_tags = props.get("tags")
    if not _is_taggable(resource_type, props) or (
        raw_tags is not None and not isinstance(raw_tags, Mapping)
    ):
        # A list of tag blocks (autoscaling groups) has per-tag options a default cannot guess.
        return None
    defaults = dict(config.get("defaultValues") or {})
    missing = _missing_tags(
        _effective_tags(props, provider_props), config.get("requiredTags") or REQUIRED_TAGS
    )
    additions = {k: str(defaults[k]) for k in missing if str(defaults.get(k) or "").strip()}
    if not additions:
        return None
    try:
        # The analyzer wraps properties in a proxy that raises on unknown values; its plain
        # dict keeps unknowns intact when the remediated properties are sent back.
        raw = props["__target"]
    except KeyError:
        raw = props
    return {**dict(raw), "tags": {**_own_tags(props), **additions}}


provider_aware_policy(
    "required-tags",
    description="Every taggable AWS resource carries the platform's required tags, from its own "
    "tags or its provider's default tags.",
    severity=Severity.MEDIUM,
    refs=(platform("TAG.1"),),
    remediation="Set the tags once on the provider: `aws.Provider(..., default_tags="
    "aws.ProviderDefaultTagsArgs(tags={...}))` (`components/provider.py::default_tags`), or "
    "per resource with `tags={...}`. With enforcement `remediate`, tags listed in the "
    "policy's `defaultValues` are added automatically; the others (owner, cost-center, …) "
    "must be set by hand.",
    types=(*TAGGABLE_TYPES, "aws:* (any other type that sends `tags`)"),
    check=_required_tags,
    remediate=_add_default_tags,
    config_schema={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": REQUIRED_TAGS,
            "description": "Tag keys every taggable resource must carry with a non-empty value.",
        },
        "defaultValues": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "default": {"managed-by": "pulumi", "project": "feature-platform"},
            "description": "Values remediation adds for missing tags; tags without one stay "
            "violations.",
        },
    },
)


def _data_classification(
    resource_type: str, props: Props, provider_props: Props | None, config: Config
) -> Iterator[str]:
    if not _is_taggable(resource_type, props):
        return
    value = _effective_tags(props, provider_props).get("data-classification")
    allowed = list(config.get("allowed") or DATA_CLASSIFICATIONS)
    # An absent tag is required-tags' finding; this policy judges the value given.
    if value is not None and value.strip() and value not in allowed:
        yield (f"tag `data-classification` is {value!r}; allowed values: {', '.join(allowed)}")


provider_aware_policy(
    "data-classification-values",
    description="The `data-classification` tag, on the resource or in the provider's default "
    "tags, names one of the platform's classification levels.",
    severity=Severity.MEDIUM,
    refs=(platform("TAG.2"),),
    remediation="Set `tags.dataClassification` in the stack config to one of public, internal, "
    "confidential, restricted (it reaches the provider's `default_tags`), or fix "
    "`tags={'data-classification': ...}` on the resource.",
    types=(*TAGGABLE_TYPES, "aws:* (any other type that sends `tags`)"),
    check=_data_classification,
    config_schema={
        "allowed": {
            "type": "array",
            "items": {"type": "string"},
            "default": DATA_CLASSIFICATIONS,
            "description": "Values the data-classification tag may take.",
        },
    },
)

# --- the AWS provider: region and account -------------------------------------------------

AWS_PROVIDER = "pulumi:providers:aws"
EU_REGIONS = [
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
]
"""Feature data about EU users stays in the EU (the stack config's default allowlist too)."""


def _region(
    resource_type: str, props: Props, provider_props: Props | None, config: Config
) -> Iterator[str]:
    allowed = list(config.get("allowedRegions") or EU_REGIONS)
    if resource_type == AWS_PROVIDER:
        region = props.get("region")
        if not region:
            yield (
                "`region` is not set: the provider would take it from the deployer's "
                "environment (AWS_REGION or the profile), so where data lands would depend on "
                "who deploys"
            )
        elif region not in allowed:
            yield f"`region` is {region!r}; allowed regions: {', '.join(allowed)}"
    elif resource_type.startswith("aws:") and "region" in list(props):
        # pulumi-aws v7 lets any resource override its provider's region.
        region = props.get("region")
        if region and region not in allowed:
            yield (
                f"`region` is {region!r}, overriding the provider's; allowed regions: "
                f"{', '.join(allowed)}"
            )


provider_aware_policy(
    "region-allowlist",
    description="Every AWS provider names its region explicitly, and neither it nor any resource "
    "overriding it deploys outside the allowed regions.",
    severity=Severity.HIGH,
    refs=(platform("REGION.1"),),
    remediation="Set `region=` on the `aws.Provider` from `aws.region` in the stack config, "
    "picking a region from `aws.allowedRegions` (EU regions only in prod); remove `region=` "
    "from resources that override it, or set it to an allowed region.",
    types=(AWS_PROVIDER, "aws:*"),
    check=_region,
    config_schema={
        "allowedRegions": {
            "type": "array",
            "items": {"type": "string"},
            "default": EU_REGIONS,
            "description": "Regions a provider, or a resource overriding its provider's "
            "region, may deploy to.",
        },
    },
)


def _account_ids(value: Any) -> list[str]:
    # The SDK sends list-typed provider configuration JSON-encoded ('["3333…"]').
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else value
        except ValueError:
            return [value]
    return [str(v) for v in as_list(value) if str(v).strip()]


def _pinned_account(props: Props, config: Config) -> Iterator[str]:
    ids = _account_ids(props.get("allowedAccountIds"))
    if not ids:
        yield (
            "`allowedAccountIds` is empty: a wrong role ARN or profile could deploy this stack "
            "into another account (dev into prod)"
        )
        return
    expected = [str(v) for v in config.get("accountIds") or []]
    for account in ids:
        if expected and account not in expected:
            yield (
                f"`allowedAccountIds` admits account {account}, which is not this "
                f"environment's ({', '.join(expected)})"
            )


resource_policy(
    "provider-pinned-account",
    description="Every AWS provider is pinned to the environment's account with "
    "`allowedAccountIds`.",
    severity=Severity.HIGH,
    refs=(platform("ACCOUNT.1"),),
    remediation="Set `allowed_account_ids=[config.aws.account_id]` on the `aws.Provider` "
    "(`components/provider.py::aws_provider`).",
    types=(AWS_PROVIDER,),
    check=_pinned_account,
    config_schema={
        "accountIds": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "The environment's account ids; when set, `allowedAccountIds` may "
            "name no other.",
        },
    },
)

# --- instance families ---------------------------------------------------------------------

INSTANCE_FAMILIES = ["m7i", "m7g", "m6i", "r7g", "r7i", "r6g", "c7g", "c7i", "t3", "t4g"]
"""Current-generation families: the profiles use m7i and r7g (EKS), m7g and t3 (MSK), r7g and
t4g (ElastiCache); the rest are their close relatives (Intel/Graviton, one generation back)."""

_SERVICE_PREFIXES = ("kafka", "express", "cache", "db")
"""MSK (`kafka.m7g.large`, Express brokers `express.m7g.large`), ElastiCache (`cache.`), RDS."""


def _family(instance_type: str) -> str | None:
    parts = instance_type.split(".")
    if parts[0] in _SERVICE_PREFIXES:
        parts = parts[1:]
    return parts[0] if len(parts) == 2 and all(parts) else None


def _instance_types(props: Props) -> Iterator[tuple[str, str]]:
    """``(property, instance type)`` of whichever of the supported types ``props`` is."""
    for i, value in enumerate(as_list(props.get("instanceTypes"))):
        yield f"instanceTypes[{i}]", str(value)
    for path in ("instanceType", "nodeType", "brokerNodeGroupInfo.instanceType"):
        value = get(props, path)
        if value:
            yield path, str(value)


def _instance_families(props: Props, config: Config) -> Iterator[str]:
    allowed = list(config.get("allowedFamilies") or INSTANCE_FAMILIES)
    for path, instance_type in _instance_types(props):
        family = _family(instance_type)
        if family is None:
            yield f"`{path}` {instance_type!r} is not an instance type of the form family.size"
        elif family not in allowed:
            yield (
                f"`{path}` {instance_type!r} is of family {family}; approved families: "
                f"{', '.join(allowed)}"
            )


resource_policy(
    "approved-instance-families",
    description="EKS nodes, launch templates, MSK brokers and ElastiCache nodes use approved "
    "current-generation instance families.",
    severity=Severity.LOW,
    refs=(platform("COMPUTE.1"),),
    remediation="Pick an approved family in the stack config: `cluster.nodeGroups.<pool>."
    "instanceTypes` (`instance_types` of `aws.eks.NodeGroup`), `streaming.brokerInstanceType` "
    "(`broker_node_group_info.instance_type`), `onlineStore.nodeType` (`node_type`); or extend "
    "the policy's `allowedFamilies` after review.",
    types=(
        "aws:eks/nodeGroup:NodeGroup",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
        "aws:msk/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/cluster:Cluster",
    ),
    check=_instance_families,
    config_schema={
        "allowedFamilies": {
            "type": "array",
            "items": {"type": "string"},
            "default": INSTANCE_FAMILIES,
            "description": "Instance families (m7i, r7g, …) nodes, brokers and caches may use.",
        },
    },
)
