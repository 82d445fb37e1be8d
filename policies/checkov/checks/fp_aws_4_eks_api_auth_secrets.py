"""CKV_FP_AWS_4: EKS takes access entries only, no creator admin, envelope-encrypted Secrets.

Why: with ``authentication_mode = "API"`` every principal's cluster access is an access entry
declared in code and visible in the EKS API; the ``aws-auth`` ConfigMap (``CONFIG_MAP`` or
``API_AND_CONFIG_MAP``) is an in-cluster, unaudited side door that anyone able to edit it can
widen. ``bootstrap_cluster_creator_admin_permissions`` (which defaults to true) would leave the
deploying role a cluster-admin entry that no code declares. Kubernetes Secrets must be
envelope-encrypted with the platform's ``cluster`` KMS key (see docs/security.md) so that etcd
backups and snapshots never hold them in clear. checkov's CKV_AWS_58 covers only the last.
"""

from __future__ import annotations

from typing import Any

from checkov.common.bridgecrew.severities import BcSeverities, Severities
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from fp_plan_values import block, first, is_false, strings  # beside this file (see its docstring)

ACCESS = "access_config/[0]"


class EksApiAuthNoCreatorAdminSecretsEncrypted(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Ensure EKS clusters use API authentication only, do not bootstrap the creator "
                "as admin and envelope-encrypt Secrets"
            ),
            id="CKV_FP_AWS_4",
            categories=(CheckCategories.IAM, CheckCategories.KUBERNETES),
            supported_resources=("aws_eks_cluster",),
            guideline="docs/security.md",
        )
        self.severity = Severities[BcSeverities.HIGH]

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = [
            f"{ACCESS}/authentication_mode",
            f"{ACCESS}/bootstrap_cluster_creator_admin_permissions",
            "encryption_config",
        ]
        problems: list[str] = []
        access = block(conf, "access_config")
        mode = first(access.get("authentication_mode")) if access else None
        if mode != "API":
            problems.append(f"authentication_mode is {mode or 'not set'}, not API")
        bootstrap = access.get("bootstrap_cluster_creator_admin_permissions") if access else None
        if not is_false(bootstrap):
            problems.append(
                "bootstrap_cluster_creator_admin_permissions is not false (its default is true)"
            )

        configs = conf.get("encryption_config")
        encrypted = any(
            "secrets" in strings(config.get("resources"))
            for config in (configs if isinstance(configs, list) else [])
            if isinstance(config, dict)
        )
        if not encrypted:
            problems.append("Kubernetes Secrets are not envelope-encrypted (encryption_config)")

        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


check = EksApiAuthNoCreatorAdminSecretsEncrypted()
