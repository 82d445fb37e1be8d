"""Which checks apply: the audit judges what the stack's plan deploys.

Each check names the Pulumi type tokens of the resources it judges (``types=``). A check
applies to a plan that holds a resource of any of them; a check that does not apply is not
run and is reported as *not applicable*, with the types the plan lacks, never dropped
silently. A check that applies and then finds nothing in the account is still "not checked"
(the plan deploys the resource: the audit looked in the wrong place). A plan to which no
check applies judges nothing, and that is a failure, never a pass.

The platform's stacks deploy every type the checks judge (a test keeps it so); the bootstrap
project deploys only buckets, a key and roles, so only the S3, KMS and IAM checks apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import blueprint.audit.runner  # noqa: F401 (importing the runner registers every check)
from blueprint.audit.model import CHECKS
from blueprint.capture import Plan


@dataclass(frozen=True)
class Applicability:
    plan: str
    """``<project>/<stack>``: whose plan selected the checks, for messages."""
    applicable: tuple[str, ...]
    """The checks to run, in registration order."""
    not_applicable: dict[str, str]
    """check id -> why it does not apply (the types the plan lacks)."""


def applicability(plan: Plan) -> Applicability:
    planned = {resource.type for resource in plan.resources}
    name = f"{plan.project}/{plan.stack}"
    applicable: list[str] = []
    skipped: dict[str, str] = {}
    for check in CHECKS.values():
        if planned.intersection(check.types):
            applicable.append(check.id)
        else:
            skipped[check.id] = f"the plan of {name} has no {' or '.join(check.types)}"
    return Applicability(name, tuple(applicable), skipped)
