"""``blueprint up --local``: the program's resources created in moto, the embedded AWS.

The program runs unchanged under Pulumi's mock monitor; for each AWS resource the mocks
make the boto3 calls the provider would make, against moto, and hand moto's answer (IDs,
ARNs, endpoints) back to the program, so every output the program wires into another
resource is a value AWS-like validation has seen. Resource types with no translator get
the deterministic state of the offline mocks and are reported as *simulated*; inputs moto
does not model are reported as *not applied*. Nothing is skipped silently.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from blueprint.capture import Plan, RecordingMonitor, capture, plain
from blueprint.local import data_plane, ec2, security, storage  # noqa: F401 (register translators)
from blueprint.local.registry import TRANSLATORS, Ctx
from blueprint.local.target import AwsTarget
from blueprint.mocks import PlatformMocks


@dataclass
class Outcome:
    created: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) made in moto."""
    local: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) that never touch AWS (generated passwords), made for real locally."""
    simulated: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) moto cannot create: deterministic fake state."""
    unapplied: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, name, input) set in the program but not modelled by moto."""


def _random_password(inputs: dict[str, Any]) -> str:
    """What pulumi-random generates: the requested length and character classes."""
    length = int(inputs.get("length", 16))
    special = (
        inputs.get("overrideSpecial", string.punctuation) if inputs.get("special", True) else ""
    )
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, special]
    minimums = [
        inputs.get("minLower", 0),
        inputs.get("minUpper", 0),
        inputs.get("minNumeric", 0),
        inputs.get("minSpecial", 0),
    ]
    chars = [
        secrets.choice(cls) for cls, n in zip(classes, minimums, strict=True) for _ in range(n)
    ]
    alphabet = "".join(c for c in classes if c)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _integral(value: Any) -> Any:
    """Numbers cross the engine protocol as doubles; AWS APIs want integers where integral."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


class MotoMocks(PlatformMocks):
    """Mocks whose AWS resources are created in moto."""

    def __init__(self, target: AwsTarget, stack: str) -> None:
        super().__init__()
        self.target = target
        self.stack = stack
        self.outcome = Outcome()
        self._lock = threading.Lock()  # the SDK registers resources from a thread pool

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            return self._new_resource(args)

    def _new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = _integral(plain(dict(args.inputs)))
        key = (args.typ, args.name)
        if args.typ.startswith("pulumi:providers:"):
            return super().new_resource(args)  # records region, account and default tags
        if args.typ == "random:index/randomPassword:RandomPassword":
            self.outcome.local.append(key)
            return "none", {**inputs, "result": _random_password(inputs)}
        translator = TRANSLATORS.get(args.typ)
        if translator is None or not args.typ.startswith("aws:"):
            if args.custom:
                self.outcome.simulated.append(key)
            return super().new_resource(args)
        provider = self.where(args.provider)
        self.target.account_id = provider.account
        created = translator(
            Ctx(
                target=self.target,
                type=args.typ,
                name=args.name,
                inputs=inputs,
                region=provider.region,
                account=provider.account,
                default_tags=provider.default_tags,
                stack=self.stack,
            )
        )
        self.outcome.created.append(key)
        self.outcome.unapplied += [(args.typ, args.name, i) for i in created.unapplied]
        tags_all = {**provider.default_tags, **(inputs.get("tags") or {})}
        return created.id, {**inputs, "tagsAll": tags_all, **created.outputs}


@dataclass
class LocalDeploy:
    plan: Plan
    outcome: Outcome
    target: AwsTarget


def deploy(
    project_dir: Path, stack: str, target: AwsTarget, stack_file: Path | None = None
) -> LocalDeploy:
    """Run the program for ``stack`` with its AWS resources created at ``target``.

    The caller owns the moto context (``mock_aws`` in-process, or a server at the target's
    endpoint); AWS errors surface as :class:`blueprint.capture.ResourceError` naming the URN.
    """
    mocks = MotoMocks(target, stack)
    plan = capture(project_dir, stack, stack_file=stack_file, monitor=RecordingMonitor(mocks))
    return LocalDeploy(plan=plan, outcome=mocks.outcome, target=target)
