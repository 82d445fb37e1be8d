"""``blueprint diff STACK --base REF``: both plans captured side by side, then compared."""

from __future__ import annotations

import datetime
from pathlib import Path

from blueprint.capture import Plan
from blueprint.diff import allowances
from blueprint.diff.baseline import Capture, materialised, normalised
from blueprint.diff.compare import PlanDiff, compare

DEFAULT_BASE = "HEAD"


def diff_stack(project_dir: Path, stack: str, base: str = DEFAULT_BASE) -> PlanDiff:
    """What the working tree would change in ``stack`` deployed from ``base``.

    Raises :class:`~blueprint.diff.baseline.BaselineError` when either plan cannot be made.
    """
    with materialised(project_dir, base) as tree:
        captures = [
            Capture(tree.path, stack, f"{stack} at {tree.label}"),
            Capture(project_dir, stack, f"{stack} in {project_dir}"),
        ]
        try:
            old, new = (c.plan() for c in captures)
        finally:
            for capture in captures:
                capture.stop()
    return compare(old, new, base_label=tree.label)


def diff_with(project_dir: Path, stack: str, base: str, head: Plan) -> PlanDiff:
    """Like :func:`diff_stack`, for a head plan already captured (``blueprint check``)."""
    with materialised(project_dir, base) as tree:
        capture = Capture(tree.path, stack, f"{stack} at {tree.label}")
        try:
            old = capture.plan()
        finally:
            capture.stop()
    return compare(old, normalised(head, project_dir), base_label=tree.label)


def judge(
    project_dir: Path, diff: PlanDiff, today: datetime.date | None = None
) -> allowances.Judged:
    accepted = allowances.load(project_dir / allowances.ALLOWANCES_FILE)
    return allowances.judge(diff, accepted, today or datetime.date.today())
