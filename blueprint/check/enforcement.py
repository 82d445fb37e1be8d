"""Whether a check enforced anything: a verdict that judged nothing must not read as a pass.

A policy-pack config can switch every policy off (``{"all": "disabled"}``), or set nothing at
all (an empty file: every policy runs at the pack's own level and default thresholds). The
packs then run, report nothing, and the check would pass having judged nothing. So, over the
policies of every pack that ran:

- **nothing enforced** (no policy at ``mandatory``, ``advisory`` or ``remediate``), or a plan
  with no resource to judge: an error of the verdict (exit 1), unless the caller passed
  ``allow`` (``--allow-nothing-enforced``; it becomes a note);
- in an environment whose model makes every policy mandatory (:data:`STRICT_ENVIRONMENTS`,
  ``policies/config/prod.json``), a config file that sets nothing, or under which no policy
  is mandatory, is an invalid config: :class:`CheckError` (exit 2), whatever ``allow`` says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from blueprint.check.config import read_config_file
from blueprint.check.errors import CheckError, PolicyConfigError
from blueprint.check.report import PackRun
from blueprint.check.verdict import LEVELS

ENVIRONMENT_KEY = "feature-platform:environment"
STRICT_ENVIRONMENTS = frozenset({"prod"})
"""Environments where every policy is mandatory (docs/governance.md, enforcement per
environment): a config that leaves nothing mandatory there is refused, not reported."""
ALLOW_OPTION = "--allow-nothing-enforced"
FAILING_LEVELS = ("mandatory", "remediate")
"""Levels that can fail the check (a remediate-level violation left unfixed is mandatory)."""


def environment(config: Mapping[str, str], stack: str) -> str:
    """The stack's environment profile (``feature-platform:environment``), else its name."""
    return config.get(ENVIRONMENT_KEY) or stack


def levels(runs: Sequence[PackRun]) -> dict[str, int]:
    """Enforcement level → how many policies of all ``runs`` ran at it (every level listed)."""
    counts = Counter(level for run in runs for level in run.policies.values())
    return {level: counts.get(level, 0) for level in LEVELS}


def _configs(runs: Sequence[PackRun]) -> str:
    files = sorted({str(run.config_file) for run in runs if run.config_file})
    return ", ".join(files) or "the packs' defaults"


def _summary(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[level]} {level}" for level in LEVELS)


def refuse_in_strict_environment(runs: Sequence[PackRun], env: str) -> None:
    """In a strict environment, a config that sets nothing or makes nothing mandatory is
    invalid: :class:`CheckError` naming the file and the fix."""
    if env not in STRICT_ENVIRONMENTS:
        return
    for run in runs:
        if run.config_file is None:
            continue
        try:
            empty = not read_config_file(run.config_file)
        except PolicyConfigError:
            continue  # already read (and accepted) by the driver; cannot happen
        if empty:
            raise CheckError(
                f"{run.config_file} sets no enforcement level: the {env} environment requires "
                "its enforcement config (every policy mandatory, with its thresholds); restore "
                'it, e.g. {"all": "mandatory", ...} as in policies/config/prod.json'
            )
    counts = levels(runs)
    if runs and not any(counts[level] for level in FAILING_LEVELS):
        raise CheckError(
            f"{_configs(runs)}: no policy is mandatory ({_summary(counts)}), but the {env} "
            'environment makes every policy mandatory; set "all": "mandatory" '
            f"({ALLOW_OPTION} does not apply to {env})"
        )


def nothing_judged(runs: Sequence[PackRun], resources: int) -> list[str]:
    """Why the packs judged nothing (empty: they judged something)."""
    problems = []
    counts = levels(runs)
    if runs and not sum(n for level, n in counts.items() if level != "disabled"):
        total = sum(counts.values())
        problems.append(
            f"nothing enforced: under {_configs(runs)} "
            + (f"all {total} policies are disabled" if total else "the packs have no policy")
            + ", so the policy check judged nothing; enforce them (e.g. "
            f'{{"all": "mandatory"}}) or pass {ALLOW_OPTION}'
        )
    if runs and not resources:
        problems.append(
            f"nothing judged: the plan has no resources; check the program, or pass {ALLOW_OPTION}"
        )
    return problems
