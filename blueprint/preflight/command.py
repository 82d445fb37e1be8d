"""``blueprint preflight``: read the stack, reach the account, judge every line.

Everything that makes preflight unable to run (a bad stack, a malformed or unreachable
endpoint, no credentials, the wrong account) is a :class:`PreflightError` whose message
names the fix; the CLI turns it into exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pulumi
import yaml
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)
from rich.console import Console
from rich.table import Table

from blueprint.audit.model import Status, error_code
from blueprint.capture import ResourceError, capture
from blueprint.local.target import AwsTarget
from blueprint.preflight.model import (
    PreflightContext,
    PreflightError,
    PreflightReport,
    few_retries_client,
)
from blueprint.preflight.needs import plan_needs
from blueprint.preflight.runner import run_preflight
from blueprint.stackfile import StackFileError, read_project, read_stack
from components.config import ConfigError, StackConfig, parse_engine_config
from components.config.keys import NAMESPACE
from components.config.loader import stack_file


@dataclass(frozen=True)
class StackInputs:
    config: StackConfig
    secrets_provider: str | None


def read_inputs(project_dir: Path, stack: str) -> StackInputs:
    """The stack's validated config (through the project's loader) and secrets provider."""
    try:
        settings = read_stack(read_project(project_dir), stack)
        # The same judgement as the program: every namespace, secure: values, then the models.
        config = parse_engine_config(
            settings.config,
            source=stack_file(stack),
            stack=stack,
            secret_keys=settings.secret_keys,
        )
    except (StackFileError, ConfigError) as exc:
        raise PreflightError(str(exc)) from None
    document = yaml.safe_load(settings.file.read_text()) or {}
    provider = document.get("secretsprovider")
    return StackInputs(config=config, secrets_provider=str(provider) if provider else None)


def make_target(endpoint: str | None, profile: str | None, region: str) -> AwsTarget:
    if endpoint is not None and profile:
        raise PreflightError("--endpoint (moto) and --profile (a real account) exclude each other")
    if endpoint is None and not profile:
        raise PreflightError(
            "say which account to check: --profile NAME for a real account, or --endpoint URL "
            "for a moto server (`blueprint moto-server`)"
        )
    if endpoint is not None:
        url = urlparse(endpoint)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise PreflightError(
                f"--endpoint {endpoint!r} is not a URL; expected http://HOST:PORT, "
                "e.g. http://127.0.0.1:5000 from `blueprint moto-server`"
            )
        return AwsTarget(region=region, endpoint_url=endpoint)
    return AwsTarget(region=region, profile=profile, emulated=False)


def reached_account(target: AwsTarget) -> str:
    """The account the credentials act in (sts:GetCallerIdentity needs no permission)."""
    where = target.endpoint_url or f"profile {target.profile}"
    try:
        return str(few_retries_client(target, "sts").get_caller_identity()["Account"])
    except ProfileNotFound:
        raise PreflightError(
            f"no AWS profile {target.profile!r}: add it to ~/.aws/config (`aws configure "
            "--profile NAME` or `aws configure sso`)"
        ) from None
    except NoCredentialsError:
        raise PreflightError(
            f"no credentials for {where}: log in (`aws sso login --profile NAME`) or "
            "configure the profile's keys"
        ) from None
    except EndpointConnectionError:
        raise PreflightError(
            f"cannot reach {where}: start a moto server (`blueprint moto-server`) or fix the URL"
        ) from None
    except ClientError as exc:
        raise PreflightError(
            f"{where} refused the credentials ({error_code(exc)}): refresh them and rerun"
        ) from None
    except BotoCoreError as exc:
        raise PreflightError(f"cannot reach {where}: {exc}") from None


def preflight(
    project_dir: Path,
    stack: str,
    *,
    endpoint: str | None,
    profile: str | None,
    region: str | None,
) -> PreflightReport:
    inputs = read_inputs(project_dir, stack)
    target = make_target(endpoint, profile, region or inputs.config.aws.region)
    if target.emulated:
        # A moto server acts as whichever account a request names: the stack's, as the local
        # deploy and the audit send it.
        target.account_id = inputs.config.aws.account_id
    account = reached_account(target)
    if account != inputs.config.aws.account_id:
        # Quotas and roles of another account say nothing about this stack's.
        raise PreflightError(
            f"the credentials reach account {account}, but stack {stack} deploys only to "
            f"{inputs.config.aws.account_id} ({NAMESPACE}:aws.accountId); use credentials of "
            "that account"
        )
    try:
        plan = capture(project_dir, stack)
    except (pulumi.RunError, ResourceError) as exc:
        raise PreflightError(f"the program failed for stack {stack}: {exc}") from None
    ctx = PreflightContext(
        target=target,
        config=inputs.config,
        needs=plan_needs(plan),
        account=account,
        secrets_provider=inputs.secrets_provider,
    )
    return run_preflight(ctx, stack)


STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.NOT_CHECKED: "yellow"}


def _short(subject: str) -> str:
    """The name part of an ARN or URL (``--json`` keeps the whole)."""
    if subject.startswith(("arn:", "awskms://")):
        return subject.split("?", 1)[0].rsplit("/", 1)[-1]
    return subject


def show(report: PreflightReport, console: Console) -> None:
    table = Table(title=f"preflight of {report.stack}")
    for column in ("check", "subject", "result", "detail and fix"):
        table.add_column(column, overflow="fold")
    for line in report.lines:
        result = f"[{STYLE[line.status]}]{line.status.value}[/]"
        detail = f"{line.detail}\n[bold]fix:[/bold] {line.fix}" if line.fix else line.detail
        table.add_row(line.check, _short(line.subject), result, detail)
    console.print(table)
    console.print(report.summary(), highlight=False)
