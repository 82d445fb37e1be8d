"""Decide IAM requests offline: the project's side of the evaluator in ``.tools/iam-eval``.

:func:`evaluate` takes a role (identity policies, optional permissions boundary, tags), the
resource policies in play and the requests, and returns one :class:`Decision` per request.
principalmapper decides them in its own interpreter (:mod:`blueprint.iam_eval.runner`, JSON on
stdin and stdout); nothing here imports it. See docs/adr/0024-offline-iam-evaluation.md for
what it gets right, and what is refused here because it gets it wrong.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blueprint.iam_eval.environment import MAKE_TARGET, IamEvalEnvironment

PROJECT_DIR = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("runner.py")
TIMEOUT = 120.0
STDERR_TAIL = 4000
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/.+$")
UNSUPPORTED_OPERATOR = "stringnotlike"
"""principalmapper 1.1.5 evaluates ``StringNotLike`` on an absent key as no match
(querying/local_policy_simulation.py:404-406); AWS evaluates it as a match, so a Deny built on
it would look weaker offline than it is. Refused in every variant, so no test passes through it."""

POLICY_VARIABLE = "${"
"""principalmapper substitutes ``${aws:PrincipalTag/x}`` in Resource and Action only
(local_policy_simulation.py:908-927), not in condition values (``_get_str_match`` compares
the literal), so a variable there is refused too."""

PolicyDocument = Mapping[str, Any]
"""An IAM policy document as AWS takes it (``Version``, ``Statement``)."""
ContextValue = str | Sequence[str]


class IamEvalError(RuntimeError):
    """The evaluator ran and could not decide (a malformed input, a crash)."""


class UnsupportedPolicyError(ValueError):
    """A policy uses something the evaluator is known to decide differently from AWS."""


@dataclass(frozen=True)
class Principal:
    """The IAM role making the requests, modelled by its ARN (``aws:PrincipalArn`` of any
    session of it), not by a session ARN."""

    arn: str
    """The role's ARN, ``arn:aws:iam::<account>:role/<name>``."""
    identity_policies: Sequence[PolicyDocument]
    """Its inline and attached managed policies' documents."""
    boundary: PolicyDocument | None = None
    """Its permissions boundary's document, if it has one."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Principal (or Pod Identity session) tags, seen by policies as ``aws:PrincipalTag/<k>``."""

    def __post_init__(self) -> None:
        if not ROLE_ARN.match(self.arn):
            raise ValueError(
                f"principal {self.arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/"
                "<name>); sessions are modelled by their role"
            )

    @property
    def account(self) -> str:
        matched = ROLE_ARN.match(self.arn)
        assert matched is not None  # checked in __post_init__
        return matched["account"]


@dataclass(frozen=True)
class ResourcePolicy:
    """A resource's own policy: an S3 bucket policy, a KMS key policy, a secret's policy."""

    owner_account: str
    """The account that owns the resource (S3 ARNs carry none)."""
    policy: PolicyDocument
    """The policy document."""


@dataclass(frozen=True)
class Request:
    """One API call to decide."""

    action: str
    """``service:Action``, e.g. ``s3:ListBucket``."""
    resource: str
    """The ARN the action is authorized against."""
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    """Request condition keys (``s3:prefix``, ...); these override the principal's tags."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    """The step that decided, in principalmapper's words (or the runner's)."""


def evaluate(
    principal: Principal,
    resource_policies: Mapping[str, ResourcePolicy],
    requests: Sequence[Request],
    *,
    project_dir: Path = PROJECT_DIR,
) -> list[Decision]:
    """One decision per request, in order.

    ``resource_policies`` maps a resource ARN (or an ARN prefix ending in ``*``) to its policy;
    a bucket's ARN also governs the bucket's objects. A request on a KMS key needs its key
    policy here: AWS consults it on every call (see the runner). Raises
    :class:`UnsupportedPolicyError` before running anything when a policy uses
    ``StringNotLike`` or a policy variable in a condition, and
    :class:`~blueprint.iam_eval.environment.IamEvalUnavailableError` (naming
    ``make iam-eval``) when the evaluator's environment is missing and cannot be built.
    """
    refuse_unsupported(_documents(principal, resource_policies))
    document = {
        "principal": {
            "arn": principal.arn,
            "account": principal.account,
            "identity_policies": [dict(p) for p in principal.identity_policies],
            "boundary": dict(principal.boundary) if principal.boundary is not None else None,
            "tags": dict(principal.tags),
        },
        "resource_policies": {
            key: {"owner_account": rp.owner_account, "policy": dict(rp.policy)}
            for key, rp in resource_policies.items()
        },
        "requests": [
            {
                "action": r.action,
                "resource": r.resource,
                "context": {k: v if isinstance(v, str) else list(v) for k, v in r.context.items()},
            }
            for r in requests
        ],
    }
    python = IamEvalEnvironment(project_dir).ensure()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        # -I: the runner's own directory (client.py, environment.py) stays off sys.path.
        done = subprocess.run(
            [str(python), "-I", str(RUNNER)],
            input=json.dumps(document),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IamEvalError(f"could not run the IAM evaluator ({python}): {exc}") from None
    if done.returncode:
        raise IamEvalError(
            f"the IAM evaluator exited with {done.returncode}:\n{done.stderr[-STDERR_TAIL:]}\n"
            f"(a broken environment? `{MAKE_TARGET}` rebuilds it)"
        )
    answers = json.loads(done.stdout)
    if len(answers) != len(requests):
        raise IamEvalError(f"{len(answers)} decisions for {len(requests)} requests")
    return [Decision(bool(a["allowed"]), str(a.get("reason", ""))) for a in answers]


def refuse_unsupported(documents: Iterator[tuple[str, PolicyDocument]]) -> None:
    """Raise :class:`UnsupportedPolicyError` naming the first policy and statement that uses a
    ``StringNotLike`` operator (any qualifier or ``IfExists`` suffix) or a policy variable in
    a condition value."""
    for where, document in documents:
        statements = document.get("Statement", [])
        for index, statement in enumerate(
            [statements] if isinstance(statements, Mapping) else statements
        ):
            sid = statement.get("Sid", f"#{index}")
            for operator, keys in statement.get("Condition", {}).items():
                if UNSUPPORTED_OPERATOR in operator.lower():
                    raise UnsupportedPolicyError(
                        f"{where}, statement {sid}: {operator} is not evaluated like AWS by "
                        "principalmapper 1.1.5 (an absent key counts as no match; AWS counts "
                        "it as a match). Rewrite it (e.g. a separate Deny with a Null check on "
                        "the key) or prove it against AWS."
                    )
                if POLICY_VARIABLE in json.dumps(keys):
                    raise UnsupportedPolicyError(
                        f"{where}, statement {sid}: a policy variable in a {operator} value is "
                        "compared literally by principalmapper 1.1.5 (it substitutes variables "
                        "in Resource and Action only); AWS substitutes it."
                    )


def _documents(
    principal: Principal, resource_policies: Mapping[str, ResourcePolicy]
) -> Iterator[tuple[str, PolicyDocument]]:
    for index, policy in enumerate(principal.identity_policies):
        yield f"identity policy {index} of {principal.arn}", policy
    if principal.boundary is not None:
        yield f"permissions boundary of {principal.arn}", principal.boundary
    for key, rp in resource_policies.items():
        yield f"resource policy of {key}", rp.policy
