"""Building blocks shared by the config models: the base model, rule errors, common checks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

ROLE_ARN_PATTERN = r"^arn:aws:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$"

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy); anything else
# fails at apply time, so it is rejected here instead.
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


class ConfigRuleError(ValueError):
    """Rules across fields were broken.

    Each violation is ``(key path relative to the model, what is allowed)``, so the loader can
    name the exact stack-file key; all violations are reported at once, not one per run.
    """

    def __init__(self, *violations: tuple[tuple[str, ...], str]) -> None:
        super().__init__("; ".join(f"{'.'.join(key)}: {msg}" for key, msg in violations))
        self.violations = violations


class ConfigModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


def retention_days(value: int) -> int:
    if value not in CLOUDWATCH_RETENTION_DAYS:
        allowed = ", ".join(str(v) for v in CLOUDWATCH_RETENTION_DAYS)
        raise ValueError(f"{value} is not a CloudWatch Logs retention value; allowed: {allowed}")
    return value
