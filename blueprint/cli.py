"""The ``blueprint`` command line: the platform's program, run offline.

Every command works on the project in the current directory (or ``--project``), never on
an installed copy, so what it shows is what ``pulumi up`` in that checkout would do.
"""

from __future__ import annotations

import enum
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pulumi
import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from blueprint import diagram, plan_json
from blueprint.capture import Plan, ResourceError, capture
from blueprint.check import CheckError
from blueprint.check.command import preview_capture
from blueprint.check.judge import Exports, judge_stack, show, write_reports
from blueprint.check.replacements import against_base
from blueprint.check.verdict import SEVERITIES
from blueprint.diff.allowances import ALLOWANCES_FILE
from blueprint.diff.allowances import load as load_allowances
from blueprint.stackfile import StackFileError

if TYPE_CHECKING:
    # Imported where used: boto3, moto and the audit cost about half a second at start-up
    # that `check` and `preview` never need.
    from blueprint.audit.runner import AuditReport
    from blueprint.local.engine import LocalDeploy
    from blueprint.local.target import AwsTarget

app = typer.Typer(
    name="blueprint",
    help="Run the feature-platform program offline: no AWS account, no Pulumi CLI.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # messages stay whole, greppable

ProjectOption = Annotated[
    Path,
    typer.Option("--project", help="Project directory (holds Pulumi.yaml).", show_default=False),
]
StackArgument = Annotated[
    str, typer.Argument(help="Stack name: a stacks/Pulumi.<stack>.yaml file.", show_default=False)
]
DEFAULT_REGION = "eu-central-1"


class Severity(enum.StrEnum):
    """``--severity-threshold`` choices: the verdict's severities, lowest first."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


assert tuple(Severity) == SEVERITIES
MOTO_AMIS = "MOTO_EC2_LOAD_DEFAULT_AMIS"


@app.callback()
def _root() -> None:
    """Run the feature-platform program offline: no AWS account, no Pulumi CLI."""


def _fail(message: str, code: int) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def _program_errors() -> Iterator[None]:
    """Turn the program's own errors into one clean message and a non-zero exit."""
    try:
        yield
    except StackFileError as exc:
        raise _fail(str(exc), 2) from None
    except pulumi.RunError as exc:
        raise _fail(str(exc), 1) from None
    except ResourceError as exc:
        raise _fail(f"AWS rejected a resource: {exc}", 1) from None


def render_tree(plan: Plan) -> Tree:
    """Component nesting as ``pulumi preview`` shows it: type, then name."""
    root = Tree(f"[bold]pulumi:pulumi:Stack[/bold] {plan.project}-{plan.stack}")
    nodes: dict[str, Tree] = {}
    for resource in plan.resources:
        label = f"{resource.type} [cyan]{resource.name}[/cyan]"
        if resource.protect:
            label += " [yellow](protected)[/yellow]"
        nodes[resource.urn] = nodes.get(resource.parent, root).add(label)
    return root


def render_summary(plan: Plan) -> Table:
    table = Table(title=f"{plan.stack}: resources by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    counts = Counter(r.type for r in plan.resources)
    for type_, count in sorted(counts.items()):
        table.add_row(type_, str(count))
    table.add_row("[bold]total[/bold]", f"[bold]{sum(counts.values())}[/bold]")
    return table


@app.command()
def preview(
    stack: StackArgument,
    project: ProjectOption = Path(),
    json_file: Annotated[
        Path | None,
        typer.Option("--json", help="Write the plan as JSON (pulumi preview --json shape)."),
    ] = None,
    diagram_file: Annotated[
        Path | None, typer.Option("--diagram", help="Write a Mermaid architecture diagram.")
    ] = None,
) -> None:
    """Show what the program would create for STACK, as a tree and a summary."""
    with _program_errors():
        plan = capture(project.resolve(), stack, preview=True)
    console.print(render_tree(plan))
    console.print(render_summary(plan))
    if json_file:
        json_file.write_text(json.dumps(plan_json.to_json(plan), indent=2) + "\n")
        console.print(f"plan written to {json_file}")
    if diagram_file:
        text = diagram.markdown(plan) if diagram_file.suffix == ".md" else diagram.render(plan)
        diagram_file.write_text(text)
        console.print(f"diagram written to {diagram_file}")


def _deploy_summary(result: LocalDeploy, seconds: float) -> Table:
    outcome = result.outcome
    table = Table(title=f"{result.plan.stack} deployed into moto in {seconds:.1f} s")
    table.add_column("how")
    table.add_column("resources", justify="right")
    table.add_column("types")
    rows = [
        ("created in moto", outcome.created),
        ("data sources answered by moto", [(token, "") for token in outcome.calls]),
        ("simulated (moto cannot create)", outcome.simulated),
    ]
    for label, items in rows:
        types = ", ".join(sorted({t.split(":")[-1] for t, _ in items}))
        table.add_row(label, str(len(items)), types or "—")
    for type_, name, prop in outcome.unapplied:
        table.add_row("not applied by moto", "", f"{name}.{prop} ({type_.split(':')[-1]})")
    return table


def _short(resource: str) -> str:
    """The name part of an ARN (the full ARN is in --json)."""
    return (
        resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if resource.startswith("arn:") else resource
    )


def render_report(report: AuditReport, title: str) -> Table:
    table = Table(title=title)
    table.add_column("check")
    table.add_column("resource", overflow="fold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    from blueprint.audit.model import Status  # noqa: PLC0415 (see TYPE_CHECKING above)

    style = {Status.PASS: "green", Status.FAIL: "red", Status.NOT_CHECKED: "yellow"}
    for finding in report.findings:
        table.add_row(
            finding.check,
            _short(finding.resource),
            f"[{style[finding.status]}]{finding.status.value}[/]",
            finding.detail,
        )
    return table


def _report_and_exit(
    report: AuditReport, title: str, json_file: Path | None, *, code: int = 0
) -> None:
    """Print and write the report; exit 1 on a failed check (or ``code``, a finding before)."""
    from blueprint.audit.model import Status  # noqa: PLC0415 (see TYPE_CHECKING above)

    console.print(render_report(report, title))
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in Status)
    console.print(f"audit: {counts}")
    if json_file:
        json_file.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    if not report.ok or code:
        raise typer.Exit(1)


@app.command()
def up(
    stack: StackArgument,
    local: Annotated[
        bool, typer.Option("--local", help="Deploy into moto, the embedded AWS (required).")
    ] = False,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="A moto server URL instead of in-process moto."),
    ] = None,
    project: ProjectOption = Path(),
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the audit findings as JSON.")
    ] = None,
) -> None:
    """Create STACK's resources in moto, then audit the result."""
    if not local:
        raise _fail(
            "only local deploys are possible here; use `blueprint up STACK --local`, "
            "or `pulumi up --stack STACK` against a real account",
            2,
        )
    _with_moto(endpoint, lambda target: _up(project, stack, target, json_file))


def _up(project: Path, stack: str, target: AwsTarget, json_file: Path | None) -> None:
    from blueprint.audit.model import AuditContext  # noqa: PLC0415 (see TYPE_CHECKING above)
    from blueprint.audit.runner import DEFAULT_SCOPE, run_audit  # noqa: PLC0415
    from blueprint.local.engine import deploy  # noqa: PLC0415

    started = time.perf_counter()
    with _program_errors():
        result = deploy(project.resolve(), stack, target)
    console.print(_deploy_summary(result, time.perf_counter() - started))
    failed = _print_rotations(result)
    scope = {**DEFAULT_SCOPE, "environment": _environment(result.plan)}
    report = run_audit(AuditContext(target=result.target, scope=scope))
    # In AWS the rotation runs after `pulumi up` returns; here it ran during the deploy, and
    # a secret left with AWSPENDING would refuse every later rotation: a finding.
    _report_and_exit(
        report, f"conformance audit of {stack} in moto", json_file, code=1 if failed else 0
    )


def _print_rotations(result: LocalDeploy) -> bool:
    """One line per secret rotation the deploy ran; True when any did not complete."""
    failed = False
    for rotation in result.rotations():
        if rotation.completed:
            console.print(
                f"rotation by {rotation.function}: completed ({rotation.steps} invocations, "
                f"{rotation.attempts} attempt(s))",
                highlight=False,
            )
        else:
            failed = True
            errors.print(
                f"[red]rotation by {rotation.function} did not complete[/red] after "
                f"{rotation.attempts} attempt(s): {rotation.error or 'no step ran'}; see "
                "docs/runbooks/rotate-online-store-token.md",
                highlight=False,
            )
    return failed


def _environment(plan: Plan) -> str:
    provider = next(r for r in plan.resources if r.type == "pulumi:providers:aws")
    tags: dict[str, str] = json.loads(provider.inputs.get("defaultTags", "{}")).get("tags", {})
    return tags.get("environment", plan.stack)


def _with_moto(endpoint: str | None, action: Callable[[AwsTarget], None]) -> None:
    """Run ``action(target)`` against in-process moto, or the moto server at ``endpoint``."""
    from moto import mock_aws  # noqa: PLC0415 (see TYPE_CHECKING above)

    from blueprint.local.target import MOTO_CONFIG, AwsTarget  # noqa: PLC0415

    if endpoint:
        action(AwsTarget(region=DEFAULT_REGION, endpoint_url=endpoint))
        return
    # moto intercepts every botocore call inside this block, and no real credentials are
    # visible in it, so nothing could ever reach a real account. The platform uses no
    # AMIs, so moto need not load its catalogue of them (about a second).
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    saved = {k: os.environ.pop(k) for k in keys if k in os.environ}
    saved_amis = os.environ.get(MOTO_AMIS)
    os.environ[MOTO_AMIS] = "false"
    try:
        with mock_aws(config=MOTO_CONFIG):
            action(AwsTarget(region=DEFAULT_REGION))
    finally:
        os.environ.update(saved)
        if saved_amis is None:
            os.environ.pop(MOTO_AMIS, None)
        else:
            os.environ[MOTO_AMIS] = saved_amis


@app.command()
def audit(
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Audit a moto server at this URL.")
    ] = None,
    region: Annotated[str, typer.Option("--region", help="Region to audit.")] = DEFAULT_REGION,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile of a real (read-only) account.")
    ] = None,
    all_resources: Annotated[
        bool,
        typer.Option(
            "--all", help="Judge every resource, not only those tagged project=feature-platform."
        ),
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the findings as JSON.")
    ] = None,
) -> None:
    """Read-only conformance checks of an account (a moto server, or a real one)."""
    if endpoint and profile:
        raise _fail("--endpoint (moto) and --profile (a real account) exclude each other", 2)
    if not endpoint and not profile:
        raise _fail(
            "say what to audit: --endpoint URL for a moto server "
            "(`blueprint moto-server`), or --profile NAME for a real account",
            2,
        )
    from blueprint.audit.model import AuditContext  # noqa: PLC0415 (see TYPE_CHECKING above)
    from blueprint.audit.runner import DEFAULT_SCOPE, run_audit  # noqa: PLC0415
    from blueprint.local.target import AwsTarget  # noqa: PLC0415

    target = AwsTarget(region=region, endpoint_url=endpoint, profile=profile, emulated=not profile)
    scope = {} if all_resources else DEFAULT_SCOPE
    report = run_audit(AuditContext(target=target, scope=scope))
    where = endpoint or f"profile {profile}"
    _report_and_exit(report, f"conformance audit of {where} ({region})", json_file)


@app.command()
def preflight(  # noqa: PLR0917 (typer: one parameter per option)
    stack: StackArgument,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile of the stack's account.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="A moto server URL instead of an account.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Region to check (default: the stack's).")
    ] = None,
    allow_not_checked: Annotated[
        bool,
        typer.Option("--allow-not-checked", help="Pass despite lines that could not be checked."),
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the lines as JSON.")
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Read-only check of an account against what STACK's plan needs: prerequisites, quotas.

    Exits 0 when every line passes, 1 on a failed line (or a not-checked one, unless
    allowed, or when nothing could be checked), 2 when preflight cannot run.
    """
    from blueprint.preflight import command  # noqa: PLC0415 (see TYPE_CHECKING above)
    from blueprint.preflight.model import PreflightError  # noqa: PLC0415

    try:
        report = command.preflight(
            project.resolve(), stack, endpoint=endpoint, profile=profile, region=region
        )
    except PreflightError as exc:
        raise _fail(str(exc), 2) from None
    command.show(report, console)
    if json_file:
        document = report.as_json(allow_not_checked=allow_not_checked)
        json_file.write_text(json.dumps(document, indent=2) + "\n")
    raise typer.Exit(report.exit_code(allow_not_checked=allow_not_checked))


@app.command()
def check(  # noqa: PLR0917 (typer: one parameter per option)
    stack: StackArgument,
    project: ProjectOption = Path(),
    policy_packs: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy-pack",
            help="A policy pack directory (repeatable); replaces the default policies/.",
        ),
    ] = None,
    policy_pack_configs: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy-pack-config",
            help="Config for the pack at the same position (repeatable); default for "
            "policies/: policies/config/STACK.json.",
        ),
    ] = None,
    use_checkov: Annotated[
        bool,
        typer.Option(
            "--checkov/--no-checkov",
            help="Also scan the plan with checkov (its own environment, .tools/checkov).",
        ),
    ] = True,
    threshold: Annotated[
        Severity,
        typer.Option(
            "--severity-threshold",
            help="Fail on unsuppressed failures at or above this severity.",
            case_sensitive=False,
        ),
    ] = Severity.low,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the pack report and verdict as JSON.")
    ] = None,
    sarif_file: Annotated[
        Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0 (GitHub code scanning).")
    ] = None,
    junit_file: Annotated[
        Path | None,
        typer.Option("--junit", help="Write JUnit XML (one case per check and resource)."),
    ] = None,
    markdown_file: Annotated[
        Path | None, typer.Option("--markdown", help="Write a pull-request comment (Markdown).")
    ] = None,
    export_tfplan: Annotated[
        Path | None,
        typer.Option("--export-tfplan", help="Write the Terraform plan JSON checkov judged."),
    ] = None,
    export_manifests: Annotated[
        Path | None,
        typer.Option("--export-manifests", help="Write the Kubernetes manifests checkov judged."),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Also fail on replacing or deleting a protected or stateful resource, "
            "compared with this git ref (unless policies/replacements.yaml allows it).",
        ),
    ] = None,
) -> None:
    """Judge STACK's plan with the policy pack and checkov: one verdict.

    Exits 1 on an unsuppressed failure at or above the threshold (a mandatory pack
    violation, a failed checkov check) or an expired suppression; 2 when the check cannot run.
    """
    kept: list[Plan] = []

    def capture_and_keep(directory: Path, name: str) -> Plan:
        kept.append(preview_capture(directory, name))
        return kept[-1]

    try:
        if base is not None:  # a malformed allowances file stops the check before it starts
            load_allowances(project.resolve() / ALLOWANCES_FILE)
        with _program_errors():
            judgement = judge_stack(
                project.resolve(),
                stack,
                capture_plan=capture_and_keep,
                packs=policy_packs or [],
                configs=policy_pack_configs or [],
                use_checkov=use_checkov,
                threshold=threshold.value,
                exports=Exports(tfplan=export_tfplan, manifests=export_manifests),
                say=lambda message: errors.print(message, highlight=False),
            )
        if base is not None:
            against_base(project.resolve(), base, kept[-1], judgement.verdict)
    except CheckError as exc:
        raise _fail(str(exc), 2) from None
    show(judgement, console)
    write_reports(
        judgement,
        console,
        project_dir=project.resolve(),
        json_file=json_file,
        sarif_file=sarif_file,
        junit_file=junit_file,
        markdown_file=markdown_file,
    )
    for path, what in ((export_tfplan, "Terraform plan"), (export_manifests, "manifests")):
        if path:
            console.print(f"{what} written to {path}")
    raise typer.Exit(judgement.verdict.exit_code)


@app.command()
def diff(
    stack: StackArgument,
    base: Annotated[
        str, typer.Option("--base", help="Git ref the stack was deployed from.")
    ] = "HEAD",
    project: ProjectOption = Path(),
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the diff as JSON.")
    ] = None,
    markdown_file: Annotated[
        Path | None, typer.Option("--markdown", help="Write the diff as a Markdown section.")
    ] = None,
) -> None:
    """What the working tree would create, update, replace or delete in STACK, against BASE.

    Exits 1 on a replacement or delete of a protected or stateful resource that
    policies/replacements.yaml does not allow (or an expired allowance), 2 when it cannot run.
    """
    from blueprint.diff import render  # noqa: PLC0415 (see TYPE_CHECKING above)
    from blueprint.diff.baseline import BaselineError  # noqa: PLC0415
    from blueprint.diff.command import diff_stack, judge  # noqa: PLC0415

    try:
        load_allowances(project.resolve() / ALLOWANCES_FILE)  # refuse a bad file before work
        changes = diff_stack(project.resolve(), stack, base)
        judged = judge(project.resolve(), changes)
    except (BaselineError, CheckError) as exc:
        raise _fail(str(exc), 2) from None
    console.print(render.table(changes, judged))
    for note in changes.notes:
        console.print(f"[dim]note:[/dim] {note}", highlight=False)
    for error in judged.errors:
        console.print(f"[red]error:[/red] {error}", highlight=False)
    verdict = "[green]no blocking change[/green]" if judged.passed else "[red]blocking[/red]"
    console.print(f"{verdict}: {render.summary(changes)}")
    if json_file:
        json_file.write_text(json.dumps(render.as_json(changes, judged), indent=2) + "\n")
    if markdown_file:
        markdown_file.write_text(render.markdown(changes, judged))
    raise typer.Exit(0 if judged.passed else 1)


@app.command("moto-server")
def moto_server(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Run a moto server on 127.0.0.1 until interrupted (for --endpoint)."""
    # Imported here: the server pulls in Flask and Werkzeug (0.4 s) that no other command needs.
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from blueprint.local.models import installed  # noqa: PLC0415
    from blueprint.local.target import MOTO_SERVER_ENVIRONMENT  # noqa: PLC0415

    os.environ.update(MOTO_SERVER_ENVIRONMENT)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    # The server answers with the same AWS state machines as the in-process deploy
    # (ElastiCache `modifying`, MSK `UPDATING`, Secrets Manager's rotation retries).
    with installed():
        server.start()
        console.print(f"moto listening on http://127.0.0.1:{port} (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()


def main() -> None:
    app()
