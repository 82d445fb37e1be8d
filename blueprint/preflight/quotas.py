"""Service Quotas the plan consumes: the quota, what the account already uses, what the plan adds.

Each quota is data with its source: the code was checked against the AWS page or the public
dump named in ``source``. The value is the applied one (GetServiceQuota), or AWS's default
(GetAWSDefaultServiceQuota) where no applied value exists; usage comes from the service's own
describe/list calls. A quota that cannot be read makes the line "not checked", never a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError

from blueprint.audit.model import ACCESS_DENIED, Status, error_code
from blueprint.preflight.model import Line, PreflightContext
from blueprint.preflight.needs import PlanNeeds, Scoped

UNRESERVED_MINIMUM = 100
"""Lambda keeps this much of the account's concurrency unreserved: "you can reserve up to the
Unreserved account concurrency value, minus 100" (docs.aws.amazon.com/lambda/latest/dg/
configuration-concurrency.html). A new account's limit can be 10, so it can reserve nothing."""

NAT_STATES_COUNTED = frozenset({"pending", "available", "deleting"})
"""NAT gateways count toward the quota in these states (Amazon VPC quotas page)."""

QUOTA_PERMISSIONS = ("servicequotas:GetServiceQuota", "servicequotas:GetAWSDefaultServiceQuota")

Usage = Callable[[PreflightContext], Scoped]


class QuotaUnavailableError(Exception):
    """Neither an applied nor a default value could be read for the quota."""


@dataclass(frozen=True)
class Quota:
    id: str
    name: str
    """AWS's name for the quota, as Service Quotas shows it."""
    service_code: str
    quota_code: str
    scope: str
    source: str
    """Where the code and name were checked."""
    need: Callable[[PlanNeeds], Scoped]
    usage: Usage | None
    """Current usage per scope; None when every scope is created by the plan (usage 0)."""
    permissions: tuple[str, ...]
    """Read-only actions the usage count calls (besides the Service Quotas reads)."""
    held_back: int = 0
    """Part of the quota AWS keeps out of reach (Lambda's unreserved minimum)."""

    @property
    def subject(self) -> str:
        return f"{self.quota_code} {self.name} ({self.service_code})"


# --- usage -------------------------------------------------------------------------------


def _vpcs(ctx: PreflightContext) -> Scoped:
    return {"": sum(1 for _ in ctx.pages("ec2", "describe_vpcs", "Vpcs"))}


def _elastic_ips(ctx: PreflightContext) -> Scoped:
    return {"": len(ctx.client("ec2").describe_addresses().get("Addresses", []))}


def _nat_gateways_per_az(ctx: PreflightContext) -> Scoped:
    nats = [
        n
        for n in ctx.pages("ec2", "describe_nat_gateways", "NatGateways")
        if n.get("State") in NAT_STATES_COUNTED
    ]
    subnet_ids = sorted({n["SubnetId"] for n in nats})
    zones: dict[str, str] = {}
    if subnet_ids:
        for subnet in ctx.client("ec2").describe_subnets(SubnetIds=subnet_ids)["Subnets"]:
            zones[subnet["SubnetId"]] = subnet["AvailabilityZone"]
    return dict(Counter(zones.get(n["SubnetId"], "unknown AZ") for n in nats))


def _msk_brokers(ctx: PreflightContext) -> Scoped:
    clusters = ctx.pages("kafka", "list_clusters_v2", "ClusterInfoList")
    brokers = sum(int((c.get("Provisioned") or {}).get("NumberOfBrokerNodes", 0)) for c in clusters)
    return {"": brokers}


def _eks_clusters(ctx: PreflightContext) -> Scoped:
    return {"": sum(1 for _ in ctx.pages("eks", "list_clusters", "clusters"))}


def _cache_nodes(ctx: PreflightContext) -> Scoped:
    clusters = ctx.pages("elasticache", "describe_cache_clusters", "CacheClusters")
    return {"": sum(int(c.get("NumCacheNodes", 0)) for c in clusters)}


def _reserved_concurrency(ctx: PreflightContext) -> Scoped:
    # ListFunctions does not carry reserved concurrency; each function's is its own read.
    lam = ctx.client("lambda")
    reserved = 0
    for function in ctx.pages("lambda", "list_functions", "Functions"):
        answer = lam.get_function_concurrency(FunctionName=function["FunctionName"])
        reserved += int(answer.get("ReservedConcurrentExecutions") or 0)
    return {"": reserved}


# --- the quotas --------------------------------------------------------------------------

VPC_QUOTAS_PAGE = "docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"
MOTO_VPC_DUMP = "getmoto/moto 5.2.5 moto/servicequotas/resources/default_quotas/vpc.py"

QUOTAS: tuple[Quota, ...] = (
    Quota(
        id="QUOTA.LAMBDA_CONCURRENCY",
        name="Concurrent executions",
        service_code="lambda",
        quota_code="L-B99A9384",
        scope="Region",
        source="console link servicequotas/home/services/lambda/quotas/L-B99A9384 (AWS "
        "re:Post and public runbooks); name and default 1,000: "
        "docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
        need=lambda needs: needs.reserved_concurrency,
        usage=_reserved_concurrency,
        permissions=("lambda:ListFunctions", "lambda:GetFunctionConcurrency"),
        held_back=UNRESERVED_MINIMUM,
    ),
    Quota(
        id="QUOTA.VPCS",
        name="VPCs per Region",
        service_code="vpc",
        quota_code="L-F678F1CE",
        scope="Region",
        source=f"{VPC_QUOTAS_PAGE}; {MOTO_VPC_DUMP}",
        need=lambda needs: needs.vpcs,
        usage=_vpcs,
        permissions=("ec2:DescribeVpcs",),
    ),
    Quota(
        id="QUOTA.ELASTIC_IPS",
        name="EC2-VPC Elastic IPs",
        service_code="ec2",
        quota_code="L-0263D0A3",
        scope="Region",
        source=f"{VPC_QUOTAS_PAGE} (Elastic IP addresses per Region)",
        need=lambda needs: needs.elastic_ips,
        usage=_elastic_ips,
        permissions=("ec2:DescribeAddresses",),
    ),
    Quota(
        id="QUOTA.NAT_GATEWAYS",
        name="NAT gateways per Availability Zone",
        service_code="vpc",
        quota_code="L-FE5A380F",
        scope="Availability Zone",
        source=f"{VPC_QUOTAS_PAGE}; {MOTO_VPC_DUMP}",
        need=lambda needs: needs.nat_gateways_per_az,
        usage=_nat_gateways_per_az,
        permissions=("ec2:DescribeNatGateways", "ec2:DescribeSubnets"),
    ),
    Quota(
        id="QUOTA.INTERFACE_ENDPOINTS",
        name="Interface VPC endpoints per VPC",
        service_code="vpc",
        quota_code="L-29B6F2EB",
        scope="VPC",
        source=f"{MOTO_VPC_DUMP}; "
        "docs.aws.amazon.com/vpc/latest/privatelink/vpc-limits-endpoints.html",
        need=lambda needs: needs.interface_endpoints_per_vpc,
        usage=None,  # the endpoints go into the VPC the plan creates
        permissions=(),
    ),
    Quota(
        id="QUOTA.MSK_BROKERS",
        name="Number of brokers per account",
        service_code="kafka",
        quota_code="L-EDD31C36",
        scope="account, per Region",
        source="docs.aws.amazon.com/general/latest/gr/msk.html (Service quotas table, default 90)",
        need=lambda needs: needs.msk_brokers,
        usage=_msk_brokers,
        permissions=("kafka:ListClustersV2",),
    ),
    Quota(
        id="QUOTA.EKS_CLUSTERS",
        name="Clusters",
        service_code="eks",
        quota_code="L-1194D53C",
        scope="Region",
        source="docs.aws.amazon.com/general/latest/gr/eks.html (Service quotas table, default 100)",
        need=lambda needs: needs.eks_clusters,
        usage=_eks_clusters,
        permissions=("eks:ListClusters",),
    ),
    Quota(
        id="QUOTA.CACHE_NODES",
        name="Nodes per Region",
        service_code="elasticache",
        quota_code="L-DFE45DF3",
        scope="Region",
        source="no AWS page names the code; L-DFE45DF3 is what public quota tools call "
        "GetServiceQuota with (L-DFE45DD6 appears nowhere); a wrong code reads as not checked",
        need=lambda needs: needs.cache_nodes,
        usage=_cache_nodes,
        permissions=("elasticache:DescribeCacheClusters",),
    ),
)


# --- judging -----------------------------------------------------------------------------


def quota_value(ctx: PreflightContext, quota: Quota) -> tuple[float, str]:
    """The applied value, else AWS's default; and which of the two it is."""
    client = ctx.quotas_client()
    ids = {"ServiceCode": quota.service_code, "QuotaCode": quota.quota_code}
    try:
        return float(client.get_service_quota(**ids)["Quota"]["Value"]), "applied"
    except ClientError as exc:
        # NoSuchResource: no applied value for this account; AWS's default still holds.
        if error_code(exc) != "NoSuchResourceException":
            raise
    try:
        return float(client.get_aws_default_service_quota(**ids)["Quota"]["Value"]), "AWS default"
    except ClientError as exc:
        if error_code(exc) in ACCESS_DENIED:
            raise
        raise QuotaUnavailableError(f"{error_code(exc) or 'error'} reading the default") from None
    except NotImplementedError:  # an emulator (moto) without the call
        raise QuotaUnavailableError("GetAWSDefaultServiceQuota is not implemented here") from None


def _fix(quota: Quota, required: int) -> str:
    kept = f" ({quota.held_back} of it stays unreserved)" if quota.held_back else ""
    return (
        f"request a quota increase for {quota.quota_code} ({quota.name}, service code "
        f"{quota.service_code}) to at least {required}{kept}, or free capacity first"
    )


def judge(ctx: PreflightContext, quota: Quota) -> Line:
    need = {scope: n for scope, n in quota.need(ctx.needs).items() if n > 0}
    if not need:
        return Line(quota.id, quota.subject, Status.PASS, "the plan needs none")
    try:
        value, origin = quota_value(ctx, quota)
    except QuotaUnavailableError as exc:
        return Line(
            quota.id,
            quota.subject,
            Status.NOT_CHECKED,
            f"Service Quotas gave no value ({exc}); the plan needs {sum(need.values())}",
            f"read {quota.quota_code} in the Service Quotas console and compare by hand",
        )
    usage = quota.usage(ctx) if quota.usage else {}
    limit = int(value) - quota.held_back
    parts, required = [], 0
    for scope, n in sorted(need.items()):
        used = usage.get(scope, 0)
        where = f"{scope}: " if scope else ""
        parts.append(f"{where}{used} in use + {n} planned")
        if used + n > limit:
            required = max(required, used + n + quota.held_back)
    kept = f", {quota.held_back} kept unreserved" if quota.held_back else ""
    detail = f"quota {value:g} ({origin}{kept}); " + "; ".join(parts)
    if required:
        return Line(quota.id, quota.subject, Status.FAIL, detail, _fix(quota, required))
    return Line(quota.id, quota.subject, Status.PASS, detail)
