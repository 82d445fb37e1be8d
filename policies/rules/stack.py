"""Stack policies: properties that hold between resources, not within one.

Resources are linked the way the engine links them: a resource's property dependencies name
the resources whose outputs fed that property (a BucketPublicAccessBlock's ``bucket`` depends on
its Bucket). Ids are compared only when no such link exists (a value written as a literal);
in an offline run, and in a preview of new resources, ids are not in the properties at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ._base import (
    Config,
    PolicyResource,
    Severity,
    as_list,
    as_map,
    cis,
    fsbp,
    get,
    platform,
    stack_policy,
    tags_of,
)
from .data_protection import PUBLIC_ACCESS_FLAGS
from .kubernetes import RESERVED_NAMESPACES

Finding = tuple[str, str | None]

# --- linking ---------------------------------------------------------------------------------


def _of_type(resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    wanted = set(types)
    return [r for r in resources if r.resource_type in wanted]


def _identities(resource: PolicyResource) -> set[str]:
    """Values other resources may hold to name this one (outputs present after deployment)."""
    keys = ("id", "arn", "bucket", "name")
    return {str(resource.props[k]) for k in keys if k in list(resource.props) and resource.props[k]}


def _linked(
    resource: PolicyResource,
    key: str,
    candidates: Sequence[PolicyResource],
    value_path: str | None = None,
) -> list[PolicyResource]:
    """The ``candidates`` that ``resource``'s property ``key`` depends on; by value (the
    property at ``value_path``, default ``key``, against their ids) only without such a link."""
    urns = {c.urn for c in candidates}
    linked = [d for d in resource.property_dependencies.get(key) or [] if d.urn in urns]
    if linked:
        return _unique(linked)
    values = {str(v) for v in as_list(get(resource.props, value_path or key)) if v}
    if not values:
        return []
    return [c for c in candidates if _identities(c) & values]


def _unique(resources: Iterable[PolicyResource]) -> list[PolicyResource]:
    seen: dict[str, PolicyResource] = {}
    for r in resources:
        seen.setdefault(r.urn, r)
    return list(seen.values())


def _logical_name(resource: PolicyResource) -> str:
    """The name the program gave the resource: the URN's last segment (``name`` is that in the
    engine, but whatever a caller chose elsewhere)."""
    return resource.urn.rsplit("::", 1)[-1]


def _label(resource: PolicyResource) -> str:
    return f"{resource.resource_type.rsplit(':', 1)[-1]} {_logical_name(resource)}"


# --- S3 ---------------------------------------------------------------------------------------

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK_TYPES = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
SSE_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
LOGGING_TYPES = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
ACCESS_LOG_BUCKET = "feature-platform-storage-access-logs-bucket"
"""The platform's server access log target (`Storage`), SSE-S3 by docs/adr/0002."""


def _log_targets(
    resources: Sequence[PolicyResource], buckets: Sequence[PolicyResource]
) -> set[str]:
    """URNs of the buckets that receive S3 server access logs."""
    targets: set[str] = set()
    for logging in _of_type(resources, LOGGING_TYPES):
        targets |= {b.urn for b in _linked(logging, "targetBucket", buckets)}
    for bucket in buckets:  # the deprecated inline `logging` block of a source bucket
        targets |= {b.urn for b in _linked(bucket, "logging", buckets, "logging.targetBucket")}
    return targets


def _algorithms(sse: PolicyResource) -> list[str]:
    return [
        str(get(as_map(rule), "applyServerSideEncryptionByDefault.sseAlgorithm") or "")
        for rule in as_list(sse.props.get("rules"))
    ]


def _buckets_protected(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    buckets = _of_type(resources, BUCKET_TYPES)
    blocks = _of_type(resources, PUBLIC_ACCESS_BLOCK_TYPES)
    encryptions = _of_type(resources, SSE_TYPES)
    log_targets = _log_targets(resources, buckets)
    sse_s3_names = set(config.get("sseS3Buckets") or [])
    for bucket in buckets:
        own_blocks = [b for b in blocks if _linked(b, "bucket", [bucket])]
        if not own_blocks:
            yield "no BucketPublicAccessBlock's `bucket` depends on this bucket", bucket.urn
        for block in own_blocks:
            for flag in PUBLIC_ACCESS_FLAGS:
                if block.props.get(flag) is not True:
                    yield f"{_label(block)}: `{flag}` is not true", bucket.urn
        own_sse = [s for s in encryptions if _linked(s, "bucket", [bucket])]
        if not own_sse:
            yield (
                "no BucketServerSideEncryptionConfiguration's `bucket` depends on this bucket",
                bucket.urn,
            )
        # Server access logs cannot be delivered to an SSE-KMS bucket (S3 User Guide), so the
        # log target may use SSE-S3. ADR 0002 grants this to that one bucket by name: it must
        # be both named in `sseS3Buckets` and a log target.
        named = _logical_name(bucket) in sse_s3_names
        exempt = bucket.urn in log_targets and named
        accepted = (*KMS_ALGORITHMS, "AES256") if exempt else KMS_ALGORITHMS
        for sse in own_sse:
            algorithms = _algorithms(sse)
            if not algorithms:
                yield f"{_label(sse)}: `rules` is empty, so no default encryption", bucket.urn
            elif not any(a in accepted for a in algorithms):
                found = ", ".join(a or "not set" for a in algorithms)
                why = ""
                if bucket.urn in log_targets:
                    why = " (a log target, but not named in `sseS3Buckets`: docs/adr/0002)"
                elif named:
                    why = " (named in `sseS3Buckets`, but no logging configuration targets it)"
                yield (
                    f"{_label(sse)}: `rules[].applyServerSideEncryptionByDefault.sseAlgorithm` "
                    f"is {found}; expected {' or '.join(accepted)}{why}",
                    bucket.urn,
                )


stack_policy(
    "s3-buckets-fully-protected",
    description="Every S3 bucket has a full public access block and default encryption with a "
    "KMS key (SSE-S3 only on a server access log target).",
    severity=Severity.HIGH,
    refs=(fsbp("S3.8"), platform("S3.1")),
    remediation="Build buckets with `SecureBucket` (`components/bucket.py`), or give each "
    "`aws.s3.Bucket` an `aws.s3.BucketPublicAccessBlock(bucket=bucket.id, "
    "block_public_acls=True, block_public_policy=True, ignore_public_acls=True, "
    "restrict_public_buckets=True)` and an `aws.s3.BucketServerSideEncryptionConfiguration("
    "bucket=bucket.id, rules=[...apply_server_side_encryption_by_default=...(sse_algorithm="
    "'aws:kms', kms_master_key_id=key.arn)])`.",
    check=_buckets_protected,
    config_schema={
        "sseS3Buckets": {
            "type": "array",
            "items": {"type": "string"},
            "default": [ACCESS_LOG_BUCKET],
            "description": "Pulumi names of the buckets that may use SSE-S3 because they "
            "receive server access logs (docs/adr/0002); each must also be a logging target.",
        },
    },
)

# --- VPC flow logs ------------------------------------------------------------------------------


def _flow_logs(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    allowed = list(config.get("trafficTypes") or ["ALL"])
    flow_logs = _of_type(resources, ("aws:ec2/flowLog:FlowLog",))
    for vpc in _of_type(resources, ("aws:ec2/vpc:Vpc",)):
        own = [f for f in flow_logs if _linked(f, "vpcId", [vpc])]
        if not own:
            yield "no FlowLog's `vpcId` depends on this VPC", vpc.urn
        elif not any(f.props.get("trafficType") in allowed for f in own):
            found = ", ".join(str(f.props.get("trafficType") or "not set") for f in own)
            yield (
                f"flow logs record `trafficType` {found}; expected {' or '.join(allowed)}",
                vpc.urn,
            )


stack_policy(
    "vpc-flow-logs-enabled",
    description="Every VPC has a flow log recording all traffic.",
    severity=Severity.MEDIUM,
    refs=(fsbp("EC2.6"), cis("3.7")),
    remediation="Add `aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL', "
    "log_destination_type='cloud-watch-logs', ...)` for the VPC (`components/network.py` "
    "does).",
    check=_flow_logs,
    config_schema={
        "trafficTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["ALL"],
            "description": "Accepted `trafficType` values; CIS 3.7 asks for REJECT at least, "
            "the platform's audit (EC2.FLOW_LOGS) for ALL.",
        },
    },
)

# --- Kubernetes namespaces ---------------------------------------------------------------------

K8S_NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _denied_directions(policy: PolicyResource) -> set[str]:
    """The directions (Ingress, Egress) this NetworkPolicy denies for every pod."""
    spec = as_map(policy.props.get("spec"))
    selector = as_map(spec.get("podSelector"))
    if as_map(selector.get("matchLabels")) or as_list(selector.get("matchExpressions")):
        return set()  # selects some pods only
    rules = {"Ingress": as_list(spec.get("ingress")), "Egress": as_list(spec.get("egress"))}
    # Without policyTypes the API assumes Ingress, plus Egress when egress rules exist.
    types = as_list(spec.get("policyTypes")) or ["Ingress"] + (
        ["Egress"] if rules["Egress"] else []
    )
    return {t for t in ("Ingress", "Egress") if t in types and not rules[t]}


class _NetworkPolicyFacts:
    """What ``_default_deny`` asks of one NetworkPolicy, each read once, when first asked.

    The check pairs every namespace with every policy (about 200 by 1 200 at 200 feature
    teams); reading the properties anew for each pair was most of its time. Reading each the
    first time the pairwise walk needs it keeps the order of reads, so an unknown value during
    preview stops the check where it always did.
    """

    def __init__(self, policy: PolicyResource) -> None:
        self.policy = policy
        self.linked = {d.urn for d in policy.property_dependencies.get("metadata") or []}
        self._values: set[str] | None = None
        self._namespace: Any = _UNREAD
        self._denied: set[str] | None = None

    def values(self) -> set[str]:
        """``metadata`` as ``_linked`` compares it with ids, where no dependency links it."""
        if self._values is None:
            self._values = {str(v) for v in as_list(get(self.policy.props, "metadata")) if v}
        return self._values

    def namespace(self) -> Any:
        if self._namespace is _UNREAD:
            self._namespace = as_map(self.policy.props.get("metadata")).get("namespace")
        return self._namespace

    def denied(self) -> set[str]:
        if self._denied is None:
            self._denied = _denied_directions(self.policy)
        return self._denied


_UNREAD = object()


def _default_deny(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    exempt = config.get("exemptNamespaces") or RESERVED_NAMESPACES
    policies = [_NetworkPolicyFacts(p) for p in _of_type(resources, (NETWORK_POLICY,))]
    for namespace in _of_type(resources, (K8S_NAMESPACE,)):
        name = as_map(namespace.props.get("metadata")).get("name")
        if name in exempt:
            continue
        identities: set[str] | None = None
        denied: set[str] = set()
        for facts in policies:
            # As `_linked(policy, "metadata", [namespace])`: the dependency, else the value.
            in_namespace = namespace.urn in facts.linked
            if not in_namespace and facts.values():
                if identities is None:
                    identities = _identities(namespace)
                in_namespace = bool(identities & facts.values())
            if not in_namespace:
                in_namespace = name is not None and facts.namespace() == name
            if in_namespace:
                denied |= facts.denied()
        for direction in ("Ingress", "Egress"):
            if direction not in denied:
                yield (
                    f"no NetworkPolicy in this namespace denies all {direction} (empty "
                    f"`podSelector`, {direction} in `policyTypes`, no "
                    f"`{direction.lower()}` rules)",
                    namespace.urn,
                )


stack_policy(
    "k8s-namespace-default-deny",
    description="Every Kubernetes namespace has a default-deny NetworkPolicy for ingress and "
    "egress.",
    severity=Severity.HIGH,
    refs=(platform("K8S.6"),),
    remediation="Add `kubernetes.networking.v1.NetworkPolicy(metadata={'namespace': "
    "ns.metadata.name}, spec=NetworkPolicySpecArgs(pod_selector={}, policy_types=['Ingress', "
    "'Egress']))` to the namespace, then allow what each workload needs in further policies "
    "(`components/kubernetes_baseline.py` does).",
    check=_default_deny,
    config_schema={
        "exemptNamespaces": {
            "type": "array",
            "items": {"type": "string"},
            "default": RESERVED_NAMESPACES,
            "description": "Namespaces (by metadata.name) the check skips: EKS system ones.",
        },
    },
)

# --- data stores ---------------------------------------------------------------------------------

MSK_CLUSTER = "aws:msk/cluster:Cluster"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"

_SG_FIELDS = {
    # type: (property-dependency key, path of the ids)
    MSK_CLUSTER: ("brokerNodeGroupInfo", "brokerNodeGroupInfo.securityGroups"),
    REPLICATION_GROUP: ("securityGroupIds", "securityGroupIds"),
}


def _unverifiable(listed: Iterable[Any], linked: Sequence[PolicyResource]) -> int:
    """How many of the ``listed`` ids no resource of this stack accounts for."""
    return max(0, len({str(v) for v in listed if v}) - len(linked))


def _store_groups(
    store: PolicyResource, groups: Sequence[PolicyResource]
) -> tuple[list[PolicyResource], list[Finding]]:
    key, path = _SG_FIELDS[store.resource_type]
    listed = as_list(get(store.props, path))
    linked = _linked(store, key, groups, path)
    findings: list[Finding] = []
    if not listed:
        findings.append(
            (f"`{path}` is empty: the VPC's default security group would apply", store.urn)
        )
    elif missing := _unverifiable(listed, linked):
        findings.append(
            (
                f"`{path}`: {missing} security group(s) are not managed in this stack, so "
                "their ingress cannot be checked",
                store.urn,
            )
        )
    return linked, findings


def _cidr_sources(props: Mapping[str, Any], fields: Iterable[str]) -> list[str]:
    return [f"`{f}`" for f in fields if as_list(props.get(f))]


def _rule_findings(
    resources: Sequence[PolicyResource], group: PolicyResource, store: PolicyResource
) -> Iterator[Finding]:
    where = f"ingress to {_label(group)} (used by {_label(store)})"
    for rule in _of_type(resources, (INGRESS_RULE,)):
        if not _linked(rule, "securityGroupId", [group]):
            continue
        sources = _cidr_sources(rule.props, ("cidrIpv4", "cidrIpv6", "prefixListId"))
        if sources or not rule.props.get("referencedSecurityGroupId"):
            shown = ", ".join(sources) or "no `referencedSecurityGroupId`"
            yield f"{where} admits {shown}; only security groups may be sources", rule.urn
    for rule in _of_type(resources, (LEGACY_RULE,)):
        if rule.props.get("type") != "ingress" or not _linked(rule, "securityGroupId", [group]):
            continue
        sources = _cidr_sources(rule.props, ("cidrBlocks", "ipv6CidrBlocks", "prefixListIds"))
        if sources or not (rule.props.get("sourceSecurityGroupId") or rule.props.get("self")):
            shown = ", ".join(sources) or "no `sourceSecurityGroupId`"
            yield f"{where} admits {shown}; only security groups may be sources", rule.urn
    for i, item in enumerate(as_list(group.props.get("ingress"))):
        block = as_map(item)
        sources = _cidr_sources(block, ("cidrBlocks", "ipv6CidrBlocks", "prefixListIds"))
        if sources or not (as_list(block.get("securityGroups")) or block.get("self")):
            shown = ", ".join(sources) or "no `securityGroups`"
            yield f"{where}: inline `ingress[{i}]` admits {shown}", group.urn


def _platform_sg_only(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    groups = _of_type(resources, (SECURITY_GROUP,))
    for store in _of_type(resources, tuple(_SG_FIELDS)):
        linked, findings = _store_groups(store, groups)
        yield from findings
        for group in linked:
            yield from _rule_findings(resources, group, store)


stack_policy(
    "data-stores-platform-sg-only",
    description="Kafka and the online store admit traffic only from security groups, never "
    "from CIDR ranges or prefix lists.",
    severity=Severity.HIGH,
    refs=(platform("DATA.1"),),
    remediation="Write data-store ingress as `aws.vpc.SecurityGroupIngressRule("
    "security_group_id=store_sg.id, referenced_security_group_id=node_sg.id, ...)` "
    "(the platform's node security group is the client identity); drop `cidr_ipv4`, "
    "`cidr_ipv6` and `prefix_list_id` rules; keep every group of `security_groups` / "
    "`security_group_ids` in the stack.",
    check=_platform_sg_only,
)


def _is_data_subnet(subnet: PolicyResource, key: str, value: str) -> bool:
    provider = subnet.provider.props if subnet.provider is not None else None
    return tags_of(subnet.props, provider).get(key) == value


def _subnet_findings(
    owner: PolicyResource,
    path: str,
    key: str,
    subnets: Sequence[PolicyResource],
    config: Config,
) -> Iterator[Finding]:
    tag, value = (
        str(config.get("dataTierTag") or "tier"),
        str(config.get("dataTierValue") or "data"),
    )
    listed = as_list(get(owner.props, path))
    linked = _linked(owner, key, subnets, path)
    if not listed:
        yield f"`{path}` is empty", owner.urn
    elif missing := _unverifiable(listed, linked):
        yield (
            f"`{path}`: {missing} subnet(s) are not managed in this stack, so their tier cannot "
            "be checked",
            owner.urn,
        )
    for subnet in linked:
        if not _is_data_subnet(subnet, tag, value):
            yield f"`{path}` includes {_label(subnet)}, not tagged {tag}={value}", owner.urn


def _data_subnets(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    subnets = _of_type(resources, (SUBNET,))
    subnet_groups = _of_type(resources, (CACHE_SUBNET_GROUP,))
    for cluster in _of_type(resources, (MSK_CLUSTER,)):
        path = "brokerNodeGroupInfo.clientSubnets"
        yield from _subnet_findings(cluster, path, "brokerNodeGroupInfo", subnets, config)
    for group in _of_type(resources, (REPLICATION_GROUP,)):
        if not group.props.get("subnetGroupName"):
            yield "`subnetGroupName` is not set: the default subnet group would apply", group.urn
        elif not _linked(group, "subnetGroupName", subnet_groups):
            yield (
                "`subnetGroupName` names a subnet group not managed in this stack, so its "
                "subnets cannot be checked",
                group.urn,
            )
    for subnet_group in subnet_groups:
        yield from _subnet_findings(subnet_group, "subnetIds", "subnetIds", subnets, config)


stack_policy(
    "data-stores-in-data-subnets",
    description="Kafka brokers and online-store nodes live only in the data-tier subnets.",
    severity=Severity.HIGH,
    refs=(platform("DATA.2"),),
    remediation="Pass the network's data subnets (`Network.data_subnet_ids`, tagged tier=data, "
    "no internet route) as `broker_node_group_info.client_subnets` of the `aws.msk.Cluster` and "
    "as `subnet_ids` of the `aws.elasticache.SubnetGroup`, and set the replication group's "
    "`subnet_group_name` to that group.",
    check=_data_subnets,
    config_schema={
        "dataTierTag": {
            "type": "string",
            "default": "tier",
            "description": "Tag key that names a subnet's tier.",
        },
        "dataTierValue": {
            "type": "string",
            "default": "data",
            "description": "Value of that tag on data-tier subnets.",
        },
    },
)

# --- protection ----------------------------------------------------------------------------------

STATEFUL_TYPES = [
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    "aws:eks/cluster:Cluster",
    "aws:msk/cluster:Cluster",
    "aws:msk/topic:Topic",
    "aws:elasticache/replicationGroup:ReplicationGroup",
]
"""Resources whose deletion loses data or locks it away (a deleted key makes everything it
encrypted unreadable)."""


def _protected(resources: Sequence[PolicyResource], config: Config) -> Iterator[Finding]:
    if not config.get("requireProtection"):
        return
    stateful = set(config.get("statefulTypes") or STATEFUL_TYPES)
    for resource in resources:
        if resource.resource_type in stateful and not resource.opts.protect:
            yield (
                "the `protect` resource option is off: a stray `pulumi up` or `destroy` could "
                "delete it",
                resource.urn,
            )


stack_policy(
    "stateful-resources-protected",
    description="Where the environment requires it, resources that hold data are protected "
    "from deletion by Pulumi.",
    severity=Severity.HIGH,
    refs=(platform("PROTECT.1"),),
    remediation="Create stateful resources with `components/options.py::stateful` (it sets "
    "`protect=True` and `retain_on_delete=True` when `protection.protectStateful` is true), or "
    "pass `opts=pulumi.ResourceOptions(protect=True)`.",
    check=_protected,
    config_schema={
        "requireProtection": {
            "type": "boolean",
            "default": False,
            "description": "Whether stateful resources must be protected (true in prod).",
        },
        "statefulTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": STATEFUL_TYPES,
            "description": "Resource types that hold data.",
        },
    },
)
