"""Which policy packs ``blueprint check STACK`` runs, with which config, on what stack:
as ``pulumi preview --policy-pack`` would run them, with no Pulumi CLI
(:mod:`blueprint.check.judge` runs them).

Without ``--policy-pack`` the project's own pack runs (``policies/``) with its enforcement
file for the stack (``policies/config/<stack>.json``). ``--policy-pack`` replaces that with
the packs given (add ``--policy-pack policies`` to keep ours); ``--policy-pack-config`` files
pair with them by position, as with the CLI, and a pack left without one runs with its
schema defaults and initial config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from blueprint.capture import Plan, capture
from blueprint.check.driver import PackRequest, StackTarget
from blueprint.check.errors import CheckError
from blueprint.check.pack import load_pack
from blueprint.stackfile import read_project, read_stack

PACK_DIR = Path("policies")
CONFIG_DIR = PACK_DIR / "config"
PACK_FILE = PACK_DIR / "PulumiPolicy.yaml"


def governance_root(project_dir: Path) -> Path:
    """Where the repository's governance lives (the pack, checkov's pin, checks and
    suppressions): the project itself or the nearest directory above it holding
    ``policies/PulumiPolicy.yaml``. A second project in the repository (``bootstrap/``) is
    judged by the same rules as the platform."""
    for directory in (project_dir, *project_dir.parents):
        if (directory / PACK_FILE).is_file():
            return directory
    return project_dir


def config_dir(project_dir: Path) -> Path:
    """Enforcement files: ``policies/config/`` for the root project, ``policies/config/<sub
    project>/`` for a project below it (its stacks share the platform's names)."""
    root = governance_root(project_dir)
    if root == project_dir:
        return root / CONFIG_DIR
    return root / CONFIG_DIR / project_dir.relative_to(root)


Capture = Callable[[Path, str], Plan]


def pack_requests(
    project_dir: Path, stack: str, packs: Sequence[Path], configs: Sequence[Path]
) -> list[PackRequest]:
    """The packs to run and their config files; :class:`CheckError` names what is wrong."""
    if not packs:
        config = configs[0] if configs else config_dir(project_dir) / f"{stack}.json"
        if len(configs) > 1:
            raise CheckError(
                f"{len(configs)} --policy-pack-config files but one policy pack ({PACK_DIR}/)"
            )
        if not config.is_file():
            raise CheckError(
                f"no policy enforcement config for stack {stack!r}: {config} does not exist; "
                'create it (e.g. {"all": "mandatory"}) or pass --policy-pack-config FILE'
            )
        return [PackRequest(load_pack(governance_root(project_dir) / PACK_DIR), config)]
    if len(configs) > len(packs):
        raise CheckError(
            f"{len(configs)} --policy-pack-config files but {len(packs)} --policy-pack "
            "directories; configs pair with packs by position"
        )
    return [
        PackRequest(load_pack(pack), configs[i] if i < len(configs) else None)
        for i, pack in enumerate(packs)
    ]


def stack_target(project_dir: Path, stack: str) -> StackTarget:
    """The stack as the CLI describes it to packs: config, secret keys, project tags."""
    project = read_project(project_dir)
    settings = read_stack(project, stack)
    tags = {"pulumi:project": project.name, "pulumi:runtime": project.runtime}
    if project.description:
        tags["pulumi:description"] = project.description
    return StackTarget(
        project=project.name,
        stack=stack,
        config=settings.config,
        secret_keys=settings.secret_keys,
        tags=tags,
    )


def preview_capture(project_dir: Path, stack: str) -> Plan:
    return capture(project_dir, stack, preview=True)
