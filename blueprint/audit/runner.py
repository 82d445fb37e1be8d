"""Run every check; a denied call makes a check "not checked", never a crash.

A check that ran but judged no resource is "not checked" too (*nothing in scope*). With a
stack, only the checks that apply to its plan run (:mod:`blueprint.audit.applicability`), so
the stack deploys what each of them reads (every environment of the platform deploys every
kind: buckets, keys, VPCs, the EKS cluster, the MSK cluster, the replication group, roles,
secrets, log groups, alarms, alert topics, the Prometheus workspace): an empty answer means the
audit looked in the wrong account, region or scope, never that the account conforms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from blueprint import exitcodes
from blueprint.audit import (  # noqa: F401 (register)
    alerting,
    data_plane,
    iam,
    keys,
    network,
    storage,
)
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
NOTHING_IN_SCOPE = "nothing in scope"
"""How a "not checked" finding of a check that judged no resource begins."""


def describe_scope(scope: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in scope.items()) or "every resource (--all)"


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)
    account: str = ""
    """The account audited (moto's ``x-moto-account-id``, or the one the profile reached)."""
    region: str = ""
    scope: dict[str, str] = field(default_factory=dict)
    """The tags a resource must carry to be judged; empty with ``--all``."""
    stack: str | None = None
    """The stack the account, region and scope came from, if any."""
    checks: list[str] = field(default_factory=list)
    """The checks that ran, in order."""
    plan: str | None = None
    """``<project>/<stack>`` whose plan selected the checks; None: every check ran."""
    not_applicable: dict[str, str] = field(default_factory=dict)
    """Checks not run because the plan deploys nothing they judge: check id -> why."""

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status is status)

    @property
    def judged(self) -> int:
        """Findings that reached a verdict (pass or fail)."""
        return self.count(Status.PASS) + self.count(Status.FAIL)

    def per_check(self, check_id: str) -> dict[Status, int]:
        found = [f.status for f in self.findings if f.check == check_id]
        return {status: found.count(status) for status in Status}

    def exit_code(self, *, allow_not_checked: bool = False) -> int:
        """0 only when something was judged, nothing failed and nothing went unchecked.

        ``allow_not_checked`` accepts "not checked" findings (denied calls, nothing in
        scope), but a run that judged nothing at all never passes."""
        if self.judged == 0 or self.count(Status.FAIL):
            return exitcodes.FINDINGS
        if self.count(Status.NOT_CHECKED) and not allow_not_checked:
            return exitcodes.FINDINGS
        return exitcodes.PASS

    def as_json(self, *, allow_not_checked: bool = False) -> dict[str, object]:
        return {
            "account": self.account,
            "region": self.region,
            "stack": self.stack,
            "scope": self.scope,
            "plan": self.plan,
            "summary": {
                **{status.value: self.count(status) for status in Status},
                "judged": self.judged,
                "exit_code": self.exit_code(allow_not_checked=allow_not_checked),
            },
            "checks": {
                check_id: {
                    "judged": counts[Status.PASS] + counts[Status.FAIL],
                    **{status.value: n for status, n in counts.items()},
                }
                for check_id in self.checks
                for counts in [self.per_check(check_id)]
            },
            "not_applicable": dict(self.not_applicable),
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


def _nothing_in_scope(ctx: AuditContext, check_id: str) -> Finding:
    account = ctx.target.account_id or "the credentials' account"
    detail = (
        f"{NOTHING_IN_SCOPE}: {CHECKS[check_id].service} returned no resource with "
        f"{describe_scope(ctx.scope)} in account {account}, {ctx.target.region}"
    )
    return Finding(check_id, "*", Status.NOT_CHECKED, detail)


def run_audit(ctx: AuditContext, only: set[str] | None = None) -> AuditReport:
    report = AuditReport(
        account=ctx.target.account_id or "",
        region=ctx.target.region,
        scope=dict(ctx.scope),
    )
    unreachable = ""
    for check in CHECKS.values():
        if only is not None and check.id not in only:  # an empty set runs nothing
            continue
        report.checks.append(check.id)
        if unreachable:  # every retry would wait again; say it once per check instead
            report.findings.append(Finding(check.id, "*", Status.NOT_CHECKED, unreachable))
            continue
        try:
            findings = list(check.run(ctx)) or [_nothing_in_scope(ctx, check.id)]
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
