"""``blueprint tenant``: a feature team's file, written valid, and the teams that exist.

``new`` writes ``tenants/<name>.yaml`` with the defaults of a first feature set and workload
and validates it before it is written (so it is never left invalid); ``list`` validates every
file and shows what each team declares. Exit codes follow :mod:`blueprint.exitcodes`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from blueprint.exitcodes import CANNOT_RUN, CONTRACT
from components.config.models import DataClassification, Environment
from components.config.tenants import (
    TENANTS_DIR,
    TenantError,
    TenantFile,
    parse_tenant,
)

app = typer.Typer(
    name="tenant",
    help="Feature teams (tenants/<name>.yaml): create one, list them.",
    no_args_is_help=True,
    add_completion=False,
    epilog=CONTRACT,
)
# A pipe or a CI log has no width to honour: never cut the table at 80 columns there.
console = Console() if sys.stdout.isatty() else Console(width=1000)
errors = Console(stderr=True)

ProjectOption = Annotated[
    Path, typer.Option("--project", help="Project directory (holds Pulumi.yaml and tenants/).")
]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(CANNOT_RUN)


def starter(
    owner: str,
    cost_center: str,
    classification: DataClassification,
    environments: list[Environment],
) -> dict[str, Any]:
    """A first tenant file: one feature set with one topic, one workload that reads it."""
    return {
        "owner": owner,
        "costCenter": cost_center,
        "dataClassification": classification.value,
        "environments": [e.value for e in environments],
        "featureSets": {
            "features": {"topics": {"events": {"partitions": 3, "retentionHours": 72}}},
        },
        "workloads": {"app": {"reads": ["features"]}},
    }


def _tenants_dir(project: Path) -> Path:
    if not (project / "Pulumi.yaml").is_file():
        raise _fail(f"{project} holds no Pulumi.yaml: pass the platform's directory with --project")
    return project / TENANTS_DIR


@app.command("new", epilog=CONTRACT)
def new(  # noqa: PLR0917 (typer: one parameter per option)
    name: Annotated[str, typer.Argument(help="The team's name: 2-20 of a-z, 0-9 and '-'.")],
    owner: Annotated[str, typer.Option("--owner", help="Owning team (tag `tenant-owner`).")],
    cost_center: Annotated[
        str,
        typer.Option("--cost-center", help="Cost center billed (tag `tenant-cost-center`)."),
    ],
    classification: Annotated[
        DataClassification,
        typer.Option("--classification", help="Highest classification of the team's data."),
    ] = DataClassification.INTERNAL,
    environments: Annotated[
        list[Environment] | None,
        typer.Option("--environment", help="Enable it in this environment (repeatable)."),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Write tenants/NAME.yaml: valid, with the defaults of a first feature set and workload."""
    directory = _tenants_dir(project)
    path = directory / f"{name}.yaml"
    if path.exists():
        raise _fail(f"{path} exists: edit it, or choose another name")
    document = starter(owner, cost_center, classification, environments or [Environment.DEV])
    try:
        parse_tenant(name, document, source=str(path))
    except TenantError as exc:
        raise _fail(str(exc)) from None
    directory.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Feature team {name}: docs/onboarding.md explains each key.\n"
        "# Names below are the team's own; the platform prefixes them with the team's name.\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))
    console.print(f"wrote {path}: `blueprint preview dev` shows what it creates")


@app.command("list", epilog=CONTRACT)
def list_(project: ProjectOption = Path(".")) -> None:
    """Validate every tenant file and show what each team declares."""
    directory = _tenants_dir(project)
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    parsed: list[tuple[str, TenantFile]] = []
    problems: list[str] = []
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text())
            parsed.append((path.stem, parse_tenant(path.stem, raw, source=str(path))))
        except TenantError as exc:
            problems.append(str(exc))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: not a readable YAML file: {exc}")
    if problems:
        raise _fail("\n".join(problems))
    if not parsed:
        console.print(f"no tenant files in {directory}: `blueprint tenant new NAME` writes one")
        return
    table = Table(title=f"tenants ({directory})")
    columns = ("tenant", "owner", "cost center", "data", "environments", "feature sets")
    for column in (*columns, "topics", "workloads"):
        table.add_column(column)
    for name, tenant in parsed:
        table.add_row(
            name,
            tenant.owner,
            tenant.cost_center,
            tenant.data_classification.value,
            ", ".join(e.value for e in tenant.environments),
            ", ".join(tenant.feature_sets),
            ", ".join(f"{name}.{t}" for fs in tenant.feature_sets.values() for t in fs.topics),
            ", ".join(tenant.workloads),
        )
    console.print(table)
