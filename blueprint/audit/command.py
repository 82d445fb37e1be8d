"""``blueprint audit``: which account, region and scope; reach exactly that; judge; show.

With a stack, the checks that run are those that apply to its plan (what it deploys, see
:mod:`blueprint.audit.applicability`); the others are reported as not applicable.

The account and region come from a stack (read through the project's config loader, as
``preflight`` reads them) or from explicit ``--account`` and ``--region``; never from a
default. A moto endpoint is told the account (``x-moto-account-id``); a profile must reach
it. Everything that keeps the audit from running (bad input, an unknown profile, no
credentials, an unreachable endpoint, another account) is an :class:`AuditError` whose
message names the fix; the CLI turns it into exit 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from blueprint import exitcodes
from blueprint.audit.applicability import Applicability, applicability
from blueprint.audit.model import AuditContext, Status, error_code
from blueprint.audit.runner import DEFAULT_SCOPE, AuditReport, describe_scope, run_audit
from blueprint.capture import Plan, capture
from blueprint.local.target import AwsTarget
from blueprint.preflight.command import make_target, reached_account, read_inputs
from blueprint.preflight.model import PreflightError
from blueprint.stackfile import StackFileError, read_project
from bootstrap.config import BootstrapConfig, read_bootstrap_stack
from components.config import ConfigError, StackConfig

ACCOUNT_ID = re.compile(r"\d{12}")
ENVIRONMENT_TAG = "environment"
"""The provider's default tag that tells one stack's resources from another's."""


class AuditError(Exception):
    """The audit cannot run; the message names the fix (the CLI exits 2 with it)."""


@dataclass(frozen=True)
class Where:
    """What is audited: one account, one region, the resources carrying ``scope``'s tags."""

    account: str
    region: str
    scope: dict[str, str] = field(default_factory=dict)
    stack: str | None = None

    @property
    def source(self) -> str:
        """Where the account came from, for messages."""
        return f"stack {self.stack}'s aws.accountId" if self.stack else "--account"


BOOTSTRAP_PROJECT = "feature-platform-bootstrap"
"""bootstrap/: its own config model, the same account, region and environment tag."""


def stack_where(project_dir: Path, stack: str) -> Where:
    """The stack's account, region and its own resources (project and environment tags)."""
    try:
        config: StackConfig | BootstrapConfig = (
            read_bootstrap_stack(project_dir, stack)
            if read_project(project_dir).name == BOOTSTRAP_PROJECT
            else read_inputs(project_dir, stack).config
        )
    except (PreflightError, StackFileError, ConfigError) as exc:
        raise AuditError(str(exc)) from None
    scope = {**DEFAULT_SCOPE, ENVIRONMENT_TAG: config.environment.value}
    return Where(config.aws.account_id, config.aws.region, scope, stack)


def _known_region(region: str) -> bool:
    session = botocore.session.get_session()
    return any(
        region in session.get_available_regions("ec2", partition)
        for partition in session.get_available_partitions()
    )


def resolve(
    project_dir: Path,
    *,
    stack: str | None,
    account: str | None,
    region: str | None,
    all_resources: bool = False,
) -> Where:
    if stack:
        where = stack_where(project_dir, stack)
        for option, given, expected in (
            ("--account", account, where.account),
            ("--region", region, where.region),
        ):
            if given and given != expected:
                raise AuditError(
                    f"{option} {given} contradicts stack {stack}, which deploys to {expected}; "
                    f"drop {option}, or audit the stack that deploys there"
                )
    else:
        if not account or not region:
            raise AuditError(
                "say which account and region to audit: a STACK (its aws.accountId and "
                "aws.region, e.g. `blueprint audit dev --profile P`), or --account ID "
                "--region R"
            )
        if not ACCOUNT_ID.fullmatch(account):
            raise AuditError(f"--account {account!r} is not an AWS account ID (12 digits)")
        if not _known_region(region):
            raise AuditError(f"--region {region!r} is not an AWS region (e.g. eu-central-1)")
        where = Where(account, region, dict(DEFAULT_SCOPE))
    return replace(where, scope={}) if all_resources else where


def _emulated_account(target: AwsTarget) -> str:
    """The account a moto endpoint acts as for the audit's own (header-carrying) clients."""
    try:
        return str(target.client("sts").get_caller_identity()["Account"])
    except ClientError as exc:
        raise AuditError(
            f"{target.endpoint_url} refused sts:GetCallerIdentity ({error_code(exc)}): "
            "is it a moto server (`blueprint moto-server`)?"
        ) from None
    except BotoCoreError as exc:
        raise AuditError(f"cannot reach {target.endpoint_url}: {exc}") from None


def connect(target: AwsTarget, where: Where) -> AwsTarget:
    """``target`` aimed at ``where``, once it is known to answer as ``where.account``."""
    target.region = where.region  # before any client exists: every one is made for it
    target.account_id = where.account  # sent as x-moto-account-id; real AWS ignores it
    try:
        reached = reached_account(target)
    except PreflightError as exc:  # unknown profile, no credentials, unreachable endpoint
        raise AuditError(str(exc)) from None
    if target.emulated:
        # moto acts as whichever account the header names; an endpoint that ignores it would
        # show its default account, empty of the platform, and "pass".
        reached = _emulated_account(target)
        if reached != where.account:
            raise AuditError(
                f"{target.endpoint_url} answers as account {reached}, not {where.account} "
                f"({where.source}): it ignores x-moto-account-id; use a moto server "
                "(`blueprint moto-server`)"
            )
    elif reached != where.account:
        raise AuditError(
            f"profile {target.profile} reaches account {reached}, but the audit is of account "
            f"{where.account} ({where.source}); use a profile of that account"
        )
    return target


def planned(project_dir: Path, stack: str) -> Applicability:
    """The checks that apply to what ``stack`` deploys, from its plan captured offline."""
    try:
        plan = capture(project_dir, stack)
    # Any error of the program: the audit cannot say what to judge, so it does not run
    # (exit 2 with the program's message, never a traceback or a guess).
    except Exception as exc:
        raise AuditError(
            f"cannot capture stack {stack}'s plan, which selects the checks that apply: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return applicability(plan)


def judge(target: AwsTarget, where: Where, applies: Applicability | None = None) -> AuditReport:
    """Run the checks that apply (every check without a plan: an account-wide audit)."""
    only = set(applies.applicable) if applies else None
    report = run_audit(AuditContext(target=target, scope=dict(where.scope)), only=only)
    report.account, report.region, report.stack = where.account, where.region, where.stack
    if applies:
        report.plan, report.not_applicable = applies.plan, dict(applies.not_applicable)
    return report


def audit(
    project_dir: Path,
    *,
    stack: str | None,
    endpoint: str | None,
    profile: str | None,
    account: str | None,
    region: str | None,
    all_resources: bool,
) -> AuditReport:
    try:
        # First: which kind of target (the options' own errors come before the stack's).
        target = make_target(endpoint, profile, region or "")
    except PreflightError as exc:
        raise AuditError(str(exc)) from None
    where = resolve(
        project_dir, stack=stack, account=account, region=region, all_resources=all_resources
    )
    target = connect(target, where)
    # A stack's audit judges what its plan deploys; an account-wide one runs every check.
    return judge(target, where, planned(project_dir, stack) if stack else None)


def audit_deployed(
    project_dir: Path, stack: str, endpoint_url: str | None, plan: Plan | None = None
) -> AuditReport:
    """After ``blueprint up --local``: the stack's own account and region, in the same moto,
    judged by the checks that apply to ``plan`` (what was deployed; captured when not given).
    """
    where = stack_where(project_dir, stack)
    target = AwsTarget(region=where.region, endpoint_url=endpoint_url, account_id=where.account)
    applies = applicability(plan) if plan is not None else planned(project_dir, stack)
    return judge(target, where, applies)


# --- presentation ------------------------------------------------------------------------

STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.NOT_CHECKED: "yellow"}


def _short(resource: str) -> str:
    """The name part of an ARN (the full ARN is in --json)."""
    return (
        resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if resource.startswith("arn:") else resource
    )


def findings_table(report: AuditReport, title: str) -> Table:
    table = Table(title=title)
    table.add_column("check")
    table.add_column("resource", overflow="fold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for finding in report.findings:
        table.add_row(
            finding.check,
            _short(finding.resource),
            f"[{STYLE[finding.status]}]{finding.status.value}[/]",
            finding.detail,
        )
    return table


def scope_line(report: AuditReport) -> str:
    stack = f" (stack {report.stack})" if report.stack else ""
    return (
        f"in scope: account {report.account}, region {report.region}{stack}; "
        f"resources tagged {describe_scope(report.scope)}"
    )


def scope_table(report: AuditReport) -> Table:
    table = Table(title="resources judged per check")
    table.add_column("check")
    table.add_column("judged", justify="right")
    for status in Status:
        table.add_column(status.value, justify="right")
    for check_id in report.checks:
        counts = report.per_check(check_id)
        judged = counts[Status.PASS] + counts[Status.FAIL]
        shown = str(judged) if judged else "[yellow]0[/]"
        table.add_row(check_id, shown, *(str(counts[s]) for s in Status))
    return table


def not_applicable_lines(report: AuditReport) -> list[str]:
    """One line per check the plan gave nothing to judge."""
    return [f"{c} not applicable: {why}" for c, why in report.not_applicable.items()]


def verdict_line(report: AuditReport, *, allow_not_checked: bool) -> str:
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in Status)
    line = f"audit: {counts}; {report.judged} resources judged"
    if report.plan:
        total = len(report.checks) + len(report.not_applicable)
        line += f" by {len(report.checks)} of {total} checks (the others not applicable)"
    code = report.exit_code(allow_not_checked=allow_not_checked)
    if code == exitcodes.PASS:
        return f"{line}: [green]pass[/]"
    if report.plan and not report.checks:
        return (
            f"{line}: [red]fail[/], no check applies to the plan of {report.plan}: "
            "the audit judged nothing"
        )
    if report.judged == 0:
        why = "nothing could be judged (--allow-not-checked does not accept that)"
    elif report.count(Status.FAIL):
        why = "a check failed"
    else:
        why = "not checked is not a pass (--allow-not-checked accepts it)"
    return f"{line}: [red]fail[/], {why}"


def show(report: AuditReport, console: Console, title: str, *, allow_not_checked: bool) -> None:
    console.print(findings_table(report, title))
    console.print(scope_table(report))
    # Whole lines, never wrapped: they are what a pipeline log is searched for.
    for line in not_applicable_lines(report):
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    console.print(scope_line(report), highlight=False, soft_wrap=True)
    console.print(
        verdict_line(report, allow_not_checked=allow_not_checked), highlight=False, soft_wrap=True
    )
