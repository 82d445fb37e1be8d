"""A feature team's AWS resources: its topics and one Pod Identity role per workload.

Every grant is derived from the tenant's names, never written by hand: objects under
``s3://<offline store>/<tenant>/<prefix>/`` (listing only with an ``s3:prefix`` condition on
those prefixes), the topics ``<tenant>.<topic>`` it declared, consumer groups ``<tenant>.*``,
the data key for the objects it reads or writes, and ``elasticache:Connect`` as its own
online-store user (created by the online store, which lists every user in its user group).
The namespace, its network policies, quota and service accounts come from the Kubernetes
baseline (``components/platform.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import iam_documents as iam
from components.config.tenants import TenantFeatureSet, TenantSpec
from components.identity import WorkloadIdentity, WorkloadIdentityArgs
from components.options import stateful

MS_PER_HOUR = 3_600_000
ROLE_PATH = "/feature-platform/tenants/"
"""Every feature team's role lives under this IAM path: the deployer's scope names it, and no
platform role does."""


@dataclass(frozen=True, kw_only=True)
class TenantArgs:
    spec: TenantSpec
    """The tenant, resolved for this environment."""
    account_id: str
    region: str
    cluster_name: pulumi.Input[str]
    """The EKS cluster whose Pod Identity associations bind the workloads."""
    kafka_cluster_arn: pulumi.Input[str]
    replication_factor: int
    """As the platform's topics (one replica per broker AZ, at most three)."""
    min_insync_replicas: int
    offline_store_arn: pulumi.Input[str]
    """The offline-store bucket; the tenant owns ``<tenant>/`` in it."""
    data_key_arn: pulumi.Input[str]
    """The key the offline store's objects are encrypted with."""
    online_store_arn: str
    """The online store's replication group (``elasticache:Connect`` names it and the user)."""
    cache_user_arns: Mapping[str, str] = field(default_factory=dict)
    """Each workload's own online-store user (``components/cache_access.py``), by workload."""
    permissions_boundary_arn: str | None
    protect: bool
    """Protect and retain the topics (they hold records), as the platform's."""
    budget_name: str = ""
    """The team's budget's name (``feature-platform-<instance>-<tenant>``): budget names are
    unique per account, which a review stack shares with dev, so each has its own."""
    instance_suffix: str = ""
    """Appended to role names where a stack shares its account (``.pr<N>``, a review stack):
    roles are named ``<tenant>.<workload>`` so that the tenant's name is in the ARN."""


def topic_configs(retention_hours: int, min_insync_replicas: int) -> str:
    return json.dumps(
        {
            "retention.ms": str(retention_hours * MS_PER_HOUR),
            "min.insync.replicas": str(min_insync_replicas),
            "cleanup.policy": "delete",
        },
        sort_keys=True,
    )


def workload_grants(
    spec: TenantSpec,
    workload: str,
    *,
    region: str,
    offline_store_arn: pulumi.Input[str],
    data_key_arn: pulumi.Input[str],
    kafka_cluster_arn: pulumi.Input[str],
    topic_arns: dict[str, pulumi.Output[str]],
    online_store_arn: str = "",
    cache_user_arn: str = "",
) -> tuple[iam.Statement, ...]:
    """Exactly what ``workload`` of ``spec`` may do: its feature sets' prefixes, topics and
    online-store user."""
    me = spec.workloads[workload]
    reads = [spec.feature_sets[name] for name in me.reads]
    writes = [spec.feature_sets[name] for name in me.writes]
    read_topics = [topic_arns[t] for fs in reads for t in fs.topics]
    write_topics = [topic_arns[t] for fs in writes for t in fs.topics]
    return (
        *_offline_store_grants(offline_store_arn, reads, writes),
        # The data key serves more than the offline store: the team may use it only through
        # S3, that is only on the objects S3 lets it read or write.
        iam.kms_use(
            "OfflineStoreKey",
            data_key_arn,
            encrypt=bool(writes),
            via_service=f"s3.{region}.amazonaws.com",
        ),
        *(
            iam.kafka_consume(
                "ReadOwnTopics",
                kafka_cluster_arn,
                read_topics,
                (iam.kafka_group_arn(kafka_cluster_arn, f"{spec.group_prefix}*"),),
            )
            if read_topics
            else ()
        ),
        *(
            iam.kafka_produce("WriteOwnTopics", kafka_cluster_arn, *write_topics)
            if write_topics
            else ()
        ),
        # IAM authentication: a token for its own user only. Both ARNs are required, and the
        # user's access string (not this grant) confines it to its keys.
        *(
            (
                iam.Statement(
                    sid="ConnectAsOwnUser",
                    actions=("elasticache:Connect",),
                    resources=(online_store_arn, cache_user_arn),
                ),
            )
            if cache_user_arn
            else ()
        ),
    )


def _offline_store_grants(
    bucket_arn: pulumi.Input[str],
    reads: list[TenantFeatureSet],
    writes: list[TenantFeatureSet],
) -> tuple[iam.Statement, ...]:
    """Listing under the feature sets' prefixes only (the one bucket-level read), their objects
    read or written."""
    used = list({fs.name: fs for fs in (*reads, *writes)}.values())

    def under(prefix: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(bucket_arn, "/", prefix, "*")

    def itself(prefix: str) -> pulumi.Output[str]:
        # Directory-style readers (pyarrow, s3fs) HEAD the prefix without its slash first: a
        # 403 there is an error to them, a 404 means "a directory".
        return pulumi.Output.concat(bucket_arn, "/", prefix.rstrip("/"))

    listing = tuple(p for fs in used for p in (fs.offline_prefix, f"{fs.offline_prefix}*"))
    statements = [
        iam.Statement(
            sid="ListOwnPrefixes",
            actions=("s3:ListBucket",),
            resources=(bucket_arn,),
            conditions={"StringLike": {"s3:prefix": listing}},
        )
    ]
    if reads:
        statements.append(
            iam.Statement(
                sid="ReadOwnObjects",
                actions=("s3:GetObject", "s3:GetObjectVersion"),
                resources=tuple(
                    arn
                    for fs in reads
                    for arn in (under(fs.offline_prefix), itself(fs.offline_prefix))
                ),
            )
        )
    if writes:
        statements.append(
            iam.Statement(
                sid="WriteOwnObjects",
                actions=("s3:PutObject", "s3:AbortMultipartUpload"),
                resources=tuple(under(fs.offline_prefix) for fs in writes),
            )
        )
    return tuple(statements)


class Tenant(pulumi.ComponentResource):
    """One feature team: its Kafka topics and its workloads' roles, all tagged with it."""

    role_arns: pulumi.Output[dict[str, str]]
    topic_arns: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:tenant:Tenant", name, None, opts)
        topics = self._topics(name, args)
        arns = {topic: resource.arn for topic, resource in topics.items()}
        roles = {
            workload: self._identity(name, args, workload, arns) for workload in args.spec.workloads
        }
        if args.spec.budget is not None:
            self._budget(name, args)
        self._cluster_access(name, args)
        self.role_arns = pulumi.Output.all(**{w: r.role_arn for w, r in roles.items()})
        self.topic_arns = pulumi.Output.all(**arns) if arns else pulumi.Output.from_input({})
        self.register_outputs({"role_arns": self.role_arns, "topic_arns": self.topic_arns})

    def _cluster_access(self, name: str, args: TenantArgs) -> None:
        """The team's own roles into the cluster, as its deployer group and nothing more: no
        access policy (AWS's are cluster- or namespace-wide edit); the group is bound to a
        Role in its namespace alone (components/kubernetes_baseline.py)."""
        for principal in args.spec.cluster_access:
            aws.eks.AccessEntry(
                f"{name}-access-{principal.rsplit('/', 1)[-1]}",
                cluster_name=args.cluster_name,
                principal_arn=principal,
                type="STANDARD",
                kubernetes_groups=[args.spec.deployer_group],
                tags=args.spec.tags(),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _budget(self, name: str, args: TenantArgs) -> aws.budgets.Budget:
        """The team's monthly cost: everything tagged ``tenant=<name>`` (a cost allocation tag
        the organisation activates once), told at 80 % forecast and 100 % actual."""
        spec = args.spec
        budget = spec.budget
        assert budget is not None
        return aws.budgets.Budget(
            f"{name}-budget",
            name=args.budget_name,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{budget.monthly_usd}.0",
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:tenant${spec.name}"]
                )
            ],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    notification_type=kind,
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                    subscriber_email_addresses=list(budget.notify),
                )
                for kind, threshold in (("FORECASTED", 80), ("ACTUAL", 100))
            ],
            tags=spec.tags(),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _topics(self, name: str, args: TenantArgs) -> dict[str, aws.msk.Topic]:
        # MSK topics take no tags; the tenant owns them by name (<tenant>.<topic>).
        return {
            topic: aws.msk.Topic(
                f"{name}-topic-{topic}",
                cluster_arn=args.kafka_cluster_arn,
                name=topic,
                partition_count=settings.partitions,
                replication_factor=args.replication_factor,
                configs=topic_configs(settings.retention_hours, args.min_insync_replicas),
                opts=stateful(self, args.protect),
            )
            for topic, settings in args.spec.topics.items()
        }

    def _identity(
        self,
        name: str,
        args: TenantArgs,
        workload: str,
        topic_arns: dict[str, pulumi.Output[str]],
    ) -> WorkloadIdentity:
        spec = args.spec
        return WorkloadIdentity(
            f"{name}-{workload}",
            WorkloadIdentityArgs(
                account_id=args.account_id,
                region=args.region,
                namespace=spec.namespace,
                service_account=spec.workloads[workload].service_account,
                statements=workload_grants(
                    spec,
                    workload,
                    region=args.region,
                    offline_store_arn=args.offline_store_arn,
                    data_key_arn=args.data_key_arn,
                    kafka_cluster_arn=args.kafka_cluster_arn,
                    topic_arns=topic_arns,
                    online_store_arn=args.online_store_arn,
                    cache_user_arn=args.cache_user_arns.get(workload, ""),
                ),
                permissions_boundary_arn=args.permissions_boundary_arn,
                cluster_name=args.cluster_name,
                tags=spec.tags(),
                # '.' is in no tenant or workload name: no two tenants' roles share a name,
                # and <20>.<30>.pr<6 digits> fits IAM's 64 characters.
                role_name=f"{spec.name}.{workload}{args.instance_suffix}",
                role_path=ROLE_PATH,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
