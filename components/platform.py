"""FeaturePlatform: the whole environment, composed from the components."""

from __future__ import annotations

import pulumi

from components import iam_documents as iam
from components.config import StackConfig
from components.encryption import Encryption, EncryptionArgs
from components.identity import WorkloadIdentity, WorkloadIdentityArgs
from components.network import Network, NetworkArgs
from components.provider import PROJECT, aws_provider
from components.secrets import GeneratedSecret, GeneratedSecretArgs
from components.storage import Storage, StorageArgs

FEATURE_NAMESPACE = "feature-platform"
"""Kubernetes namespace of the platform's own workloads."""


class FeaturePlatform(pulumi.ComponentResource):
    """Network, keys, storage, secrets and workload identities of one environment."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    data_subnet_ids: pulumi.Output[list[str]]
    offline_store_bucket: pulumi.Output[str]
    registry_bucket: pulumi.Output[str]
    access_logs_bucket: pulumi.Output[str]
    data_key_arn: pulumi.Output[str]
    online_store_auth_secret_arn: pulumi.Output[str]
    workload_role_arns: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("featureplatform:platform:FeaturePlatform", name, None, opts)
        provider = aws_provider(f"{name}-aws", config, pulumi.ResourceOptions(parent=self))
        # Every component (and so every AWS resource) gets the tagged provider explicitly.
        uses_provider = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        account, region = config.aws.account_id, config.aws.region
        protect = config.protection.protect_stateful

        encryption = Encryption(
            f"{name}-kms",
            EncryptionArgs(
                account_id=account,
                region=region,
                alias_prefix=f"{PROJECT}-{config.environment.value}",
                key_admin_role_arn=config.kms.key_admin_role_arn,
                deletion_window_days=config.kms.deletion_window_days,
                protect=protect,
            ),
            opts=uses_provider,
        )
        network = Network(
            f"{name}-network",
            NetworkArgs(
                region=region,
                account_id=account,
                plan=config.subnet_plan,
                nat_gateways=config.network.nat_gateways,
                flow_log_retention_days=config.network.flow_log_retention_days,
                logs_key_arn=encryption.logs_key_arn,
                protect=protect,
            ),
            opts=uses_provider,
        )
        storage = Storage(
            f"{name}-storage",
            StorageArgs(
                account_id=account,
                data_key_arn=encryption.data_key_arn,
                force_destroy=config.storage.force_destroy,
                noncurrent_version_expiration_days=config.storage.noncurrent_version_expiration_days,
                offline_tiering_days=config.storage.offline_tiering_days,
                access_log_expiration_days=config.storage.access_log_expiration_days,
                protect=protect,
            ),
            opts=uses_provider,
        )
        online_store_auth = GeneratedSecret(
            f"{name}-online-store-auth",
            GeneratedSecretArgs(
                description="AUTH token of the online store (ElastiCache)",
                kms_key_arn=encryption.secrets_key_arn,
                recovery_window_days=config.secrets.recovery_window_days,
                protect=protect,
            ),
            opts=uses_provider,
        )

        # Workload identities: each gets exactly the buckets, secrets and keys it uses.
        workloads: dict[str, tuple[iam.Statement, ...]] = {
            # Serves online features: reads feature definitions and the store credential.
            "feature-server": (
                *iam.s3_read("Registry", storage.registry_arn),
                iam.secret_read("OnlineStoreAuth", online_store_auth.secret_arn),
                iam.kms_use(
                    "DecryptDataAndSecrets", encryption.data_key_arn, encryption.secrets_key_arn
                ),
            ),
            # Moves features from the offline store into the online store.
            "materialization": (
                *iam.s3_read("Registry", storage.registry_arn),
                *iam.s3_read("OfflineStore", storage.offline_store_arn),
                iam.secret_read("OnlineStoreAuth", online_store_auth.secret_arn),
                iam.kms_use(
                    "DecryptDataAndSecrets", encryption.data_key_arn, encryption.secrets_key_arn
                ),
            ),
            # Lands feature events from Kafka in the offline store.
            "ingestion": (
                *iam.s3_write("OfflineStore", storage.offline_store_arn),
                iam.kms_use("EncryptData", encryption.data_key_arn, encrypt=True),
            ),
        }
        roles = {
            workload: WorkloadIdentity(
                f"{name}-{workload}",
                WorkloadIdentityArgs(
                    account_id=account,
                    region=region,
                    namespace=FEATURE_NAMESPACE,
                    service_account=workload,
                    statements=statements,
                    permissions_boundary_arn=config.identity.permissions_boundary_arn,
                ),
                opts=uses_provider,
            )
            for workload, statements in workloads.items()
        }

        self.vpc_id = network.vpc_id
        self.private_subnet_ids = network.private_subnet_ids
        self.data_subnet_ids = network.data_subnet_ids
        self.offline_store_bucket = storage.offline_store_bucket
        self.registry_bucket = storage.registry_bucket
        self.access_logs_bucket = storage.access_logs_bucket
        self.data_key_arn = encryption.data_key_arn
        self.online_store_auth_secret_arn = online_store_auth.secret_arn
        self.workload_role_arns = pulumi.Output.all(
            **{workload: role.role_arn for workload, role in roles.items()}
        )
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output[object]]:
        """The stack outputs, by name (``__main__`` exports exactly these)."""
        return {
            "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids,
            "data_subnet_ids": self.data_subnet_ids,
            "offline_store_bucket": self.offline_store_bucket,
            "registry_bucket": self.registry_bucket,
            "access_logs_bucket": self.access_logs_bucket,
            "data_key_arn": self.data_key_arn,
            "online_store_auth_secret_arn": self.online_store_auth_secret_arn,
            "workload_role_arns": self.workload_role_arns,
        }
