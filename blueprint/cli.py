"""The ``blueprint`` command line: the platform's program, run offline."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import pulumi
import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from blueprint.capture import Plan, capture
from blueprint.stackfile import StackFileError

app = typer.Typer(
    name="blueprint",
    help="Run the feature-platform program offline: no AWS account, no Pulumi CLI.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)

ProjectOption = Annotated[
    Path,
    typer.Option("--project", help="Project directory (holds Pulumi.yaml).", show_default=False),
]


@app.callback()
def _root() -> None:
    """Run the feature-platform program offline: no AWS account, no Pulumi CLI."""


def _capture(project: Path, stack: str) -> Plan:
    try:
        return capture(project.resolve(), stack)
    except StackFileError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except pulumi.RunError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def render_tree(plan: Plan) -> Tree:
    """Component nesting as ``pulumi preview`` shows it: type, then name."""
    root = Tree(f"[bold]pulumi:pulumi:Stack[/bold] {plan.project}-{plan.stack}")
    nodes: dict[str, Tree] = {}
    for resource in plan.resources:
        label = f"{resource.type} [cyan]{resource.name}[/cyan]"
        if resource.protect:
            label += " [yellow]🔒 protected[/yellow]"
        parent = nodes.get(resource.parent, root)
        nodes[resource.urn] = parent.add(label)
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
    stack: Annotated[str, typer.Argument(help="Stack name: a stacks/Pulumi.<stack>.yaml file.")],
    project: ProjectOption = Path(),
) -> None:
    """Show what the program would create for STACK, as a tree and a summary."""
    plan = _capture(project, stack)
    console.print(render_tree(plan))
    console.print(render_summary(plan))


def main() -> None:
    app()
