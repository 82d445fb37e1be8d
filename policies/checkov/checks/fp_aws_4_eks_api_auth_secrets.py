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

ACCESS = "access_config/[0]"


def _first(value: Any) -> Any:
    """A plan attribute's value: checkov wraps every attribute (and block) in a list."""
    return (value[0] if value else None) if isinstance(value, list) else value


def _block(conf: Any, key: str) -> dict[str, Any] | None:
    block = _first(conf.get(key)) if isinstance(conf, dict) else None
    return block if isinstance(block, dict) else None


def _is_false(value: Any) -> bool:
    value = _first(value)
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _strings(value: Any) -> list[str]:
    """Every string in a (possibly nested) list: a plan's list attribute is wrapped once more."""
    if isinstance(value, list):
        return [item for inner in value for item in _strings(inner)]
    return [value] if isinstance(value, str) else []


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
        access = _block(conf, "access_config")
        mode = _first(access.get("authentication_mode")) if access else None
        if mode != "API":
            problems.append(f"authentication_mode is {mode or 'not set'}, not API")
        bootstrap = access.get("bootstrap_cluster_creator_admin_permissions") if access else None
        if not _is_false(bootstrap):
            problems.append(
                "bootstrap_cluster_creator_admin_permissions is not false (its default is true)"
            )

        configs = conf.get("encryption_config")
        encrypted = any(
            "secrets" in _strings(config.get("resources"))
            for config in (configs if isinstance(configs, list) else [])
            if isinstance(config, dict)
        )
        if not encrypted:
            problems.append("Kubernetes Secrets are not envelope-encrypted (encryption_config)")

        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


check = EksApiAuthNoCreatorAdminSecretsEncrypted()
