"""Encryption at rest: customer-managed KMS keys everywhere data or logs are kept."""

from __future__ import annotations

from collections.abc import Iterator

from ._base import Config, Props, Severity, cis, fsbp, resource_policy


def _key_rotation(props: Props, config: Config) -> Iterator[str]:
    if props.get("enableKeyRotation") is not True:
        yield "automatic key rotation is off"


resource_policy(
    "kms-key-rotation",
    description="Customer-managed KMS keys rotate their key material automatically.",
    severity=Severity.MEDIUM,
    refs=(fsbp("KMS.4"), cis("3.6")),
    remediation="Set `enable_key_rotation=True` on the `aws.kms.Key` (yearly by default).",
    types=("aws:kms/key:Key",),
    check=_key_rotation,
)
