"""Preflight lines, the report they make up and its exit contract."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config

from blueprint.audit.model import Status
from blueprint.local.target import AwsTarget
from blueprint.preflight.needs import PlanNeeds
from components.config import StackConfig

RUNBOOK = "docs/runbooks/bootstrap-environment.md"
FEW_RETRIES = Config(retries={"mode": "standard", "max_attempts": 3})
"""For Service Quotas and the identity call: enough for throttling, while an endpoint that
cannot answer (an emulator's 500 for an unimplemented call) is not retried for a minute."""


class PreflightError(Exception):
    """Preflight cannot run (bad input, no credentials, unreachable or wrong account).

    The message names the fix; the CLI exits 2 with it, never with a traceback."""


@dataclass(frozen=True)
class Line:
    check: str
    subject: str
    """What was judged: a quota (code and name) or a role, key alias, policy."""
    status: Status
    detail: str = ""
    """What was found (values read, where they came from)."""
    fix: str = ""
    """What to do, in words; empty when the line passes."""


@dataclass
class PreflightContext:
    target: AwsTarget
    config: StackConfig
    needs: PlanNeeds
    account: str
    """The account the credentials reached (equal to the stack's, or preflight refused)."""
    secrets_provider: str | None = None
    """The stack file's ``secretsprovider`` URL, if any."""
    _quotas: Any = field(default=None, repr=False)

    @property
    def region(self) -> str:
        return self.target.region

    def client(self, service: str, region: str | None = None) -> Any:
        return self.target.client(service, region)

    def quotas_client(self) -> Any:
        if self._quotas is None:
            self._quotas = few_retries_client(self.target, "service-quotas")
        return self._quotas

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> Iterable[Any]:
        """Every item of a paginated listing."""
        for page in self.client(service).get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])


def few_retries_client(target: AwsTarget, service: str) -> Any:
    return target.new_client(service, config=FEW_RETRIES)


@dataclass
class PreflightReport:
    stack: str
    account: str
    region: str
    lines: list[Line] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for line in self.lines if line.status is status)

    @property
    def judged(self) -> int:
        """Lines that reached a verdict (pass or fail)."""
        return self.count(Status.PASS) + self.count(Status.FAIL)

    def exit_code(self, *, allow_not_checked: bool = False) -> int:
        """0 only when something was judged and nothing failed.

        A verdict that judged nothing must not pass, so all-"not checked" is 1 even when
        not-checked lines are otherwise allowed."""
        if self.judged == 0 or self.count(Status.FAIL):
            return 1
        if self.count(Status.NOT_CHECKED) and not allow_not_checked:
            return 1
        return 0

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s.value}" for s in Status)
        return (
            f"preflight of {self.stack} in account {self.account} ({self.region}): "
            f"{self.judged} of {len(self.lines)} lines judged; {counts}"
        )

    def as_json(self, *, allow_not_checked: bool = False) -> dict[str, object]:
        return {
            "stack": self.stack,
            "account": self.account,
            "region": self.region,
            "summary": {
                **{status.value: self.count(status) for status in Status},
                "judged": self.judged,
                "exit_code": self.exit_code(allow_not_checked=allow_not_checked),
            },
            "lines": [
                {
                    "check": line.check,
                    "subject": line.subject,
                    "result": line.status.value,
                    "detail": line.detail,
                    "fix": line.fix,
                }
                for line in self.lines
            ],
        }
