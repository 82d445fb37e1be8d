"""Pulumi mocks that answer like AWS: realistic IDs, ARNs and names per resource type.

IDs are derived from the resource's type and name, so every run of the same program gives
the same state (stable snapshots and diffs). Region and account come from the explicit
provider each resource uses (its ``region`` and ``allowedAccountIds``), as they would in AWS.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

from blueprint import fidelity
from blueprint.fidelity.facts import write_only

DEFAULT_REGION = "eu-central-1"
DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Where:
    """What a resource's provider says about where it lives (and how it is tagged)."""

    region: str
    account: str
    default_tags: dict[str, str] = field(default_factory=dict)


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def physical_name(name: str, inputs: dict[str, Any], key: str = "name", *, salt: str = "") -> str:
    """The resource's physical name: explicit ``<key>``, else ``<key>Prefix`` or the logical
    name, plus a random-looking 7-character suffix.

    Never shortened: for the types in the provider facts table, :func:`PlatformMocks.new_resource`
    has already filled ``<key>`` by the bridge's rule (or failed as the bridge does), so this
    fallback only names types the table does not cover. ``salt`` varies the suffix (the local
    deploy salts with the stack, so two stacks in one moto never collide).
    """
    if inputs.get(key):
        return str(inputs[key])
    suffix = _digest(*filter(None, (salt, name)), length=7)
    prefix = inputs.get(f"{key}Prefix") or f"{name}-"
    return f"{prefix}{suffix}"


State = dict[str, Any]
Handler = Callable[[str, State, Where], tuple[str, State]]


def _prefixed(prefix: str, service: str, kind: str) -> Handler:
    """EC2-style resources: ``<prefix>-<17 hex>`` with an ARN of ``<kind>/<id>``."""

    def make(name: str, inputs: State, where: Where) -> tuple[str, State]:
        rid = f"{prefix}-{_digest(prefix, name)}"
        arn = f"arn:aws:{service}:{where.region}:{where.account}:{kind}/{rid}"
        return rid, {"arn": arn, "ownerId": where.account}

    return make


def _vpc(name: str, inputs: State, where: Where) -> tuple[str, State]:
    rid, state = _prefixed("vpc", "ec2", "vpc")(name, inputs, where)
    return rid, {
        **state,
        "defaultSecurityGroupId": f"sg-{_digest('default-sg', name)}",
        "mainRouteTableId": f"rtb-{_digest('main-rtb', name)}",
        "defaultNetworkAclId": f"acl-{_digest('acl', name)}",
    }


def _eip(name: str, inputs: State, where: Where) -> tuple[str, State]:
    rid = f"eipalloc-{_digest('eip', name)}"
    octets = hashlib.sha256(name.encode()).digest()[:2]
    return rid, {"allocationId": rid, "publicIp": f"198.51.{octets[0]}.{octets[1] or 1}"}


def _kms_key(name: str, inputs: State, where: Where) -> tuple[str, State]:
    key_id = str(uuid.UUID(hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()))
    return key_id, {
        "keyId": key_id,
        "arn": f"arn:aws:kms:{where.region}:{where.account}:key/{key_id}",
    }


def _kms_alias(name: str, inputs: State, where: Where) -> tuple[str, State]:
    alias = physical_name(name, inputs)
    return alias, {"arn": f"arn:aws:kms:{where.region}:{where.account}:{alias}"}


def _bucket(name: str, inputs: State, where: Where) -> tuple[str, State]:
    bucket = physical_name(name, inputs, key="bucket")
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{where.region}.amazonaws.com",
        "region": where.region,
    }


def _iam_role(name: str, inputs: State, where: Where) -> tuple[str, State]:
    role = physical_name(name, inputs)
    return role, {
        "name": role,
        "arn": f"arn:aws:iam::{where.account}:role{inputs.get('path', '/')}{role}",
        "uniqueId": f"AROA{_digest('role', name).upper()}",
    }


def _iam_policy(name: str, inputs: State, where: Where) -> tuple[str, State]:
    policy = physical_name(name, inputs)
    arn = f"arn:aws:iam::{where.account}:policy{inputs.get('path', '/')}{policy}"
    return arn, {"name": policy, "arn": arn, "policyId": f"ANPA{_digest('pol', name).upper()}"}


def _oidc_provider(name: str, inputs: State, where: Where) -> tuple[str, State]:
    # IAM names the provider by its URL without the scheme; the id is the ARN.
    host = str(inputs.get("url", "")).removeprefix("https://")
    arn = f"arn:aws:iam::{where.account}:oidc-provider/{host}"
    return arn, {"arn": arn}


def _service_linked_role(name: str, inputs: State, where: Where) -> tuple[str, State]:
    service = str(inputs.get("awsServiceName", ""))
    role = {"autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling"}.get(
        service, f"AWSServiceRoleFor{service.partition('.')[0].capitalize()}"
    )
    path = f"/aws-service-role/{service}/"
    arn = f"arn:aws:iam::{where.account}:role{path}{role}"
    return arn, {
        "arn": arn,
        "name": role,
        "path": path,
        "uniqueId": f"AROA{_digest('slr', name).upper()}",
    }


def _role_policy(name: str, inputs: State, where: Where) -> tuple[str, State]:
    policy = physical_name(name, inputs)
    return f"{inputs.get('role')}:{policy}", {"name": policy}


def _secret(name: str, inputs: State, where: Where) -> tuple[str, State]:
    secret = physical_name(name, inputs)
    arn = (
        f"arn:aws:secretsmanager:{where.region}:{where.account}:secret:{secret}-"
        f"{_digest('secret', name, length=6)}"
    )
    return arn, {"name": secret, "arn": arn}


def _secret_version(name: str, inputs: State, where: Where) -> tuple[str, State]:
    version = str(uuid.UUID(hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()))
    return f"{inputs.get('secretId')}|{version}", {
        "versionId": version,
        "arn": inputs.get("secretId"),
    }


def _log_group(name: str, inputs: State, where: Where) -> tuple[str, State]:
    group = physical_name(name, inputs)
    return group, {
        "name": group,
        "arn": f"arn:aws:logs:{where.region}:{where.account}:log-group:{group}",
    }


def _random_password(name: str, inputs: State, where: Where) -> tuple[str, State]:
    # Deterministic, but shaped like the real thing (length and character classes).
    length = int(inputs.get("length", 32))
    seed = hashlib.sha256(name.encode()).hexdigest()
    value = ("Aa1!" + seed * 4)[:length]
    return "none", {"result": value, "bcryptHash": f"$2a$10${seed[:53]}"}


def _named(service: str, kind: str, key: str = "name") -> Handler:
    """Resources identified by their name, with an ARN of ``<kind>/<name>``."""

    def make(name: str, inputs: State, where: Where) -> tuple[str, State]:
        physical = physical_name(name, inputs, key=key)
        arn = f"arn:aws:{service}:{where.region}:{where.account}:{kind}/{physical}"
        return physical, {key: physical, "arn": arn}

    return make


def _alarm(key: str) -> Handler:
    """CloudWatch alarms: identified by name, ARN ``alarm:<name>`` (a colon, not a slash)."""

    def make(name: str, inputs: State, where: Where) -> tuple[str, State]:
        alarm = physical_name(name, inputs, key=key)
        return alarm, {
            key: alarm,
            "arn": f"arn:aws:cloudwatch:{where.region}:{where.account}:alarm:{alarm}",
        }

    return make


def _sns_topic(name: str, inputs: State, where: Where) -> tuple[str, State]:
    # The topic's id is its ARN; the name follows the account after a colon.
    topic = physical_name(name, inputs)
    arn = f"arn:aws:sns:{where.region}:{where.account}:{topic}"
    return arn, {"name": topic, "arn": arn}


def _dashboard(name: str, inputs: State, where: Where) -> tuple[str, State]:
    board = physical_name(name, inputs, key="dashboardName")
    # Dashboards are global: no region in the ARN.
    return board, {"dashboardArn": f"arn:aws:cloudwatch::{where.account}:dashboard/{board}"}


def _event_target(name: str, inputs: State, where: Where) -> tuple[str, State]:
    target = inputs.get("targetId") or f"terraform-{_digest('target', name, length=20)}"
    return f"{inputs.get('rule')}-{target}", {"targetId": target}


def _amp_workspace(name: str, inputs: State, where: Where) -> tuple[str, State]:
    digest = _digest("aps", name, length=32)
    workspace = f"ws-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return workspace, {
        "arn": f"arn:aws:aps:{where.region}:{where.account}:workspace/{workspace}",
        "prometheusEndpoint": (
            f"https://aps-workspaces.{where.region}.amazonaws.com/workspaces/{workspace}/"
        ),
    }


def _amp_rule_group_namespace(name: str, inputs: State, where: Where) -> tuple[str, State]:
    namespace = str(inputs.get("name"))
    workspace = str(inputs.get("workspaceId"))
    arn = f"arn:aws:aps:{where.region}:{where.account}:rulegroupsnamespace/{workspace}/{namespace}"
    return arn, {"arn": arn}


def _eks_cluster(name: str, inputs: State, where: Where) -> tuple[str, State]:
    cluster = physical_name(name, inputs)
    host = _digest("eks", name, length=32).upper()
    vpc = dict(inputs.get("vpcConfig") or {})
    vpc["clusterSecurityGroupId"] = f"sg-{_digest('eks-cluster-sg', name)}"
    vpc["vpcId"] = vpc.get("vpcId") or f"vpc-{_digest('vpc', name)}"
    return cluster, {
        "name": cluster,
        "arn": f"arn:aws:eks:{where.region}:{where.account}:cluster/{cluster}",
        "endpoint": f"https://{host}.gr7.{where.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
        "vpcConfig": vpc,
        # EKS picks 172.20.0.0/16 when the VPC is in 10.0.0.0/8 (ours are), else 10.100.0.0/16.
        "kubernetesNetworkConfig": {
            "ipFamily": "ipv4",
            "serviceIpv4Cidr": (inputs.get("kubernetesNetworkConfig") or {}).get(
                "serviceIpv4Cidr", "172.20.0.0/16"
            ),
        },
        "platformVersion": "eks.1",
        "status": "ACTIVE",
    }


def _eks_node_group(name: str, inputs: State, where: Where) -> tuple[str, State]:
    group = physical_name(name, inputs, key="nodeGroupName")
    cluster = inputs.get("clusterName", "cluster")
    arn = (
        f"arn:aws:eks:{where.region}:{where.account}:nodegroup/{cluster}/{group}/"
        f"{uuid.UUID(_digest('ng', name, length=32))}"
    )
    return f"{cluster}:{group}", {"nodeGroupName": group, "arn": arn, "status": "ACTIVE"}


def _eks_addon(name: str, inputs: State, where: Where) -> tuple[str, State]:
    cluster, addon = inputs.get("clusterName", "cluster"), inputs.get("addonName", name)
    arn = (
        f"arn:aws:eks:{where.region}:{where.account}:addon/{cluster}/{addon}/"
        f"{uuid.UUID(_digest('addon', name, length=32))}"
    )
    return f"{cluster}:{addon}", {"arn": arn}


def _eks_access_entry(name: str, inputs: State, where: Where) -> tuple[str, State]:
    cluster, principal = inputs.get("clusterName", "cluster"), inputs.get("principalArn", "")
    role = str(principal).rsplit("/", 1)[-1]
    arn = (
        f"arn:aws:eks:{where.region}:{where.account}:access-entry/{cluster}/role/"
        f"{where.account}/{role}/{_digest('ae', name, length=8)}"
    )
    return f"{cluster}:{principal}", {"accessEntryArn": arn, "type": "STANDARD"}


def _pod_identity_association(name: str, inputs: State, where: Where) -> tuple[str, State]:
    association = f"a-{_digest('pia', name)}"
    cluster = inputs.get("clusterName", "cluster")
    arn = (
        f"arn:aws:eks:{where.region}:{where.account}:podidentityassociation/{cluster}/{association}"
    )
    return f"{cluster},{association}", {"associationArn": arn, "associationId": association}


def _launch_template(name: str, inputs: State, where: Where) -> tuple[str, State]:
    rid = f"lt-{_digest('lt', name)}"
    return rid, {
        "arn": f"arn:aws:ec2:{where.region}:{where.account}:launch-template/{rid}",
        "name": physical_name(name, inputs),
        "latestVersion": 1,
        "defaultVersion": 1,
    }


def _msk_cluster(name: str, inputs: State, where: Where) -> tuple[str, State]:
    cluster = physical_name(name, inputs, key="clusterName")
    arn = (
        f"arn:aws:kafka:{where.region}:{where.account}:cluster/{cluster}/"
        f"{uuid.UUID(_digest('msk', name, length=32))}-2"
    )
    brokers = int(inputs.get("numberOfBrokerNodes") or 3)
    hosts = ",".join(
        f"b-{i}.{cluster}.{_digest('msk-host', name, length=6)}.c2.kafka.{where.region}"
        f".amazonaws.com:9098"
        for i in range(1, brokers + 1)
    )
    return arn, {
        "arn": arn,
        "clusterName": cluster,
        "clusterUuid": arn.rsplit("/", 1)[-1],
        "bootstrapBrokersSaslIam": hosts,
        "currentVersion": "K3AEGXETSR30VB",
    }


def _msk_configuration(name: str, inputs: State, where: Where) -> tuple[str, State]:
    config = physical_name(name, inputs)
    arn = (
        f"arn:aws:kafka:{where.region}:{where.account}:configuration/{config}/"
        f"{uuid.UUID(_digest('mskcfg', name, length=32))}-2"
    )
    return arn, {"arn": arn, "name": config, "latestRevision": 1}


def _msk_topic(name: str, inputs: State, where: Where) -> tuple[str, State]:
    topic = physical_name(name, inputs)
    cluster_arn = str(inputs.get("clusterArn", ""))
    arn = f"{cluster_arn.replace(':cluster/', ':topic/', 1)}/{topic}"
    return arn, {"arn": arn, "name": topic}


def _replication_group(name: str, inputs: State, where: Where) -> tuple[str, State]:
    group = physical_name(name, inputs, key="replicationGroupId")
    host = f"{group}.{_digest('rg', name, length=6)}.euc1.cache.amazonaws.com"
    state: State = {
        "replicationGroupId": group,
        "arn": f"arn:aws:elasticache:{where.region}:{where.account}:replicationgroup:{group}",
        "memberClusters": [f"{group}-001"],
    }
    if inputs.get("clusterMode") == "enabled":
        state["configurationEndpointAddress"] = f"clustercfg.{host}"
    else:
        state["primaryEndpointAddress"] = f"master.{host}"
        state["readerEndpointAddress"] = f"replica.{host}"
    return group, state


def _elasticache_named(kind: str) -> Handler:
    def make(name: str, inputs: State, where: Where) -> tuple[str, State]:
        physical = physical_name(name, inputs).lower()
        arn = f"arn:aws:elasticache:{where.region}:{where.account}:{kind}:{physical}"
        return physical, {"name": physical, "arn": arn}

    return make


def _elasticache_by_id(key: str, kind: str) -> Handler:
    """Users and user groups: the provider's id is the required id input (no auto-name), which
    AWS stores in lower case."""

    def make(name: str, inputs: State, where: Where) -> tuple[str, State]:
        physical = str(inputs[key]).lower()
        arn = f"arn:aws:elasticache:{where.region}:{where.account}:{kind}:{physical}"
        return physical, {key: physical, "arn": arn}

    return make


def _lambda_function(name: str, inputs: State, where: Where) -> tuple[str, State]:
    function = physical_name(name, inputs)
    arn = f"arn:aws:lambda:{where.region}:{where.account}:function:{function}"
    return function, {
        "name": function,
        "arn": arn,
        "qualifiedArn": f"{arn}:$LATEST",
        "invokeArn": (
            f"arn:aws:apigateway:{where.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
        ),
        "version": "$LATEST",
    }


def _appautoscaling_target(name: str, inputs: State, where: Where) -> tuple[str, State]:
    rid = str(inputs.get("resourceId", name))
    return rid, {
        "arn": (
            f"arn:aws:application-autoscaling:{where.region}:{where.account}:scalable-target/"
            f"{_digest('aas', name, length=24)}"
        )
    }


HANDLERS: dict[str, Handler] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _prefixed("subnet", "ec2", "subnet"),
    "aws:ec2/internetGateway:InternetGateway": _prefixed("igw", "ec2", "internet-gateway"),
    "aws:ec2/natGateway:NatGateway": _prefixed("nat", "ec2", "natgateway"),
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/routeTable:RouteTable": _prefixed("rtb", "ec2", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _prefixed("rtbassoc", "ec2", "rtba"),
    "aws:ec2/route:Route": _prefixed("r-rtb", "ec2", "route"),
    "aws:ec2/securityGroup:SecurityGroup": _prefixed("sg", "ec2", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _prefixed("sg", "ec2", "security-group"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _prefixed(
        "sgr", "ec2", "security-group-rule"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _prefixed(
        "sgr", "ec2", "security-group-rule"
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _prefixed("vpce", "ec2", "vpc-endpoint"),
    "aws:ec2/flowLog:FlowLog": _prefixed("fl", "ec2", "vpc-flow-log"),
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": _service_linked_role,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "random:index/randomPassword:RandomPassword": _random_password,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:eks/addon:Addon": _eks_addon,
    "aws:eks/accessEntry:AccessEntry": _eks_access_entry,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _pod_identity_association,
    "aws:msk/cluster:Cluster": _msk_cluster,
    "aws:msk/configuration:Configuration": _msk_configuration,
    "aws:msk/topic:Topic": _msk_topic,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:elasticache/subnetGroup:SubnetGroup": _elasticache_named("subnetgroup"),
    "aws:elasticache/parameterGroup:ParameterGroup": _elasticache_named("parametergroup"),
    "aws:elasticache/user:User": _elasticache_by_id("userId", "user"),
    "aws:elasticache/userGroup:UserGroup": _elasticache_by_id("userGroupId", "usergroup"),
    "aws:lambda/function:Function": _lambda_function,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sns/topicPolicy:TopicPolicy": lambda name, inputs, where: (str(inputs.get("arn")), {}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm("name"),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _alarm("alarmName"),
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/eventRule:EventRule": _named("events", "rule"),
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:amp/workspace:Workspace": _amp_workspace,
    "aws:amp/ruleGroupNamespace:RuleGroupNamespace": _amp_rule_group_namespace,
    "aws:amp/alertManagerDefinition:AlertManagerDefinition": (
        lambda name, inputs, where: (str(inputs.get("workspaceId")), {})
    ),
    "aws:appautoscaling/target:Target": _appautoscaling_target,
    "aws:codebuild/project:Project": _named("codebuild", "project"),
    # The provider's ID of a webhook is its project's name.
    "aws:codebuild/webhook:Webhook": lambda name, inputs, where: (str(inputs["projectName"]), {}),
}


def readable(state: State, type_: str) -> State:
    """What the bridge returns as a resource's outputs: its state less write-only inputs."""
    hidden = write_only(type_)
    return {k: v for k, v in state.items() if k not in hidden}


def _random_password_call(args: State) -> State:
    """``GetRandomPassword``: deterministic here, shaped like AWS's (length, classes, and
    none of the excluded characters)."""
    length = int(args.get("passwordLength", 32))
    excluded = set(str(args.get("excludeCharacters", "")))
    seed = hashlib.sha256(f"random-password/{length}".encode()).hexdigest()
    alphabet = [c for c in "Aa1!" + seed * 4 if c not in excluded]
    return {"randomPassword": "".join(alphabet)[:length], "id": "random-password"}


CALLS: dict[str, Callable[[State], State]] = {
    "aws:secretsmanager/getRandomPassword:getRandomPassword": _random_password_call,
}
"""The data sources the program calls, answered as AWS would (others answer nothing)."""


class PlatformMocks(pulumi.runtime.Mocks):
    """Per-type state for the resources the platform uses; anything else echoes its inputs.

    The program calls one data source (``GetRandomPassword``, for a write-only value);
    :data:`CALLS` answers it.
    """

    def __init__(self) -> None:
        self._providers: dict[str, Where] = {}

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            pid = f"{_digest('provider', args.name, length=8)}"
            accounts = json.loads(inputs.get("allowedAccountIds", "[]") or "[]")
            tags = json.loads(inputs.get("defaultTags", "{}") or "{}").get("tags", {})
            where = Where(
                region=inputs.get("region", DEFAULT_REGION),
                account=accounts[0] if accounts else DEFAULT_ACCOUNT,
                default_tags=tags,
            )
            self._providers[pid] = where
            return pid, inputs
        # What the bridge and the provider would refuse fails here, before any state exists.
        inputs = fidelity.enforce(args.typ, args.name, inputs)
        where = self.where(args.provider)
        handler = HANDLERS.get(args.typ)
        if handler is None:
            return f"{args.name}-{_digest(args.typ, args.name, length=8)}", inputs
        rid, state = handler(args.name, inputs, where)
        return rid, readable({**inputs, **state}, args.typ)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        answer = CALLS.get(args.token)
        # No check failures: an empty list (the SDK iterates it; None fails).
        return (answer(dict(args.args)) if answer else {}), []

    def where(self, provider_ref: str | None) -> Where:
        """Region, account and default tags of the provider a resource names."""
        # A provider reference is "<urn>::<id>".
        pid = (provider_ref or "").rsplit("::", 1)[-1]
        return self._providers.get(pid, Where(DEFAULT_REGION, DEFAULT_ACCOUNT))
