"""The ``blueprint`` command line: the platform's program, run offline.

Every command works on the project in the current directory (or ``--project``), never on
an installed copy, so what it shows is what ``pulumi up`` in that checkout would do.
"""

from __future__ import annotations

import enum
import json
import os
import signal
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import pulumi
import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from blueprint import diagram, plan_json
from blueprint.alerting_cost import render_cost
from blueprint.capture import Plan, ResourceError, capture
from blueprint.check import CheckError
from blueprint.check.command import preview_capture
from blueprint.check.judge import Exports, judge_stack, prepare_outputs, show, write_reports
from blueprint.check.replacements import against_base
from blueprint.check.verdict import SEVERITIES
from blueprint.diff.allowances import ALLOWANCES_FILE
from blueprint.diff.allowances import load as load_allowances
from blueprint.exitcodes import CONTRACT
from blueprint.stackfile import StackFileError, read_project, read_stack

if TYPE_CHECKING:
    # Imported where used: boto3, moto and the audit cost about half a second at start-up
    # that `check` and `preview` never need.
    from blueprint.audit.runner import AuditReport
    from blueprint.local.engine import LocalDeploy
    from blueprint.local.server import LocalState
    from blueprint.local.target import AwsTarget

app = typer.Typer(
    name="blueprint",
    help="Run the feature-platform program offline: no AWS account, no Pulumi CLI.",
    no_args_is_help=True,
    add_completion=False,
    epilog=CONTRACT,
)
PIPE_WIDTH = 1000
"""Columns when the output is not a terminal: a pipe or a CI log has no width to honour."""


class _Console(Console):
    """The terminal's width on a TTY; :data:`PIPE_WIDTH` in a pipe or a CI log, where rich
    would otherwise cut tables at 80 columns (``feature-platform-cluster-gener…``)."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal or self._width is not None:
            return size
        return ConsoleDimensions(max(size.width, PIPE_WIDTH), size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = _Console()
errors = _Console(stderr=True, soft_wrap=True)  # messages stay whole, greppable

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


def _valid_endpoint(value: str | None) -> str | None:
    """``--endpoint``, for every command that has it: an http(s) URL naming a host."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname  # an unclosed or invalid [IPv6] literal raises here
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, beyond 65535, or not an address
        parts, host, port_ok = urlsplit(""), None, False
    if parts.scheme not in ("http", "https") or not host or not port_ok:
        raise typer.BadParameter(
            f"{value!r} is not a URL of a server: expected http(s)://HOST[:PORT], "
            "e.g. http://127.0.0.1:5000 (`blueprint moto-server` starts one there)"
        )
    return value


@app.callback()
def _root() -> None:
    """Run the feature-platform program offline: no AWS account, no Pulumi CLI."""


def _fail(message: str, code: int) -> typer.Exit:
    # The message quotes what the user typed (a stack name, a path, a config value): shown
    # literally, never read as Rich markup (``[/x]`` in a name must not end in a traceback).
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _outputs(**options: Path | None) -> None:
    """Validate the files a command will write before it runs (exit 2 naming the option and
    the fix), and remove what an earlier run left there, as ``check`` does."""
    from blueprint.check.outputs import Output, prepare  # noqa: PLC0415

    given = [
        Output(f"--{name.replace('_', '-')}", path)
        for name, path in options.items()
        if path is not None
    ]
    try:
        prepare(given)
    except CheckError as exc:
        raise _fail(str(exc), 2) from None


def _write(path: Path, text: str, option: str) -> None:
    """Write a report; a full disk or a vanished directory is exit 2, never a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise _fail(f"{option} {path}: cannot be written: {exc.strerror or exc}", 2) from None


@contextmanager
def _program_errors() -> Iterator[None]:
    """Turn the program's own errors into one clean message and a non-zero exit.

    A malformed project or stack file and invalid config (the program's ``RunError``) are
    invalid input: exit 2, as the contract in :mod:`blueprint.exitcodes` says.
    """
    try:
        yield
    except (StackFileError, pulumi.RunError) as exc:
        raise _fail(str(exc), 2) from None
    except ResourceError as exc:
        raise _fail(f"the provider or AWS would reject a resource: {exc}", 2) from None


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
    table.add_column("type", overflow="fold")  # on a narrow terminal: folded, never cut
    table.add_column("count", justify="right")
    counts = Counter(r.type for r in plan.resources)
    for type_, count in sorted(counts.items()):
        table.add_row(type_, str(count))
    table.add_row("[bold]total[/bold]", f"[bold]{sum(counts.values())}[/bold]")
    return table


@app.command(epilog=CONTRACT)
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
    _outputs(json=json_file, diagram=diagram_file)
    with _program_errors():
        plan = capture(project.resolve(), stack, preview=True)
    console.print(render_tree(plan))
    console.print(render_summary(plan))
    console.print(render_cost(plan))
    if json_file:
        _write(json_file, json.dumps(plan_json.to_json(plan), indent=2) + "\n", "--json")
        console.print(f"plan written to {escape(str(json_file))}")
    if diagram_file:
        text = diagram.markdown(plan) if diagram_file.suffix == ".md" else diagram.render(plan)
        _write(diagram_file, text, "--diagram")
        console.print(f"diagram written to {escape(str(diagram_file))}")


TYPES_WIDTH = 100
"""Where the deploy summary's lists of types wrap (names stay whole, however long)."""


def _deploy_summary(result: LocalDeploy, seconds: float) -> Table:
    outcome = result.outcome
    table = Table(title=f"{result.plan.stack} deployed into moto in {seconds:.1f} s")
    table.add_column("how", no_wrap=True)
    table.add_column("resources", justify="right")
    table.add_column("types", overflow="fold")  # on a narrow terminal: folded, never cut
    rows = [
        ("created in moto", outcome.created),
        ("data sources answered by moto", [(token, "") for token in outcome.calls]),
        ("simulated (moto cannot create)", outcome.simulated),
    ]
    if result.target.endpoint_url:  # a server keeps what earlier deploys made
        rows.insert(0, ("reused (unchanged since an earlier deploy)", outcome.reused))
    for label, items in rows:
        types = ", ".join(sorted({t.split(":")[-1] for t, _ in items}))
        wrapped = textwrap.fill(types, TYPES_WIDTH, break_long_words=False)
        table.add_row(label, str(len(items)), wrapped or "—")
    for type_, name, prop in outcome.unapplied:
        table.add_row("not applied by moto", "", f"{name}.{prop} ({type_.split(':')[-1]})")
    if outcome.left:
        names = ", ".join(f"{name} ({type_.split(':')[-1]})" for type_, name in outcome.left)
        table.add_row(
            "left in moto (the local deploy does not delete)",
            str(len(outcome.left)),
            textwrap.fill(names, TYPES_WIDTH, break_long_words=False),
        )
    return table


def _show_audit(
    report: AuditReport, title: str, json_file: Path | None, *, allow_not_checked: bool = False
) -> int:
    """Print (and write) the audit report, what was in scope and the verdict; its exit code."""
    from blueprint.audit import command  # noqa: PLC0415 (see TYPE_CHECKING above)

    command.show(report, console, title, allow_not_checked=allow_not_checked)
    if json_file:
        document = report.as_json(allow_not_checked=allow_not_checked)
        _write(json_file, json.dumps(document, indent=2) + "\n", "--json")
    return report.exit_code(allow_not_checked=allow_not_checked)


@app.command(epilog=CONTRACT)
def up(  # noqa: PLR0917 (typer: one parameter per option)
    stack: StackArgument,
    local: Annotated[
        bool, typer.Option("--local", help="Deploy into moto, the embedded AWS (required).")
    ] = False,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="A moto server URL instead of in-process moto.",
            callback=_valid_endpoint,
        ),
    ] = None,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="With --endpoint: clear the moto server first (every account and region), "
            "so a stack deployed there before is deployed again from scratch, not converged.",
        ),
    ] = False,
    project: ProjectOption = Path(),
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the audit findings as JSON.")
    ] = None,
) -> None:
    """Create STACK's resources in moto, then audit the result.

    A moto server keeps what an earlier deploy made, and the deploy's state: deploying the
    same stack there again converges (unchanged resources are reused, new ones created); a
    changed resource stops it (exit 2: the local deploy neither updates nor replaces) until
    --reset clears the server.
    """
    if not local:
        raise _fail(
            "only local deploys are possible here; use `blueprint up STACK --local`, "
            "or `pulumi up --stack STACK` against a real account",
            2,
        )
    if reset and not endpoint:
        raise _fail("--reset clears a moto server: give its --endpoint URL", 2)
    _outputs(json=json_file)
    _with_moto(endpoint, lambda target: _up(project, stack, target, json_file, reset=reset))


def _claim_server(
    project: Path, stack: str, endpoint: str, *, reset: bool
) -> tuple[str, LocalState]:
    """Clear the server if asked; find the state of an earlier deploy of ``stack``, or refuse
    one that left none; record this one.

    Returns the project's name and the state to converge with (empty for a first deploy).
    """
    from blueprint.local import server  # noqa: PLC0415 (see TYPE_CHECKING above)

    with _program_errors():
        name = read_project(project).name
    try:
        if reset:
            server.reset(endpoint)
            console.print(f"moto server at {endpoint} cleared (--reset)", highlight=False)
        earlier = server.recorded(endpoint, DEFAULT_REGION, name, stack)
        state = server.load_state(endpoint, DEFAULT_REGION, name, stack)
        if earlier is not None and (earlier.state == server.DEPLOYING or state is None):
            why = (
                "its deploy was interrupted before it saved its state"
                if earlier.state == server.DEPLOYING
                else "no state was saved for it (an older blueprint)"
            )
            raise _fail(
                f"stack {stack} is partly or already deployed at {endpoint} (since "
                f"{earlier.at}) but {why}; re-run with --reset to clear it (that clears the "
                "whole server), or use another server",
                2,
            )
        if state is not None:
            since = f" (since {earlier.at})" if earlier else ""
            console.print(
                f"stack {stack} is deployed at {endpoint}{since}: converging with its state "
                f"({len(state.resources)} resources in moto)",
                highlight=False,
            )
        server.record(endpoint, DEFAULT_REGION, name, stack, server.DEPLOYING)
    except server.ServerError as exc:
        raise _fail(f"{exc}; start one with `blueprint moto-server`", 2) from None
    return name, state or server.LocalState(name, stack)


def _up(
    project: Path, stack: str, target: AwsTarget, json_file: Path | None, *, reset: bool = False
) -> None:
    from blueprint.audit.command import AuditError, audit_deployed  # noqa: PLC0415
    from blueprint.local import server  # noqa: PLC0415
    from blueprint.local.engine import InputsChangedError, deploy  # noqa: PLC0415
    from blueprint.local.models import installed  # noqa: PLC0415

    endpoint = target.endpoint_url
    name, state = "", None
    if endpoint:
        name, state = _claim_server(project.resolve(), stack, endpoint, reset=reset)
    saved: list[bool] = []

    def save(final: LocalState) -> None:
        assert endpoint is not None
        server.save_state(endpoint, DEFAULT_REGION, final)
        saved.append(True)

    started = time.perf_counter()
    result: LocalDeploy | None = None
    try:
        with _program_errors():
            try:
                # In-process moto is always fresh: no state to converge with.
                result = (
                    deploy(project.resolve(), stack, target, state=state, save=save)
                    if endpoint
                    else deploy(project.resolve(), stack, target)
                )
            except InputsChangedError as exc:
                raise _fail(
                    f"the deploy of {stack} stopped: {exc.urn or exc.name}\n  {exc}\nthe local "
                    "deploy creates but neither updates nor replaces; what it created until "
                    "then is in its state (never made twice). Revert the change, or re-run "
                    "with --reset to start over (that clears the whole server)",
                    2,
                ) from None
            except ResourceError as exc:
                # What was created before the error stays in a moto server: say so, never
                # leave it half-built silently.
                left = (
                    f"\nthe resources created before it remain at {endpoint}, in the stack's "
                    "state: fix the cause and re-run to continue, or --reset to start over"
                    if endpoint
                    else ""
                )
                message = f"the deploy stopped: AWS rejected a resource: {exc}{left}"
                raise _fail(message, 2) from None
            except server.ServerError as exc:
                raise _fail(str(exc), 2) from None
        if endpoint:
            server.record(endpoint, DEFAULT_REGION, name, stack, server.DEPLOYED)
    except server.ServerError as exc:
        raise _fail(str(exc), 2) from None
    finally:
        if endpoint and result is None and saved:
            # The state holds what it made: the next deploy converges instead of refusing.
            with suppress(server.ServerError):  # then it stays "deploying": refused, said why
                server.record(endpoint, DEFAULT_REGION, name, stack, server.STOPPED)
    console.print(_deploy_summary(result, time.perf_counter() - started))
    failed = _print_rotations(result)
    try:  # the stack's own account and region, where the deploy put its resources
        # In-process, the audit reads moto under the same models the deploy ran under
        # (composite alarms, alert manager definitions); a server has them installed itself.
        with nullcontext() if endpoint else installed(result.models):
            # Judged by the checks that apply to what was just deployed (its plan).
            report = audit_deployed(
                project.resolve(), stack, result.target.endpoint_url, result.plan
            )
    except AuditError as exc:
        raise _fail(str(exc), 2) from None
    code = _show_audit(report, f"conformance audit of {stack} in moto", json_file)
    # In AWS the rotation runs after `pulumi up` returns; here it ran during the deploy, and
    # a secret left with AWSPENDING would refuse every later rotation: a finding.
    raise typer.Exit(code or (1 if failed else 0))


def _print_rotations(result: LocalDeploy) -> bool:
    """One line per secret rotation the deploy ran; True when any did not complete."""
    failed = False
    for rotation in result.rotations():
        if rotation.before and rotation.steps == 0:
            console.print(
                f"rotation by {rotation.function}: not run again (its schedule is unchanged "
                "since the earlier deploy, whose rotation ran; SECRETS.ROTATED judges the secret)",
                highlight=False,
            )
        elif rotation.completed:
            console.print(
                f"rotation by {rotation.function}: completed ({rotation.steps} invocations, "
                f"{rotation.attempts} attempt(s))",
                highlight=False,
            )
        elif rotation.steps == 0:
            failed = True
            errors.print(
                f"[red]rotation by {rotation.function} was not run[/red]: a moto server in "
                "another process cannot run the function (moto would need Docker); deploy "
                "in-process (without --endpoint) to exercise it",
                highlight=False,
            )
        else:
            failed = True
            errors.print(
                f"[red]rotation by {rotation.function} did not complete[/red] after "
                f"{rotation.attempts} attempt(s): {rotation.error}; see "
                "docs/runbooks/rotate-online-store-token.md",
                highlight=False,
            )
    return failed


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


@app.command(epilog=CONTRACT)
def audit(  # noqa: PLR0917 (typer: one parameter per option)
    stack: Annotated[
        str | None,
        typer.Argument(
            help="Stack whose account, region and environment to audit (or --stack).",
            show_default=False,
        ),
    ] = None,
    stack_option: Annotated[
        str | None, typer.Option("--stack", help="The same as STACK.", show_default=False)
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint", help="Audit a moto server at this URL.", callback=_valid_endpoint
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile of a real (read-only) account.")
    ] = None,
    account: Annotated[
        str | None,
        typer.Option("--account", help="Account to audit, without a stack (or the stack's)."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="Region to audit, without a stack (or the stack's)."),
    ] = None,
    all_resources: Annotated[
        bool,
        typer.Option(
            "--all", help="Judge every resource, not only those tagged project=feature-platform."
        ),
    ] = False,
    allow_not_checked: Annotated[
        bool,
        typer.Option(
            "--allow-not-checked",
            help="Pass despite checks that could not judge (denied, nothing in scope).",
        ),
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the findings as JSON.")
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Read-only conformance checks of a stack's account (a moto server, or a real one).

    With a STACK, only the checks that apply to its plan (captured offline) run; the others
    are listed as not applicable. Without one, every check runs.

    Exits 0 when every check judged resources and all passed; 1 on a failure, or a check
    not checked or with nothing in scope (unless allowed), or when nothing was judged at
    all (no check applies to the plan, too); 2 when the audit cannot run (bad options,
    unknown profile, no credentials, an unreachable endpoint, another account than the
    stack's, a plan that cannot be captured).
    """
    from blueprint.audit.command import AuditError  # noqa: PLC0415 (see TYPE_CHECKING above)
    from blueprint.audit.command import audit as run  # noqa: PLC0415

    if stack and stack_option and stack != stack_option:
        raise _fail(f"STACK {stack} and --stack {stack_option} differ; give one", 2)
    _outputs(json=json_file)
    try:
        report = run(
            project.resolve(),
            stack=stack or stack_option,
            endpoint=endpoint,
            profile=profile,
            account=account,
            region=region,
            all_resources=all_resources,
        )
    except AuditError as exc:
        raise _fail(str(exc), 2) from None
    title = f"conformance audit of {endpoint or f'profile {profile}'}"
    raise typer.Exit(_show_audit(report, title, json_file, allow_not_checked=allow_not_checked))


@app.command(epilog=CONTRACT)
def preflight(  # noqa: PLR0917 (typer: one parameter per option)
    stack: StackArgument,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile of the stack's account.")
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="A moto server URL instead of an account.",
            callback=_valid_endpoint,
        ),
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

    _outputs(json=json_file)
    try:
        report = command.preflight(
            project.resolve(), stack, endpoint=endpoint, profile=profile, region=region
        )
    except PreflightError as exc:
        raise _fail(str(exc), 2) from None
    command.show(report, console)
    if json_file:
        document = report.as_json(allow_not_checked=allow_not_checked)
        _write(json_file, json.dumps(document, indent=2) + "\n", "--json")
    raise typer.Exit(report.exit_code(allow_not_checked=allow_not_checked))


@app.command(epilog=CONTRACT)
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
            help="Fail on unsuppressed failures at or above this severity; a mandatory "
            "policy violation fails at any severity.",
            case_sensitive=False,
        ),
    ] = Severity.low,
    allow_nothing_enforced: Annotated[
        bool,
        typer.Option(
            "--allow-nothing-enforced",
            help="Pass even if the policy config enforces nothing (every policy disabled); "
            "never in prod, where such a config is invalid.",
        ),
    ] = False,
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

    Exits 1 on a mandatory pack violation (any severity), a failed checkov check at or above
    the threshold, an expired suppression, or a check that judged nothing (no policy
    enforced, a scan that judged no resource); 2 when the check cannot run (invalid config,
    option or path; reports of an earlier run are removed first).
    """
    kept: list[Plan] = []

    def capture_and_keep(directory: Path, name: str) -> Plan:
        kept.append(preview_capture(directory, name))
        return kept[-1]

    try:
        prepare_outputs(  # before anything runs: a bad path costs no run, leaves no old report
            {
                "--json": json_file,
                "--sarif": sarif_file,
                "--junit": junit_file,
                "--markdown": markdown_file,
                "--export-tfplan": export_tfplan,
                "--export-manifests": export_manifests,
            }
        )
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
                allow_nothing_enforced=allow_nothing_enforced,
                say=lambda message: errors.print(message, highlight=False),
            )
        if base is not None:
            against_base(project.resolve(), base, kept[-1], judgement.verdict)
    except CheckError as exc:
        raise _fail(str(exc), 2) from None
    show(judgement, console)
    try:
        write_reports(
            judgement,
            console,
            project_dir=project.resolve(),
            json_file=json_file,
            sarif_file=sarif_file,
            junit_file=junit_file,
            markdown_file=markdown_file,
        )
    except CheckError as exc:
        raise _fail(str(exc), 2) from None
    for path, what in ((export_tfplan, "Terraform plan"), (export_manifests, "manifests")):
        if path:
            console.print(f"{what} written to {path}")
    raise typer.Exit(judgement.verdict.exit_code)


@app.command(epilog=CONTRACT)
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

    _outputs(json=json_file, markdown=markdown_file)
    try:
        # The stack must exist in the working tree (at the base it may not exist yet).
        read_stack(read_project(project.resolve()), stack)
        load_allowances(project.resolve() / ALLOWANCES_FILE)  # refuse a bad file before work
        changes = diff_stack(project.resolve(), stack, base)
        judged = judge(project.resolve(), changes)
    except (BaselineError, CheckError, StackFileError) as exc:
        raise _fail(str(exc), 2) from None
    console.print(render.table(changes, judged))
    for note in changes.notes:
        console.print(f"[dim]note:[/dim] {escape(note)}", highlight=False)
    for error in judged.errors:
        console.print(f"[red]error:[/red] {escape(error)}", highlight=False)
    verdict = "[green]no blocking change[/green]" if judged.passed else "[red]blocking[/red]"
    console.print(f"{verdict}: {render.summary(changes)}")
    if json_file:
        _write(json_file, json.dumps(render.as_json(changes, judged), indent=2) + "\n", "--json")
    if markdown_file:
        _write(markdown_file, render.markdown(changes, judged), "--markdown")
    raise typer.Exit(0 if judged.passed else 1)


SERVER_START_SECONDS = 30.0


@app.command("moto-server", epilog=CONTRACT)
def moto_server(
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1.", min=1, max=65535)
    ] = 5000,
) -> None:
    """Run a moto server on 127.0.0.1 until interrupted (for --endpoint)."""
    # Imported here: the server pulls in Flask and Werkzeug (0.4 s) that no other command needs.
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from blueprint.local.models import installed  # noqa: PLC0415
    from blueprint.local.server import port_in_use  # noqa: PLC0415
    from blueprint.local.target import MOTO_SERVER_ENVIRONMENT, wait_for_port  # noqa: PLC0415

    if port_in_use(port):
        raise _fail(
            f"port {port} on 127.0.0.1 is already in use (another moto server?): stop what "
            "holds it, or choose another with --port",
            2,
        )
    os.environ.update(MOTO_SERVER_ENVIRONMENT)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    # The server answers with the same AWS state machines as the in-process deploy
    # (ElastiCache `modifying`, MSK `UPDATING`, Secrets Manager's rotation retries).
    with installed():
        # moto's start() waits forever when its thread cannot bind (the port taken since
        # the check above): started from a daemon thread, it cannot hang the command.
        starter = threading.Thread(target=server.start, daemon=True)
        starter.start()
        try:
            starter.join(SERVER_START_SECONDS)
            if starter.is_alive() or not wait_for_port(port, timeout=SERVER_START_SECONDS):
                raise _fail(f"the moto server did not start listening on port {port}", 2)
            console.print(f"moto listening on http://127.0.0.1:{port} (Ctrl-C to stop)")
            _wait_for_stop_signal()
        except KeyboardInterrupt:
            pass
        finally:
            if not starter.is_alive():  # started: stop it (a hung start dies with the process)
                server.stop()


def _wait_for_stop_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM.

    Installed explicitly: a process started in the background (a CI step, ``cmd &``) inherits
    SIGINT *ignored*, and Python then never raises KeyboardInterrupt, so the server would run on.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    while not stop.wait(timeout=1.0):  # wakes up to let signal handlers run
        pass


def main() -> None:
    app()


def _tenant_commands() -> None:
    # A group of its own module: the feature teams' files (blueprint/tenant_cli.py).
    from blueprint.tenant_cli import app as tenants  # noqa: PLC0415

    app.add_typer(tenants, name="tenant")


_tenant_commands()
