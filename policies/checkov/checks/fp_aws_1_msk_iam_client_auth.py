"""CKV_FP_AWS_1: MSK clients authenticate with IAM only, over TLS.

Why: access to topics and consumer groups is granted per workload by IAM policies (see
docs/security.md). Any other listener bypasses those policies: SASL/SCRAM relies on shared
secrets that must be stored and rotated, mutual TLS on client certificates nobody issues per
workload, and an unauthenticated listener lets anything in the VPC read and write every topic.
A PLAINTEXT (or TLS_PLAINTEXT) client-broker listener would send the records, and the SASL
exchange, in clear. checkov's CKV_AWS_81 checks encryption but not client authentication.
"""

from __future__ import annotations

from typing import Any

from checkov.common.bridgecrew.severities import BcSeverities, Severities
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from fp_plan_values import block, first, is_set, is_true  # beside this file (see its docstring)

AUTH = "client_authentication/[0]"
TRANSIT = "encryption_info/[0]/encryption_in_transit/[0]/client_broker"


class MSKClusterIamClientAuthOnly(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure MSK clients authenticate with IAM only, over TLS",
            id="CKV_FP_AWS_1",
            categories=(CheckCategories.IAM, CheckCategories.ENCRYPTION),
            supported_resources=("aws_msk_cluster",),
            guideline="docs/security.md",
        )
        self.severity = Severities[BcSeverities.CRITICAL]

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = [
            f"{AUTH}/sasl/[0]/iam",
            f"{AUTH}/sasl/[0]/scram",
            f"{AUTH}/unauthenticated",
            f"{AUTH}/tls/[0]/certificate_authority_arns",
            TRANSIT,
        ]
        problems: list[str] = []
        auth = block(conf, "client_authentication")
        sasl = block(auth, "sasl") if auth else None
        if not sasl or not is_true(sasl.get("iam")):
            problems.append("SASL/IAM client authentication is not enabled")
        if sasl and is_true(sasl.get("scram")):
            problems.append("SASL/SCRAM client authentication is enabled")
        if auth and is_true(auth.get("unauthenticated")):
            problems.append("unauthenticated client access is enabled")
        tls = block(auth, "tls") if auth else None
        if tls and is_set(tls.get("certificate_authority_arns")):
            problems.append("mutual-TLS client authentication is enabled")

        in_transit = block(block(conf, "encryption_info"), "encryption_in_transit")
        client_broker = first(in_transit.get("client_broker")) if in_transit else None
        if client_broker != "TLS":
            problems.append(f"client_broker is {client_broker or 'not set'}, not TLS")

        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


check = MSKClusterIamClientAuthOnly()
