"""EKS, MSK and ElastiCache: the calls the provider makes, as far as moto (and the models in
``blueprint/local/models``: ElastiCache users and user groups) model them.

moto has no ElastiCache parameter groups and no MSK configurations: those two types are
reported as *simulated* by the engine. Inputs moto ignores are reported as *not applied*.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from blueprint.local.registry import Created, Ctx, translates

EKS_DEFAULT_SERVICE_CIDRS = ("172.20.0.0/16", "10.100.0.0/16")
"""What EKS assigns when the cluster names no service range (CreateCluster,
``kubernetesNetworkConfig.serviceIpv4Cidr``): 172.20.0.0/16 when the VPC is in 10.0.0.0/8,
so the two never overlap, else 10.100.0.0/16. moto reports none."""


def eks_service_cidr(requested: str | None, vpc_cidr: str) -> str:
    if requested:
        return requested
    in_ten = ipaddress.IPv4Network(vpc_cidr).subnet_of(ipaddress.IPv4Network("10.0.0.0/8"))
    return EKS_DEFAULT_SERVICE_CIDRS[0 if in_ten else 1]


@translates("aws:eks/cluster:Cluster")
def eks_cluster(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    vpc = ctx.inputs.get("vpcConfig", {})
    request: dict[str, Any] = {
        "name": name,
        "roleArn": ctx.inputs["roleArn"],
        "resourcesVpcConfig": {
            "subnetIds": vpc.get("subnetIds", []),
            "securityGroupIds": vpc.get("securityGroupIds", []),
            # The provider's defaults when unset, which are AWS's: public, not private.
            "endpointPrivateAccess": bool(vpc.get("endpointPrivateAccess", False)),
            "endpointPublicAccess": bool(vpc.get("endpointPublicAccess", True)),
            **(
                {"publicAccessCidrs": vpc["publicAccessCidrs"]}
                if vpc.get("publicAccessCidrs")
                else {}
            ),
        },
        "logging": {
            "clusterLogging": [
                {"types": ctx.inputs.get("enabledClusterLogTypes", []), "enabled": True}
            ]
        },
        "tags": ctx.tags,
    }
    if ctx.inputs.get("version"):
        request["version"] = ctx.inputs["version"]
    if ctx.inputs.get("encryptionConfig"):
        config = ctx.inputs["encryptionConfig"]
        request["encryptionConfig"] = [
            {"resources": config["resources"], "provider": {"keyArn": config["provider"]["keyArn"]}}
        ]
    unapplied = [
        key
        for key in ("accessConfig", "upgradePolicy", "deletionProtection")
        if ctx.inputs.get(key) is not None
    ]
    cluster = ctx.client("eks").create_cluster(**request)["cluster"]
    # EKS creates a cluster security group in the cluster's VPC (nodes and the control plane
    # share it); moto does not, and the program refers to it in its rules.
    ec2 = ctx.client("ec2")
    (subnet,) = ec2.describe_subnets(SubnetIds=vpc.get("subnetIds", [])[:1])["Subnets"]
    cluster_sg = ec2.create_security_group(
        GroupName=f"eks-cluster-sg-{name}",
        Description="EKS created security group applied to ENI that is attached to EKS Control "
        "Plane master nodes, as well as any managed workloads.",
        VpcId=subnet["VpcId"],
        TagSpecifications=[{"ResourceType": "security-group", "Tags": ctx.tag_list()}],
    )["GroupId"]
    (vpc_record,) = ec2.describe_vpcs(VpcIds=[subnet["VpcId"]])["Vpcs"]
    network = ctx.inputs.get("kubernetesNetworkConfig") or {}
    return Created(
        name,
        {
            "name": name,
            "arn": cluster["arn"],
            "endpoint": cluster.get("endpoint", ""),
            "kubernetesNetworkConfig": {
                "ipFamily": network.get("ipFamily", "ipv4"),
                "serviceIpv4Cidr": eks_service_cidr(
                    network.get("serviceIpv4Cidr"), vpc_record["CidrBlock"]
                ),
            },
            "certificateAuthority": cluster.get("certificateAuthority", {}),
            "status": cluster.get("status", "ACTIVE"),
            "vpcConfig": {
                **vpc,
                "clusterSecurityGroupId": cluster_sg,
                "vpcId": subnet["VpcId"],
            },
        },
        unapplied=unapplied,
    )


@translates("aws:eks/nodeGroup:NodeGroup")
def eks_node_group(ctx: Ctx) -> Created:
    name = ctx.physical_name("nodeGroupName")
    scaling = ctx.inputs["scalingConfig"]
    request: dict[str, Any] = {
        "clusterName": ctx.inputs["clusterName"],
        "nodegroupName": name,
        "nodeRole": ctx.inputs["nodeRoleArn"],
        "subnets": ctx.inputs["subnetIds"],
        "scalingConfig": {
            "minSize": scaling["minSize"],
            "maxSize": scaling["maxSize"],
            "desiredSize": scaling["desiredSize"],
        },
        "labels": ctx.inputs.get("labels", {}),
        "tags": ctx.tags,
    }
    for key in ("amiType", "capacityType", "instanceTypes"):
        if ctx.inputs.get(key):
            request[key] = ctx.inputs[key]
    if ctx.inputs.get("taints"):
        request["taints"] = [
            {"key": t["key"], "value": t.get("value", ""), "effect": t["effect"]}
            for t in ctx.inputs["taints"]
        ]
    if ctx.inputs.get("launchTemplate"):
        template = ctx.inputs["launchTemplate"]
        request["launchTemplate"] = {
            k: v for k, v in (("id", template.get("id")), ("version", template.get("version"))) if v
        }
    group = ctx.client("eks").create_nodegroup(**request)["nodegroup"]
    unapplied = ["updateConfig"] if ctx.inputs.get("updateConfig") else []
    return Created(
        f"{ctx.inputs['clusterName']}:{name}",
        {"arn": group["nodegroupArn"], "nodeGroupName": name},
        unapplied=unapplied,
    )


@translates("aws:msk/cluster:Cluster")
def msk_cluster(ctx: Ctx) -> Created:
    name = ctx.physical_name("clusterName")
    brokers = ctx.inputs["brokerNodeGroupInfo"]
    request: dict[str, Any] = {
        "ClusterName": name,
        "KafkaVersion": ctx.inputs["kafkaVersion"],
        "NumberOfBrokerNodes": ctx.inputs["numberOfBrokerNodes"],
        "BrokerNodeGroupInfo": {
            "InstanceType": brokers["instanceType"],
            "ClientSubnets": brokers["clientSubnets"],
            "SecurityGroups": brokers.get("securityGroups", []),
        },
        "EnhancedMonitoring": ctx.inputs.get("enhancedMonitoring", "DEFAULT"),
        "Tags": ctx.tags,
    }
    volume = brokers.get("storageInfo", {}).get("ebsStorageInfo", {}).get("volumeSize")
    if volume:
        request["BrokerNodeGroupInfo"]["StorageInfo"] = {"EbsStorageInfo": {"VolumeSize": volume}}
    encryption = ctx.inputs.get("encryptionInfo", {})
    if encryption:
        transit = encryption.get("encryptionInTransit", {})
        request["EncryptionInfo"] = {
            "EncryptionInTransit": {
                "ClientBroker": transit.get("clientBroker", "TLS"),
                "InCluster": bool(transit.get("inCluster", True)),
            },
            **(
                {
                    "EncryptionAtRest": {
                        "DataVolumeKMSKeyId": encryption["encryptionAtRestKmsKeyArn"]
                    }
                }
                if encryption.get("encryptionAtRestKmsKeyArn")
                else {}
            ),
        }
    auth = ctx.inputs.get("clientAuthentication", {})
    if auth:
        sasl = auth.get("sasl", {})
        request["ClientAuthentication"] = {
            "Sasl": {
                "Iam": {"Enabled": bool(sasl.get("iam", False))},
                "Scram": {"Enabled": bool(sasl.get("scram", False))},
            },
            "Unauthenticated": {"Enabled": bool(auth.get("unauthenticated", False))},
        }
    if ctx.inputs.get("configurationInfo"):
        info = ctx.inputs["configurationInfo"]
        request["ConfigurationInfo"] = {"Arn": info["arn"], "Revision": info["revision"]}
    logs = ctx.inputs.get("loggingInfo", {}).get("brokerLogs", {}).get("cloudwatchLogs", {})
    if logs:
        request["LoggingInfo"] = {
            "BrokerLogs": {
                "CloudWatchLogs": {
                    "Enabled": bool(logs.get("enabled")),
                    "LogGroup": logs.get("logGroup", ""),
                }
            }
        }
    arn = ctx.client("kafka").create_cluster(**request)["ClusterArn"]
    return Created(
        arn,
        {
            "arn": arn,
            "clusterName": name,
            # moto has no GetBootstrapBrokers; the shape of the IAM listener's address list.
            "bootstrapBrokersSaslIam": ",".join(
                f"b-{i}.{name}.kafka.{ctx.region}.amazonaws.com:9098"
                for i in range(1, int(ctx.inputs["numberOfBrokerNodes"]) + 1)
            ),
        },
    )


@translates("aws:elasticache/subnetGroup:SubnetGroup")
def cache_subnet_group(ctx: Ctx) -> Created:
    name = ctx.physical_name().lower()
    ctx.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName=name,
        CacheSubnetGroupDescription=ctx.inputs.get("description", "Managed by Pulumi"),
        SubnetIds=ctx.inputs["subnetIds"],
        Tags=ctx.tag_list(),
    )
    return Created(name, {"name": name})


USER_GROUP_POLLS = 100
"""Describes the user group translator makes while the group is ``creating`` (the provider
waits for ``active`` after CreateUserGroup; the models take a few describes)."""


@translates("aws:elasticache/user:User")
def cache_user(ctx: Ctx) -> Created:
    user_id = str(ctx.inputs["userId"]).lower()  # "stored as a lowercase string" (CreateUser)
    request: dict[str, Any] = {
        "UserId": user_id,
        "UserName": ctx.inputs["userName"],
        "Engine": str(ctx.inputs["engine"]).lower(),
        "AccessString": ctx.inputs["accessString"],
        "Tags": ctx.tag_list(),
    }
    mode = ctx.inputs.get("authenticationMode") or {}
    # passwordsWo is one write-only password (sent, never read back); passwords a list.
    passwords = [ctx.inputs["passwordsWo"]] if ctx.inputs.get("passwordsWo") else []
    passwords = passwords or list(ctx.inputs.get("passwords") or mode.get("passwords") or [])
    if mode.get("type") and mode["type"] != "password":
        request["AuthenticationMode"] = {"Type": mode["type"]}
    elif passwords:
        request["Passwords"] = passwords
    elif ctx.inputs.get("noPasswordRequired"):
        request["NoPasswordRequired"] = True
    user = ctx.client("elasticache").create_user(**request)
    return Created(
        user_id,
        {
            "arn": user["ARN"],
            "userId": user_id,
            "userName": user["UserName"],
            "engine": user["Engine"],
            "accessString": user["AccessString"],
            "authenticationMode": {
                "type": user["Authentication"]["Type"],
                "passwordCount": user["Authentication"].get("PasswordCount", 0),
            },
        },
    )


@translates("aws:elasticache/userGroup:UserGroup")
def cache_user_group(ctx: Ctx) -> Created:
    group_id = str(ctx.inputs["userGroupId"]).lower()
    client = ctx.client("elasticache")
    request: dict[str, Any] = {
        "UserGroupId": group_id,
        "Engine": str(ctx.inputs["engine"]).lower(),
        "Tags": ctx.tag_list(),
    }
    if ctx.inputs.get("userIds"):
        request["UserIds"] = list(ctx.inputs["userIds"])
    group = client.create_user_group(**request)
    for _ in range(USER_GROUP_POLLS):  # as the provider does: wait until it is usable
        if group["Status"] == "active":
            break
        (group,) = client.describe_user_groups(UserGroupId=group_id)["UserGroups"]
    else:
        raise TimeoutError(f"user group {group_id} is still {group['Status']}")
    return Created(
        group_id,
        {"arn": group["ARN"], "userGroupId": group_id, "userIds": group["UserIds"]},
    )


@translates("aws:elasticache/replicationGroup:ReplicationGroup")
def replication_group(ctx: Ctx) -> Created:
    group_id = ctx.physical_name("replicationGroupId").lower()
    request: dict[str, Any] = {
        "ReplicationGroupId": group_id,
        "ReplicationGroupDescription": ctx.inputs["description"],
        "Engine": ctx.inputs.get("engine", "redis"),
        "CacheNodeType": ctx.inputs["nodeType"],
        "TransitEncryptionEnabled": bool(ctx.inputs.get("transitEncryptionEnabled", False)),
        # a bool in pulumi-aws v7 (a string in some earlier releases): accept both
        "AtRestEncryptionEnabled": str(ctx.inputs.get("atRestEncryptionEnabled", False)).lower()
        == "true",
        "AutomaticFailoverEnabled": bool(ctx.inputs.get("automaticFailoverEnabled", False)),
        "MultiAZEnabled": bool(ctx.inputs.get("multiAzEnabled", False)),
        "Tags": ctx.tag_list(),
    }
    optional = {
        "engineVersion": "EngineVersion",
        "kmsKeyId": "KmsKeyId",
        "authToken": "AuthToken",  # the AUTH-token shape; RBAC sends userGroupIds instead
        "subnetGroupName": "CacheSubnetGroupName",
        "securityGroupIds": "SecurityGroupIds",
        "parameterGroupName": "CacheParameterGroupName",
        "snapshotRetentionLimit": "SnapshotRetentionLimit",
        "snapshotWindow": "SnapshotWindow",
        "maintenanceWindow": "PreferredMaintenanceWindow",
        "port": "Port",
        "userGroupIds": "UserGroupIds",
        # enabled: shards named <group>-<shard>-<node>, as the health alarms expect; moto
        # (like AWS) names members by cluster mode, so leaving it out named them wrongly.
        "clusterMode": "ClusterMode",
    }
    request |= {api: ctx.inputs[key] for key, api in optional.items() if ctx.inputs.get(key)}
    if ctx.inputs.get("authTokenWo"):  # write-only: sent like authToken, never read back
        request["AuthToken"] = ctx.inputs["authTokenWo"]
    # authTokenUpdateStrategy (RBAC: DELETE) applies to modifications only: CreateReplicationGroup
    # has no such parameter, so a new group with userGroupIds is created without a token.
    if ctx.inputs.get("numNodeGroups"):  # cluster mode: shards of a primary and replicas
        request["NumNodeGroups"] = ctx.inputs["numNodeGroups"]
        request["ReplicasPerNodeGroup"] = ctx.inputs.get("replicasPerNodeGroup", 0)
    else:
        request["NumCacheClusters"] = ctx.inputs.get("numCacheClusters", 1)
    group = ctx.client("elasticache").create_replication_group(**request)["ReplicationGroup"]
    unapplied = [
        key
        for key in ("logDeliveryConfigurations", "transitEncryptionMode", "finalSnapshotIdentifier")
        if ctx.inputs.get(key)
    ]
    configuration = group.get("ConfigurationEndpoint") or {}
    primary = (group.get("NodeGroups") or [{}])[0].get("PrimaryEndpoint") or {}
    return Created(
        group_id,
        {
            "arn": group["ARN"],
            "configurationEndpointAddress": configuration.get("Address", ""),
            "primaryEndpointAddress": primary.get("Address", ""),
            "port": configuration.get("Port") or primary.get("Port") or 6379,
        },
        unapplied=unapplied,
    )
