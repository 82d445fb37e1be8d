"""The online store: an ElastiCache (Valkey/Redis) replication group with RBAC users.

Clients on EKS reach the cache over TLS, each as an ElastiCache user of the group's user group
(ADR 0026). The platform's clients are the user named ``default`` (what ``AUTH <password>``
without a user name selects): its password lives in Secrets Manager, and a rotation Lambda
(``functions/online_store_rotation``) replaces it on schedule in the live user, so after
creation Secrets Manager, not Pulumi, owns it. The first password reaches the user and the
secret through write-only inputs only; the first rotation, which Secrets Manager starts when
the schedule is created, retires it (asynchronously: the post-deploy audit's SECRETS.ROTATED
checks that it finished). Every feature team's workload is a user of its own, authenticated by
IAM (no password at all) and confined by its access string to its key prefixes
(``components/cache_access.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pulumi
import pulumi_aws as aws

from components.cache_access import DEFAULT_USER_NAME, PLATFORM_ACCESS, CacheUser
from components.config.data_stores import OnlineStoreSettings
from components.iam_documents import PolicyDocument, Statement, identity_policy, service_trust
from components.log_group import encrypted_log_group
from components.network import HTTPS, INTERFACE_ENDPOINT_SERVICES
from components.options import child, stateful
from components.secrets import GeneratedSecret, GeneratedSecretArgs

CACHE_PORT = 6379
"""The Valkey/Redis default; clients and security-group rules assume it."""

TRANSIT_ENCRYPTION_MODE = "required"
"""Plaintext connections are refused (``preferred`` would still accept them)."""


PASSWORD_VERSION = 1
"""Version of the secret's write-only value, the ``default`` user's first password: sent to the
secret and the user in the same run, and never again (write-only inputs are sent only when
their version changes). Secrets Manager's rotation owns the live password. A stack that had an
AUTH token keeps its secret (same version): the runbook's move to RBAC gives the ``default``
user the live token before the user group is attached, so no client is locked out."""
DEFAULT_USER_PASSWORD_VERSION = 1
"""``passwords_wo_version`` of the ``default`` user: set once, at creation."""
AUTH_TOKEN_UPDATE_STRATEGY = "DELETE"
"""The token goes when the user group comes (ModifyReplicationGroup refuses a user group on
a group with a token otherwise: "Pass AuthStrategy delete to proceed"). The provider sends it
only in the update that adds the group, and refuses SET/ROTATE without a token, so DELETE
stays in the program: removing it later would be a change to the strategy."""

CACHE_LOG_TYPES = ("slow-log", "engine-log")
"""Every log type ElastiCache for Valkey/Redis can deliver."""

VENDED_LOGS_PREFIX = "/aws/vendedlogs/elasticache"
"""Log delivery adds each destination group to a CloudWatch Logs resource policy capped at
5,120 characters; near the cap, AWS instead enables every group under ``/aws/vendedlogs/``
at once, so a group named there can always be added."""

ROTATION_HANDLER_FILE = (
    Path(__file__).resolve().parent.parent / "functions" / "online_store_rotation" / "handler.py"
)
ROTATION_HANDLER = "handler.lambda_handler"
ROTATION_RUNTIME = aws.lambda_.Runtime.PYTHON3D13
ROTATION_ARCHITECTURE = "arm64"
"""Graviton: cheaper per millisecond; the handler is pure Python (boto3 is in the runtime)."""
ROTATION_TIMEOUT_SECONDS = 900
"""Lambda's maximum. setSecret and finishSecret wait inside the step for the default user to
leave ``modifying`` (ElastiCache refuses another ModifyUser meanwhile); a step
that still times out is retried with the whole rotation, and each step skips what is done.
No reserved concurrency: Secrets Manager refuses a second rotation while one is pending
(AWSPENDING staged), and a reservation fails in accounts whose concurrency limit leaves no
100 unreserved executions (new accounts often have 10)."""
ROTATION_MEMORY_MB = 128

ROTATION_APIS = ("secretsmanager", "elasticache")
"""AWS APIs the rotation handler calls (boto3 clients in handler.py)."""
# The function's only HTTPS egress is to the VPC (the interface endpoints); every API it
# calls must have one, or rotation fails with a connect timeout.
if missing := [s for s in ROTATION_APIS if s not in INTERFACE_ENDPOINT_SERVICES]:
    raise RuntimeError(f"the rotation function needs interface endpoints for {missing}")

PARAMETER_GROUP_DESCRIPTION = "Online store parameters"

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
SECRETS_MANAGER_PRINCIPAL = "secretsmanager.amazonaws.com"


@dataclass(frozen=True, kw_only=True)
class OnlineStoreArgs:
    account_id: str
    """The environment's account (trust and invoke conditions, ENI ARNs)."""
    region: str
    """Region of the group (ENI ARNs in the rotation role)."""
    replication_group_id: str
    """Explicit group id, e.g. ``feature-platform-dev-online`` (at most 40 characters)."""
    user_group_id: str
    """The group's user group, e.g. ``fp-dev-online`` (user groups are regional objects)."""
    default_user_id: str
    """The platform's ``default`` user, e.g. ``fp-dev-default``."""
    team_users: tuple[CacheUser, ...] = ()
    """The feature teams' IAM-authenticated users (``components/cache_access.py``)."""
    settings: OnlineStoreSettings
    """Engine, size, topology, windows and password rotation, validated by the config."""
    multi_az: bool
    """Spread replicas across AZs with automatic failover (config ``dataStores.multiAz``)."""
    vpc_id: pulumi.Input[str]
    """VPC of the security groups."""
    vpc_cidr: pulumi.Input[str]
    """The VPC's CIDR: the rotation function reaches the interface endpoints inside it."""
    data_subnet_ids: pulumi.Input[list[str]]
    """Subnets of the cache nodes (no internet route)."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Subnets of the rotation function (NAT and the Secrets Manager endpoint)."""
    interface_endpoints: Mapping[str, pulumi.Resource]
    """The VPC's interface endpoints by service; the rotation waits for those it calls."""
    client_security_group_id: pulumi.Input[str]
    """The only security group whose members may connect (the EKS nodes and pods)."""
    data_key_arn: pulumi.Input[str]
    """KMS key encrypting the cache at rest and its snapshots."""
    logs_key_arn: pulumi.Input[str]
    """KMS key encrypting the log groups."""
    secrets_key_arn: pulumi.Input[str]
    """KMS key encrypting the password secret and the function's environment."""
    log_retention_days: int
    """Retention of the cache and rotation log groups."""
    recovery_window_days: int
    """Days a deleted password secret can still be restored."""
    permissions_boundary_arn: str | None
    """Boundary capping the rotation role, if the organisation uses one."""
    protect: bool
    """Protect the group and the secret from deletion (prod)."""


class OnlineStore(pulumi.ComponentResource):
    """Valkey/Redis replication group: the low-latency feature store, TLS and RBAC users only."""

    replication_group_id: pulumi.Output[str]
    replication_group_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    """The configuration endpoint in cluster mode, the primary endpoint otherwise."""
    port: pulumi.Output[int]
    auth_secret_arn: pulumi.Output[str]
    user_group_id: pulumi.Output[str]
    team_user_arns: pulumi.Output[dict[str, str]]
    """By user id."""
    security_group_id: pulumi.Output[str]
    parameter_group_name: pulumi.Output[str]
    rotation_function_arn: pulumi.Output[str]
    rotation_function_name: pulumi.Output[str]
    rotation_security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: OnlineStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:data:OnlineStore", name, None, opts)
        if args.multi_az and args.settings.replicas_per_shard < 1:
            # AWS rejects Multi-AZ without a replica to fail over to.
            raise ValueError(
                f"{name}: multi-AZ needs at least one replica per shard "
                f"(replicas_per_shard={args.settings.replicas_per_shard})"
            )
        self._name, self._args = name, args
        network = self._security_groups()
        auth = self._password()
        default_user = self._default_user(auth)
        team_users = self._team_users()
        user_group = self._user_group(default_user, team_users)
        parameter_group = self._parameter_group()
        group = self._replication_group(network, user_group, parameter_group)
        function = self._rotation(network, auth, group, default_user)

        self.replication_group_id = group.id
        self.replication_group_arn = group.arn
        self.endpoint = (
            group.configuration_endpoint_address
            if args.settings.cluster_mode
            else group.primary_endpoint_address
        )
        # Set explicitly, so never None.
        self.port = cast(pulumi.Output[int], group.port)
        self.auth_secret_arn = auth.secret_arn
        self.user_group_id = user_group.id
        self.team_user_arns = (
            pulumi.Output.all(**{u: r.arn for u, r in team_users.items()})
            if team_users
            else pulumi.Output.from_input({})
        )
        self.security_group_id = network.cache.id
        self.parameter_group_name = parameter_group.name
        self.rotation_function_arn = function.arn
        self.rotation_function_name = function.name
        self.rotation_security_group_id = network.rotation.id
        self.register_outputs(
            {
                "replication_group_id": self.replication_group_id,
                "replication_group_arn": self.replication_group_arn,
                "endpoint": self.endpoint,
                "port": self.port,
                "auth_secret_arn": self.auth_secret_arn,
                "user_group_id": self.user_group_id,
                "team_user_arns": self.team_user_arns,
                "security_group_id": self.security_group_id,
                "parameter_group_name": self.parameter_group_name,
                "rotation_function_arn": self.rotation_function_arn,
                "rotation_security_group_id": self.rotation_security_group_id,
            }
        )

    # --- network ------------------------------------------------------------------------

    def _security_groups(self) -> _Network:
        name, args = self._name, self._args
        cache_sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="Online store: Valkey/Redis over TLS from platform clients only",
            tags={"Name": f"{name}-cache"},
            opts=child(self),
        )
        rotation_sg = aws.ec2.SecurityGroup(
            f"{name}-rotation-sg",
            vpc_id=args.vpc_id,
            # The description says "token": it is ForceNew, and replacing the group would
            # detach the function from its network for a wording.
            description="Online store token rotation: AWS APIs and the cache",
            tags={"Name": f"{name}-rotation"},
            opts=child(self),
        )
        # Rules are separate resources (never inline) and name security groups, never CIDRs:
        # membership, not an address range, decides who may talk to the cache. No egress
        # rules: replies to allowed connections pass anyway (security groups are stateful).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-clients",
            security_group_id=cache_sg.id,
            ip_protocol="tcp",
            from_port=CACHE_PORT,
            to_port=CACHE_PORT,
            referenced_security_group_id=args.client_security_group_id,
            description="Valkey/Redis from the cluster's workloads (platform and teams)",
            opts=child(self),
        )
        # The one exception to "clients only": the rotation function must AUTH and PING
        # with the pending password before Secrets Manager makes it current.
        path: list[pulumi.Resource] = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-from-rotation",
                security_group_id=cache_sg.id,
                ip_protocol="tcp",
                from_port=CACHE_PORT,
                to_port=CACHE_PORT,
                referenced_security_group_id=rotation_sg.id,
                description="Valkey/Redis from the password rotation function (AUTH probes)",
                opts=child(self),
            ),
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-rotation-to-cache",
                security_group_id=rotation_sg.id,
                ip_protocol="tcp",
                from_port=CACHE_PORT,
                to_port=CACHE_PORT,
                referenced_security_group_id=cache_sg.id,
                description="AUTH and PING the cache",
                opts=child(self),
            ),
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-rotation-to-endpoints",
                security_group_id=rotation_sg.id,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                cidr_ipv4=args.vpc_cidr,
                description="Interface VPC endpoints (Secrets Manager, ElastiCache)",
                opts=child(self),
            ),
        ]
        # The function reaches the AWS APIs only through the VPC's interface endpoints: a
        # rotation started before they are available fails with a connect timeout.
        path += [args.interface_endpoints[service] for service in ROTATION_APIS]
        return _Network(cache=cache_sg, rotation=rotation_sg, rotation_path=path)

    # --- users --------------------------------------------------------------------------

    def _password(self) -> GeneratedSecret:
        args = self._args
        # The logical name is the token's: the secret (and its ARN, which clients read) stays.
        return GeneratedSecret(
            f"{self._name}-auth",
            GeneratedSecretArgs(
                description="Password of the online store's default user (rotated by "
                "Secrets Manager)",
                kms_key_arn=args.secrets_key_arn,
                recovery_window_days=args.recovery_window_days,
                protect=args.protect,
                value_version=PASSWORD_VERSION,
            ),
            opts=child(self),
        )

    def _default_user(self, auth: GeneratedSecret) -> aws.elasticache.User:
        """The platform's clients: every key, no ``@dangerous`` command, the rotated password.

        The user named ``default`` is the one ``AUTH <password>`` selects, so the platform's
        clients (Feast's connection string takes one password) need no user name.
        """
        args = self._args
        return aws.elasticache.User(
            f"{self._name}-default-user",
            user_id=args.default_user_id,
            user_name=DEFAULT_USER_NAME,
            engine=args.settings.engine.value,
            access_string=PLATFORM_ACCESS,
            # Write-only, once: rotation changes the live password with ModifyUser, and the
            # provider never reads passwords back, so no run undoes a rotation.
            passwords_wo=auth.value,
            passwords_wo_version=DEFAULT_USER_PASSWORD_VERSION,
            opts=pulumi.ResourceOptions.merge(
                stateful(self, args.protect),
                # The rotation function's access to its users is by id: never two at once.
                pulumi.ResourceOptions(delete_before_replace=True),
            ),
        )

    def _team_users(self) -> dict[str, aws.elasticache.User]:
        """One IAM-authenticated user per team workload: no password exists to leak or rotate;
        the workload's role alone may ``elasticache:Connect`` as it."""
        args = self._args
        return {
            user.user_id: aws.elasticache.User(
                f"{self._name}-user-{user.user_id}",
                user_id=user.user_id,
                # IAM authentication requires the name to equal the id.
                user_name=user.user_id,
                engine=args.settings.engine.value,
                access_string=user.access_string,
                authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="iam"),
                tags=dict(user.tags),
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for user in args.team_users
        }

    def _user_group(
        self, default_user: aws.elasticache.User, team_users: Mapping[str, aws.elasticache.User]
    ) -> aws.elasticache.UserGroup:
        """Every user in one list: one ModifyUserGroup per change, where an association per
        user would race 200 modifications of one group."""
        args = self._args
        return aws.elasticache.UserGroup(
            f"{self._name}-users",
            user_group_id=args.user_group_id,
            engine=args.settings.engine.value,
            user_ids=[default_user.user_id, *(u.user_id for u in team_users.values())],
            opts=child(self),
        )

    # --- the cache --------------------------------------------------------------------------

    def _parameter_group(self) -> aws.elasticache.ParameterGroup:
        """One parameter group per engine family, kept in AWS when the family changes.

        A new family (7.2 -> 8.0, redis -> valkey) needs a new group, and with
        ``apply_immediately=False`` the replication group keeps using the old one until its
        maintenance window: deleting the old group in the same ``up`` fails (it is in use).
        So the family is part of the logical name (a new family is a new resource, never a
        replacement) and a group the program drops is only forgotten (``retain_on_delete``);
        the runbook removes it once the window has applied the change.
        """
        settings = self._args.settings
        family = settings.parameter_group_family
        return aws.elasticache.ParameterGroup(
            f"{self._name}-params-{family}",
            family=family,
            description=PARAMETER_GROUP_DESCRIPTION,
            parameters=[
                aws.elasticache.ParameterGroupParameterArgs(
                    name="maxmemory-policy", value=settings.maxmemory_policy.value
                ),
                # A custom group must state the cluster mode: ElastiCache refuses a group
                # without cluster-enabled=yes for a cluster-mode replication group.
                aws.elasticache.ParameterGroupParameterArgs(
                    name="cluster-enabled", value="yes" if settings.cluster_mode else "no"
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _log_delivery(self) -> list[aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs]:
        name, args = self._name, self._args
        return [
            aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                destination=encrypted_log_group(
                    f"{name}-{log_type}",
                    self,
                    name_prefix=f"{VENDED_LOGS_PREFIX}/{name}-{log_type}-",
                    retention_days=args.log_retention_days,
                    key_arn=args.logs_key_arn,
                    protect=args.protect,
                ).name,
                destination_type="cloudwatch-logs",
                log_format="json",
                log_type=log_type,
            )
            for log_type in CACHE_LOG_TYPES
        ]

    def _replication_group(
        self,
        network: _Network,
        user_group: aws.elasticache.UserGroup,
        parameter_group: aws.elasticache.ParameterGroup,
    ) -> aws.elasticache.ReplicationGroup:
        name, args = self._name, self._args
        settings = args.settings
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description="Online store: data subnets (no internet route)",
            subnet_ids=args.data_subnet_ids,
            opts=child(self),
        )
        if settings.cluster_mode:
            # Shards and their replicas; ElastiCache requires automatic failover here.
            topology: dict[str, int] = {
                "num_node_groups": settings.shards,
                "replicas_per_node_group": settings.replicas_per_shard,
            }
            failover = True
        else:
            # One shard: the provider counts its nodes (primary + replicas) instead, and
            # rejects num_node_groups/replicas_per_node_group alongside it.
            topology = {"num_cache_clusters": 1 + settings.replicas_per_shard}
            failover = args.multi_az
        return aws.elasticache.ReplicationGroup(
            f"{name}-group",
            # Explicit: the bridge's auto-name (logical name + 7 random characters) does not
            # fit the 40-character limit of the id.
            replication_group_id=args.replication_group_id,
            description="Feature platform online store",
            engine=settings.engine.value,
            engine_version=settings.engine_version,
            node_type=settings.node_type,
            port=CACHE_PORT,
            parameter_group_name=parameter_group.name,
            subnet_group_name=subnet_group.name,
            security_group_ids=[network.cache.id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.data_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode=TRANSIT_ENCRYPTION_MODE,
            # RBAC: clients authenticate as users of this group (AWS allows one group per
            # replication group). A group that had an AUTH token loses it in the same call.
            user_group_ids=[user_group.id],
            auth_token_update_strategy=AUTH_TOKEN_UPDATE_STRATEGY,
            cluster_mode="enabled" if settings.cluster_mode else "disabled",
            num_node_groups=topology.get("num_node_groups"),
            replicas_per_node_group=topology.get("replicas_per_node_group"),
            num_cache_clusters=topology.get("num_cache_clusters"),
            multi_az_enabled=args.multi_az,
            automatic_failover_enabled=failover,
            snapshot_retention_limit=settings.snapshot_retention_days,
            snapshot_window=settings.snapshot_window,
            maintenance_window=settings.maintenance_window,
            # Deleting the group keeps its data as a snapshot. The name is fixed, so a second
            # deletion fails until the old snapshot is removed: better than losing data.
            final_snapshot_identifier=f"{args.replication_group_id}-final",
            auto_minor_version_upgrade=True,
            # Changes to a live cache (node type, engine, parameters) wait for the
            # maintenance window instead of disturbing serving traffic mid-day.
            apply_immediately=False,
            log_delivery_configurations=self._log_delivery(),
            opts=pulumi.ResourceOptions.merge(
                stateful(self, args.protect),
                # The id is fixed, so a replacement cannot create the new group beside the
                # old one; `blueprint check` blocks a replacement unless it is allowed.
                pulumi.ResourceOptions(delete_before_replace=True),
            ),
        )

    # --- rotation -----------------------------------------------------------------------

    def _rotation(
        self,
        network: _Network,
        auth: GeneratedSecret,
        group: aws.elasticache.ReplicationGroup,
        user: aws.elasticache.User,
    ) -> aws.lambda_.Function:
        name, args = self._name, self._args
        logs = encrypted_log_group(
            f"{name}-rotation-logs",
            self,
            name_prefix=f"/aws/lambda/{name}-rotation-",
            retention_days=args.log_retention_days,
            key_arn=args.logs_key_arn,
            protect=args.protect,
        )
        role = aws.iam.Role(
            f"{name}-rotation-role",
            description="Online store password rotation (Lambda)",
            assume_role_policy=service_trust(LAMBDA_PRINCIPAL, args.account_id).to_json(),
            permissions_boundary=args.permissions_boundary_arn,
            opts=child(self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-rotation-policy",
            role=role.id,
            policy=self._rotation_policy(auth, group, user, logs, network).to_json(),
            opts=child(self),
        )
        function = aws.lambda_.Function(
            f"{name}-rotation",
            description="Rotates the online store's default user password for Secrets Manager",
            role=role.arn,
            runtime=ROTATION_RUNTIME,
            architectures=[ROTATION_ARCHITECTURE],
            handler=ROTATION_HANDLER,
            code=pulumi.AssetArchive({"handler.py": pulumi.FileAsset(str(ROTATION_HANDLER_FILE))}),
            timeout=ROTATION_TIMEOUT_SECONDS,
            memory_size=ROTATION_MEMORY_MB,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={"REPLICATION_GROUP_ID": group.id, "USER_ID": user.user_id}
            ),
            kms_key_arn=args.secrets_key_arn,
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                security_group_ids=[network.rotation.id],
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=logs.name
            ),
            # Lambda checks at creation that the role may create network interfaces.
            opts=child(self, depends_on=[role_policy, *network.rotation_path]),
        )
        invoke = aws.lambda_.Permission(
            f"{name}-rotation-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal=SECRETS_MANAGER_PRINCIPAL,
            # Only for this secret, in this account (confused-deputy guard).
            source_arn=auth.secret_arn,
            source_account=args.account_id,
            opts=child(self),
        )
        aws.secretsmanager.SecretRotation(
            f"{name}-rotation-schedule",
            secret_id=auth.secret_arn,
            rotation_lambda_arn=function.arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=args.settings.rotation_days
            ),
            # Rotate at once: Secrets Manager starts the first rotation when the schedule is
            # created (asynchronously: `pulumi up` does not wait for it; the post-deploy audit
            # checks it completed). Without it Secrets Manager would only run testSecret,
            # which fails for a password setSecret never applied.
            rotate_immediately=True,
            # A rotation needs everything in place: the group to modify, the permission to
            # invoke the function, the first secret version, and the network path to the
            # cache and to the APIs (the interface endpoints).
            opts=child(self, depends_on=[group, invoke, auth, role_policy, *network.rotation_path]),
        )
        return function

    def _rotation_policy(
        self,
        auth: GeneratedSecret,
        group: aws.elasticache.ReplicationGroup,
        user: aws.elasticache.User,
        logs: aws.cloudwatch.LogGroup,
        network: _Network,
    ) -> PolicyDocument:
        args = self._args
        eni_arn = f"arn:aws:ec2:{args.region}:{args.account_id}"
        return identity_policy(
            Statement(
                sid="StageToken",
                actions=(
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ),
                resources=(auth.secret_arn,),
            ),
            # createSecret asks Secrets Manager for the new password; the action has no
            # resource type, so "*" is the only form IAM accepts.
            Statement(
                sid="GenerateToken",
                actions=("secretsmanager:GetRandomPassword",),
                resources=("*",),
            ),
            # The password lives on the default user; the group is only read, for the
            # endpoint the AUTH probes go to.
            Statement(
                sid="SetPassword",
                actions=("elasticache:ModifyUser", "elasticache:DescribeUsers"),
                resources=(user.arn,),
            ),
            Statement(
                sid="FindEndpoint",
                actions=("elasticache:DescribeReplicationGroups",),
                resources=(group.arn,),
            ),
            # Reads and writes of the secret, and the function's encrypted environment.
            Statement(
                sid="UseSecretsKey",
                actions=("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
                resources=(args.secrets_key_arn,),
            ),
            Statement(
                sid="WriteLogs",
                actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                resources=(pulumi.Output.concat(logs.arn, ":*"),),
            ),
            # VPC access, written out instead of the AWS-managed AWSLambdaVPCAccessExecution
            # Role, which also grants log writes on every log group. Describe* has no
            # resource-level permissions; the rest is limited to this account and region,
            # and new interfaces to the function's own security group.
            Statement(
                sid="DescribeNetwork",
                actions=("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"),
                resources=("*",),
            ),
            Statement(
                sid="CreateInterfaces",
                actions=("ec2:CreateNetworkInterface",),
                resources=(
                    f"{eni_arn}:network-interface/*",
                    f"{eni_arn}:subnet/*",
                    network.rotation.arn,
                ),
            ),
            Statement(
                sid="ManageInterfaces",
                actions=(
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ),
                resources=(f"{eni_arn}:network-interface/*",),
            ),
        )


@dataclass(frozen=True)
class _Network:
    cache: aws.ec2.SecurityGroup
    """The cache's security group."""
    rotation: aws.ec2.SecurityGroup
    """The rotation function's security group."""
    rotation_path: list[pulumi.Resource]
    """What a rotation needs on the network: the rules to the cache, the API endpoints."""
