"""CKV_FP_AWS_2: the ElastiCache online store is encrypted at rest with our key and takes TLS only.

Why: the online store holds feature values served to models, so its snapshots and swap must be
encrypted with the platform's customer-managed ``data`` key (see docs/security.md), whose
policy and grants we control and whose use CloudTrail records; the AWS-owned default key
allows neither. Every connection must use TLS: the AUTH token (and the data) would otherwise
cross the network in clear, and ``transit_encryption_mode = "preferred"`` (a migration setting)
still accepts plain-text clients. checkov's CKV_AWS_29/30/191 each check one part, and none
rejects the ``preferred`` mode.
"""

from __future__ import annotations

from typing import Any

from checkov.common.bridgecrew.severities import BcSeverities, Severities
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from fp_plan_values import first, is_set, is_true  # beside this file (see its docstring)


class ElastiCacheCmkAndTlsRequired(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Ensure ElastiCache replication groups are encrypted at rest with a "
                "customer-managed KMS key and require TLS"
            ),
            id="CKV_FP_AWS_2",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_elasticache_replication_group",),
            guideline="docs/security.md",
        )
        self.severity = Severities[BcSeverities.CRITICAL]

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = [
            "at_rest_encryption_enabled",
            "kms_key_id",
            "transit_encryption_enabled",
            "transit_encryption_mode",
        ]
        problems: list[str] = []
        if not is_true(conf.get("at_rest_encryption_enabled")):
            problems.append("encryption at rest is not enabled")
        if not is_set(conf.get("kms_key_id")):
            problems.append("no customer-managed KMS key (kms_key_id)")
        if not is_true(conf.get("transit_encryption_enabled")):
            problems.append("encryption in transit is not enabled")
        mode = first(conf.get("transit_encryption_mode"))
        if mode not in (None, "", "required"):
            problems.append(f"transit_encryption_mode is {mode!r}: plain-text clients accepted")

        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


check = ElastiCacheCmkAndTlsRequired()
