"""EKS, MSK and ElastiCache: the calls the provider makes, as far as moto models them.

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
        "authToken": "AuthToken",
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
