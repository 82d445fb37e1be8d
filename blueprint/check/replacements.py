"""Blocking changes as results of the verdict (``blueprint check STACK --base REF``).

A replacement or delete of a protected or stateful resource is a blocking result of its own
source, ``replacements``, at the highest severity: no threshold lets the loss of data pass.
An allowance in ``policies/replacements.yaml`` shows as a suppression with its reason; an
expired one is an error of the verdict. Other replacements and deletes are advisory results
(shown, never failing), so reviewers see them in every report.
"""

from __future__ import annotations

from pathlib import Path

from blueprint.capture import Plan
from blueprint.check.errors import CheckError
from blueprint.check.verdict import REPLACEMENTS, Result, Verdict
from blueprint.diff.allowances import Judged
from blueprint.diff.baseline import BaselineError
from blueprint.diff.command import diff_with, judge
from blueprint.diff.compare import PlanDiff, ResourceDiff
from blueprint.diff.render import detail

BLOCKING_SEVERITY = "critical"
ADVISORY_SEVERITY = "info"
HELP = "docs/governance.md#replacements-and-deletes"


def _rule(change: ResourceDiff) -> tuple[str, str]:
    if not change.blocking:
        return change.action, f"{change.action.capitalize()} of a resource"
    what = "protected" if change.protect else "stateful"
    return f"{what}-{change.action}", f"{change.action.capitalize()} of a {what} resource"


def _message(change: ResourceDiff) -> str:
    why = detail(change) if change.action == "replace" else "removed from the program"
    held = f" (holds {change.stateful})" if change.stateful else ""
    return f"{change.action}{held}: {why}"


def add_to_verdict(verdict: Verdict, diff: PlanDiff, judged: Judged) -> None:
    allowed = {id(b.change): b.allowance.reason for b in judged.blocking if b.allowance}
    verdict.sources[REPLACEMENTS] = f"diff against {diff.base}"
    for change in diff.resources:
        if change.action not in ("replace", "delete") or not change.custom:
            continue
        rule_id, rule_name = _rule(change)
        verdict.results.append(
            Result(
                source=REPLACEMENTS,
                rule_id=rule_id,
                rule_name=rule_name,
                severity=BLOCKING_SEVERITY if change.blocking else ADVISORY_SEVERITY,
                urn=change.urn,
                message=_message(change),
                help_uri=HELP,
                blocking=change.blocking,
                mandatory=change.blocking,  # no threshold lets the loss of data pass
                suppressed=allowed.get(id(change), ""),
            )
        )
    verdict.errors += judged.errors
    verdict.notes += diff.notes


def against_base(project_dir: Path, base: str, head: Plan, verdict: Verdict) -> None:
    """Diff ``head`` against ``base`` and add what blocks to ``verdict``.

    A base that cannot be captured, or a malformed allowances file, is a
    :class:`~blueprint.check.errors.CheckError` (the check cannot run: exit 2).
    """
    try:
        diff = diff_with(project_dir, head.stack, base, head)
    except BaselineError as exc:
        raise CheckError(str(exc)) from None
    add_to_verdict(verdict, diff, judge(project_dir, diff))
