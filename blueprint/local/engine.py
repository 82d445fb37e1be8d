"""``blueprint up --local``: the program's resources created in moto, the embedded AWS.

The program runs unchanged under Pulumi's mock monitor; for each AWS resource the mocks
make the boto3 calls the provider would make, against moto, and hand moto's answer (IDs,
ARNs, endpoints) back to the program, so every output the program wires into another
resource is a value AWS-like validation has seen. Resource types with no translator get
the deterministic state of the offline mocks and are reported as *simulated*; inputs moto
does not model are reported as *not applied*. Nothing is skipped silently.

Given the state of an earlier deploy into the same moto server (:mod:`blueprint.local.server`),
the deploy converges with it as ``pulumi up`` does with its state: a resource whose inputs are
unchanged is reused (no AWS call; its stored ID and outputs go back to the program, so all
that is wired from it is identical), a new one is created, and a changed one stops the deploy
(:class:`InputsChangedError`): the local deploy creates but neither updates nor replaces.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from blueprint import fidelity
from blueprint.capture import Plan, RecordingMonitor, ResourceError, capture, plain
from blueprint.fidelity.facts import write_only
from blueprint.local import (  # noqa: F401 (register translators)
    data_plane,
    delivery,
    ec2,
    functions,
    observability,
    security,
    storage,
)
from blueprint.local.models import AwsModels, RotationFunction, installed
from blueprint.local.registry import TRANSLATORS, Ctx
from blueprint.local.server import LocalState, StoredResource
from blueprint.local.target import AwsTarget
from blueprint.mocks import PlatformMocks, Where
from blueprint.values import integral


@dataclass
class Outcome:
    created: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) made in moto."""
    calls: list[str] = field(default_factory=list)
    """Data sources the program called, answered by moto (``GetRandomPassword``)."""
    simulated: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) moto cannot create: deterministic fake state."""
    unapplied: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, name, input) set in the program but not modelled by moto."""
    reused: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) unchanged since an earlier deploy into the same server: not touched."""
    left: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) an earlier deploy made that the program no longer registers: still in
    moto (the local deploy does not delete)."""
    rotated_before: set[str] = field(default_factory=set)
    """ARNs of rotation functions whose schedule, reused, already rotated in an earlier run."""


class InputsChangedError(Exception):
    """A resource already in moto is registered with other inputs: the local deploy would
    have to update or replace it, which it does not do."""

    def __init__(self, type_: str, name: str, paths: list[str]) -> None:
        super().__init__(f"{name} ({type_}) changed since it was deployed: {', '.join(paths)}")
        self.type = type_
        self.name = name
        self.paths = paths
        self.urn = ""
        """Set when the deploy stops on it (the mocks never see URNs)."""


class DeployStoppedError(Exception):
    """A registration that arrived after the deploy stopped and saved its state."""


LAMBDA_FUNCTION = "aws:lambda/function:Function"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


RANDOM_PASSWORD_CALL = "aws:secretsmanager/getRandomPassword:getRandomPassword"


class MotoMocks(PlatformMocks):
    """Mocks whose AWS resources are created in moto."""

    def __init__(self, target: AwsTarget, stack: str, state: LocalState | None = None) -> None:
        super().__init__()
        self.target = target
        self.stack = stack
        self.outcome = Outcome()
        self.earlier = state
        """What an earlier deploy made (None: in-process moto, always fresh)."""
        self.state = (
            LocalState(state.project, state.stack, dict(state.resources)) if state else None
        )
        """What moto holds after this deploy: the earlier state plus what this one made."""
        self._registered: set[tuple[str, str]] = set()
        self.refused: list[InputsChangedError] = []
        """Changed resources (several registrations may be refused before the run stops)."""
        self._closed = False
        self._lock = threading.Lock()  # the SDK registers resources from a thread pool

    def close(self) -> LocalState | None:
        """Stop creating (a registration still in flight is refused) and return the state."""
        with self._lock:
            self._closed = True
            return self.state

    def unregistered(self) -> list[tuple[str, str]]:
        """What the earlier state holds and this run did not register."""
        earlier = self.earlier.resources if self.earlier else {}
        return sorted(set(earlier) - self._registered)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token != RANDOM_PASSWORD_CALL:
            return super().call(args)
        # Generated by (moto's) Secrets Manager, as AWS generates it for the real program.
        request = integral(plain(dict(args.args)))
        with self._lock:
            self.outcome.calls.append(args.token)
            where = self.where(args.provider)
            self.target.account_id, region = where.account, where.region
            password = self.target.client("secretsmanager", region).get_random_password(
                PasswordLength=request.get("passwordLength", 32),
                ExcludeCharacters=request.get("excludeCharacters", ""),
                RequireEachIncludedType=bool(request.get("requireEachIncludedType", False)),
            )["RandomPassword"]
        return {"randomPassword": password, "id": region}, []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            return self._new_resource(args)

    def _new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        if self._closed:
            raise DeployStoppedError(f"{args.name}: not created, the deploy had stopped")
        inputs = integral(plain(dict(args.inputs)))
        key = (args.typ, args.name)
        if args.typ.startswith("pulumi:providers:"):
            return super().new_resource(args)  # records region, account and default tags
        translator = TRANSLATORS.get(args.typ)
        if translator is None or not args.typ.startswith("aws:"):
            if args.custom:
                self.outcome.simulated.append(key)
            return super().new_resource(args)
        provider = self.where(args.provider)
        self.target.account_id = provider.account
        # What the bridge and the provider refuse fails before any AWS call, as under the
        # offline mocks (same facts, the name salted as the translator salts it).
        fidelity.enforce(args.typ, args.name, inputs, salt=f"{self.stack}/{args.typ}")
        ctx = Ctx(
            target=self.target,
            type=args.typ,
            name=args.name,
            inputs=inputs,
            region=provider.region,
            account=provider.account,
            default_tags=provider.default_tags,
            stack=self.stack,
        )
        self._registered.add(key)
        compared = _compared(args, provider)
        stored = self.state.resources.get(key) if self.state else None
        if stored is not None:
            changed = _changed(stored.inputs, compared)
            if changed:
                refused = InputsChangedError(args.typ, args.name, changed)
                self.refused.append(refused)
                raise refused
            self._reuse(ctx, stored)
            self.outcome.reused.append(key)
        else:
            created = translator(ctx)
            stored = StoredResource(
                args.typ, args.name, compared, created.id, created.outputs, created.unapplied
            )
            if self.state is not None:
                self.state.resources[key] = stored
            self.outcome.created.append(key)
        self.outcome.unapplied += [(args.typ, args.name, i) for i in stored.unapplied]
        tags_all = {**provider.default_tags, **(inputs.get("tags") or {})}
        # Assets and archives go back as themselves (the SDK expects their types).
        raw = dict(args.inputs)
        echoed = {
            k: raw[k] if isinstance(raw.get(k), pulumi.Asset | pulumi.Archive) else v
            for k, v in inputs.items()
        }
        return stored.id, {**echoed, "tagsAll": tags_all, **stored.outputs}

    def _reuse(self, ctx: Ctx, stored: StoredResource) -> None:
        """No AWS call; what this process models about the resource is put back."""
        if stored.type == LAMBDA_FUNCTION:
            # The function's handler runs here, not in moto: register it again, in case a
            # rotation schedule created in this run invokes it.
            functions.reattach(ctx, str(stored.outputs["arn"]))
        elif stored.type == SECRET_ROTATION and stored.outputs.get("rotationEnabled"):
            # The schedule's first rotation ran when it was created; AWS would not run one
            # again for an unchanged schedule (SECRETS.ROTATED in the audit judges the secret).
            self.outcome.rotated_before.add(str(ctx.inputs["rotationLambdaArn"]))


def _compared(args: pulumi.runtime.MockResourceArgs, provider: Where) -> dict[str, Any]:
    """A resource's inputs as the engine diffs them: write-only inputs left out (never
    diffed), numbers integral, assets by content (the engine compares hashes, not paths),
    with the tags the provider adds and where the provider puts it."""
    inputs = integral(plain(_hashed(dict(args.inputs))))
    kept = {k: v for k, v in inputs.items() if k not in write_only(args.typ)}
    return {
        **kept,
        "tagsAll": {**provider.default_tags, **(kept.get("tags") or {})},
        "(provider).account": provider.account,
        "(provider).region": provider.region,
    }


def _hashed(value: Any) -> Any:
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {k: _hashed(v) for k, v in value.assets.items()}}
    if isinstance(value, pulumi.FileAsset):
        return {"sha256": hashlib.sha256(Path(str(value.path)).read_bytes()).hexdigest()}
    if isinstance(value, pulumi.StringAsset):
        return {"sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    if isinstance(value, dict):
        return {k: _hashed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hashed(v) for v in value]
    return value  # other assets and archives: as plain() shows them (path or URI)


def _changed(before: Any, after: Any, path: str = "") -> list[str]:
    """The paths (``a.b``, ``c[0]``) where two input documents differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in before or key not in after:
                paths.append(where)
            else:
                paths += _changed(before[key], after[key], where)
        return paths
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [p for i, (b, a) in enumerate(zip(before, after, strict=True))
                for p in _changed(b, a, f"{path}[{i}]")]  # fmt: skip
    return [] if before == after else [path or "(all)"]


@dataclass
class LocalDeploy:
    plan: Plan
    outcome: Outcome
    target: AwsTarget
    models: AwsModels
    """The AWS models the deploy ran under (their state stays readable afterwards)."""

    def rotations(self) -> list[Rotation]:
        """What each rotation function the program deployed did (run in-process)."""
        before = self.outcome.rotated_before
        return [Rotation.of(f, before=f.arn in before) for f in self.models.functions.values()]


@dataclass(frozen=True)
class Rotation:
    function: str
    steps: int
    """Invocations, retries included."""
    attempts: int
    completed: bool
    """The last attempt ran every step in time (finishSecret last, without error)."""
    error: str | None
    """The last failing step's error, if any."""
    before: bool = False
    """Its schedule was reused from an earlier deploy whose rotation ran: none ran now."""

    @staticmethod
    def of(function: RotationFunction, *, before: bool = False) -> Rotation:
        calls = function.invocations
        last = calls[-1] if calls else None
        errors = [c.error for c in calls if c.error]
        return Rotation(
            function=function.name,
            steps=len(calls),
            attempts=max((c.attempt for c in calls), default=0),
            completed=last is not None and last.step == "finishSecret" and last.error is None,
            error=errors[-1] if errors else None,
            before=before,
        )


def deploy(
    project_dir: Path,
    stack: str,
    target: AwsTarget,
    stack_file: Path | None = None,
    models: AwsModels | None = None,
    *,
    state: LocalState | None = None,
    save: Callable[[LocalState], None] | None = None,
) -> LocalDeploy:
    """Run the program for ``stack`` with its AWS resources created at ``target``.

    The caller owns the moto context (``mock_aws`` in-process, or a server at the target's
    endpoint); AWS errors surface as :class:`blueprint.capture.ResourceError` naming the URN,
    a resource changed since ``state`` as :class:`InputsChangedError`. With a ``state``
    (a moto server), the deploy converges with it, and ``save`` receives the new state
    however the deploy ends.
    """
    mocks = MotoMocks(target, stack, state)
    # moto with AWS's in-between states (modifying, UPDATING, rotation retries): see ADR 0015.
    # In-process only; a moto server needs them installed in its own process.
    with installed(models) as active:
        try:
            plan = capture(
                project_dir, stack, stack_file=stack_file, monitor=RecordingMonitor(mocks)
            )
        except ResourceError as exc:
            # The SDK does not keep the cause on its way out: the mocks do.
            if not mocks.refused:
                raise
            matching = [r for r in mocks.refused if str(r) == exc.detail]
            refused = matching[0] if matching else mocks.refused[0]
            refused.urn = exc.urn if matching else ""
            raise refused from exc
        finally:
            # Whatever stopped the deploy: what it made is in the state, never made twice.
            final = mocks.close()
            if save is not None and final is not None:
                save(final)
    mocks.outcome.left = mocks.unregistered()
    return LocalDeploy(plan=plan, outcome=mocks.outcome, target=target, models=active)
