"""Run every check; a denied call makes a check "not checked", never a crash."""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from blueprint.audit import data_plane, iam, keys, network, storage  # noqa: F401 (register)
from blueprint.audit.model import (
    ACCESS_DENIED,
    CHECKS,
    AuditContext,
    Finding,
    Status,
    error_code,
)

DEFAULT_SCOPE = {"project": "feature-platform"}
"""The platform's own resources, by the tag its provider puts on all of them."""


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status is status)

    @property
    def ok(self) -> bool:
        return self.count(Status.FAIL) == 0

    def as_json(self) -> dict[str, object]:
        return {
            "summary": {status.value: self.count(status) for status in Status},
            "findings": [
                {
                    "check": f.check,
                    "resource": f.resource,
                    "result": f.status.value,
                    "detail": f.detail,
                }
                for f in self.findings
            ],
        }


def run_audit(ctx: AuditContext, only: set[str] | None = None) -> AuditReport:
    report = AuditReport()
    unreachable = ""
    for check in CHECKS.values():
        if only and check.id not in only:
            continue
        if unreachable:  # every retry would wait again; say it once per check instead
            report.findings.append(Finding(check.id, "*", Status.NOT_CHECKED, unreachable))
            continue
        try:
            findings = list(check.run(ctx))
        except ClientError as exc:
            code = error_code(exc)
            if code in ACCESS_DENIED:
                detail = f"{code}: needs {', '.join(check.permissions)}"
            else:
                detail = f"{code}: {exc}"
            findings = [Finding(check.id, "*", Status.NOT_CHECKED, detail)]
        except EndpointConnectionError as exc:
            unreachable = str(exc)
            findings = [Finding(check.id, "*", Status.NOT_CHECKED, unreachable)]
        except BotoCoreError as exc:  # credentials missing, retries exhausted
            findings = [Finding(check.id, "*", Status.NOT_CHECKED, str(exc))]
        report.findings += findings
    return report
