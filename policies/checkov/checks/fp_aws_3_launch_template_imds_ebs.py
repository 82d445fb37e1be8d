"""CKV_FP_AWS_3: node launch templates require IMDSv2 with hop limit 1 and CMK-encrypted EBS.

Why: EKS pods get AWS credentials from Pod Identity, never from the node's instance role.
IMDSv2 (session tokens required) stops SSRF-style reads of the metadata service, and a
response hop limit of 1 keeps the token from reaching containers behind the node's network
namespace, so a pod cannot borrow the node role. Node root volumes hold container images,
logs and emptyDir data; they must be encrypted with the platform's customer-managed ``data``
key (see docs/security.md), not left to the AMI's snapshot or the account default.
checkov's CKV_AWS_79 passes any template whose endpoint is disabled and CKV_AWS_341 any
template without metadata options; no built-in check covers launch-template volumes.

A launch template with no EBS block device mapping fails: its root volume's encryption would
come from the AMI, outside the platform's control. Mappings without an ``ebs`` block
(instance-store or ``no_device`` entries) create no EBS volume and are not inspected.
"""

from __future__ import annotations

from typing import Any

from checkov.common.bridgecrew.severities import BcSeverities, Severities
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from fp_plan_values import block, first, is_set, is_true  # beside this file (see its docstring)

HOP_LIMIT = 1


def _as_int(value: Any) -> int | None:
    value = first(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class LaunchTemplateImdsV2AndEncryptedEbs(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Ensure launch templates require IMDSv2 with a hop limit of 1 and encrypt every "
                "EBS volume with a customer-managed KMS key"
            ),
            id="CKV_FP_AWS_3",
            categories=(CheckCategories.GENERAL_SECURITY, CheckCategories.ENCRYPTION),
            supported_resources=("aws_launch_template",),
            guideline="docs/security.md",
        )
        self.severity = Severities[BcSeverities.HIGH]

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = [
            "metadata_options/[0]/http_tokens",
            "metadata_options/[0]/http_put_response_hop_limit",
        ]
        problems: list[str] = []
        metadata = block(conf, "metadata_options")
        tokens = first(metadata.get("http_tokens")) if metadata else None
        if tokens != "required":
            problems.append(f"http_tokens is {tokens or 'not set'}, not required (IMDSv2)")
        hop_limit = _as_int(metadata.get("http_put_response_hop_limit")) if metadata else None
        if hop_limit != HOP_LIMIT:
            problems.append(
                f"http_put_response_hop_limit is {hop_limit or 'not set'}, not {HOP_LIMIT}"
            )

        mappings = conf.get("block_device_mappings")
        ebs_count = 0
        for index, mapping in enumerate(mappings if isinstance(mappings, list) else []):
            ebs = block(mapping, "ebs")
            if ebs is None:
                continue  # instance store or no_device: no EBS volume
            ebs_count += 1
            path = f"block_device_mappings/[{index}]/ebs/[0]"
            self.evaluated_keys += [f"{path}/encrypted", f"{path}/kms_key_id"]
            device = first(mapping.get("device_name")) or f"mapping {index}"
            if not is_true(ebs.get("encrypted")):
                problems.append(f"EBS volume {device} is not encrypted")
            if not is_set(ebs.get("kms_key_id")):
                problems.append(f"EBS volume {device} has no customer-managed KMS key")
        if not ebs_count:
            self.evaluated_keys.append("block_device_mappings")
            problems.append("no EBS block device mapping: root volume encryption left to the AMI")

        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


check = LaunchTemplateImdsV2AndEncryptedEbs()
