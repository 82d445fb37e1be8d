"""Run every prerequisite and quota line; a failing AWS call makes its line "not checked"."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from botocore.exceptions import BotoCoreError, ClientError

from blueprint.audit.model import ACCESS_DENIED, Status, error_code
from blueprint.preflight.model import Line, PreflightContext, PreflightReport
from blueprint.preflight.prerequisites import PREREQUISITES
from blueprint.preflight.quotas import QUOTA_PERMISSIONS, QUOTAS, judge


def guarded(
    check: str, subject: str, permissions: tuple[str, ...], run: Callable[[], Line]
) -> Line:
    """The line ``run`` decides, or "not checked" saying why AWS did not answer."""
    try:
        return run()
    except ClientError as exc:
        code = error_code(exc)
        if code in ACCESS_DENIED:
            needs = ", ".join(permissions)
            return Line(
                check, subject, Status.NOT_CHECKED, f"{code}", f"allow {needs} to the caller"
            )
        return Line(
            check,
            subject,
            Status.NOT_CHECKED,
            f"{code}: {exc}",
            "rerun; if it persists, check by hand",
        )
    except NotImplementedError as exc:  # an emulator (moto) without the call
        return Line(
            check, subject, Status.NOT_CHECKED, f"not implemented here: {exc}", "check by hand"
        )
    except BotoCoreError as exc:  # retries exhausted, connection dropped
        return Line(check, subject, Status.NOT_CHECKED, str(exc), "rerun")


def run_preflight(ctx: PreflightContext, stack: str) -> PreflightReport:
    report = PreflightReport(stack=stack, account=ctx.account, region=ctx.region)
    for prereq in PREREQUISITES:
        if not (prereq.id and prereq.subjects):
            continue  # documented only: nothing in the account shows it
        for subject in prereq.subjects(ctx):
            report.lines.append(
                guarded(
                    prereq.id,
                    subject,
                    prereq.permissions,
                    partial(prereq.judge, ctx, subject),
                )
            )
    for quota in QUOTAS:
        report.lines.append(
            guarded(
                quota.id,
                quota.subject,
                QUOTA_PERMISSIONS + quota.permissions,
                partial(judge, ctx, quota),
            )
        )
    return report
