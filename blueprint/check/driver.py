"""Drive policy packs over gRPC the way the Pulumi engine does during ``pulumi preview``.

Per pack, in the engine's order:

1. start the pack (:mod:`blueprint.check.process`) and ``Handshake``, then ``ConfigureStack``
   (stack, project, organization, config, secret keys, tags, dry run);
2. ``GetAnalyzerInfo``, then reconcile the config (:mod:`blueprint.check.config`) and
   ``Configure`` — before any analysis, or schema defaults and initial config are ignored.
   Every ``PolicyConfig`` carries its ``enforcementLevel`` (the proto default, 0, means
   advisory) and ``properties`` (a Node.js pack fails on a config without them);
3. for each resource the engine registers (the root stack, components, providers and custom
   resources; :mod:`blueprint.check.wire`), in registration order: ``Remediate`` with every
   pack, feeding each remediation's properties onwards, then ``Analyze`` with every pack on
   the final properties (remediations first, so nothing circumvents the checks). ``Remediate`` is
   skipped for a pack with no policy at the ``remediate`` level: both SDKs then answer it
   with nothing;
4. ``AnalyzeStack`` with every pack.

All packs run at once (started together, so their start-up overlaps with each other and with
the capture of the plan); each is stopped when the ``running`` block ends, also on errors.

One deliberate difference: each pack runs as ``WORKERS`` processes that share the resources
(step 3), since a pack serves one call at a time on one core; the report is the same as with
one process (``workers=1``) unless a policy keeps state from one resource to the next.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from blueprint.capture import Plan
from blueprint.check.config import (
    ConfigLayer,
    PolicyConfig,
    PolicyMeta,
    read_config_file,
    reconcile,
)
from blueprint.check.errors import PackError
from blueprint.check.pack import PolicyPackDir
from blueprint.check.process import PackProcess, launched, pack_environment
from blueprint.check.report import SECRET_MASK, CheckReport, Finding, PackRun, Remediation
from blueprint.check.wire import PROVIDER_PREFIX, Wire, WireResource, from_struct, wire_resources
from blueprint.values import integral

RPC_TIMEOUT = 120.0
WORKERS = min(4, os.cpu_count() or 1)
"""Processes per pack. Policies see one resource per call, so resources are spread over
workers (a pack's Python server is bound to one core); ``workers=1`` is the CLI's exact
one-process shape, for a pack whose policies keep state from one resource to the next."""
# As the CLI: packs may send large messages (a whole stack), up to 400 MB.
MAX_MESSAGE = 400 * 1024 * 1024

LEVEL_NAMES = {
    proto.ADVISORY: "advisory",
    proto.MANDATORY: "mandatory",
    proto.REMEDIATE: "remediate",
    proto.DISABLED: "disabled",
}
LEVEL_VALUES = {name: value for value, name in LEVEL_NAMES.items()}
SEVERITY_NAMES = {
    proto.POLICY_SEVERITY_LOW: "low",
    proto.POLICY_SEVERITY_MEDIUM: "medium",
    proto.POLICY_SEVERITY_HIGH: "high",
    proto.POLICY_SEVERITY_CRITICAL: "critical",
}
KIND_NAMES = {proto.POLICY_TYPE_RESOURCE: "resource", proto.POLICY_TYPE_STACK: "stack"}


@dataclass(frozen=True)
class StackTarget:
    """The stack being checked, as the CLI describes it to a pack."""

    project: str
    stack: str
    config: Mapping[str, str] = field(default_factory=dict)
    """``namespace:key`` to string, as in ``PULUMI_CONFIG``."""
    secret_keys: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    organization: str = "organization"
    dry_run: bool = True


@dataclass(frozen=True)
class PackRequest:
    """A pack to run, and its ``--policy-pack-config`` file (``None``: pack defaults only)."""

    pack: PolicyPackDir
    config_file: Path | None = None


@dataclass(frozen=True)
class PackInfo:
    """``GetAnalyzerInfo``, decoded."""

    name: str
    version: str
    policies: list[PolicyMeta]
    initial_config: ConfigLayer

    def policy(self, name: str) -> PolicyMeta | None:
        return next((p for p in self.policies if p.name == name), None)


def _struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    # Whole numbers back as ints: a Struct holds only floats (``minimum: 1.0``).
    return {k: integral(v) for k, v in json_format.MessageToDict(struct).items()}


def decode_info(info: proto.AnalyzerInfo, pack: PolicyPackDir) -> PackInfo:
    policies = [
        PolicyMeta(
            name=p.name,
            description=p.description,
            enforcement_level=LEVEL_NAMES.get(p.enforcementLevel, "advisory"),
            severity=SEVERITY_NAMES.get(p.severity),
            kind=KIND_NAMES.get(p.policy_type, "unknown"),
            schema_properties=_struct_dict(p.configSchema.properties),
            schema_required=list(p.configSchema.required),
        )
        for p in info.policies
    ]
    # An initial config entry without a level arrives as 0 (advisory), and the CLI applies
    # it as advisory: mirrored, so a pack behaves here as it will under `pulumi preview`.
    initial = {
        name: PolicyConfig(LEVEL_NAMES.get(c.enforcementLevel), _struct_dict(c.properties))
        for name, c in info.initialConfig.items()
    }
    # As the CLI: PulumiPolicy.yaml's version wins over the pack's (Python packs say 0.0.1).
    version = pack.version or info.version
    return PackInfo(name=info.name, version=version, policies=policies, initial_config=initial)


class PackSession:
    """One running, configured pack, and the RPCs the engine makes to it."""

    def __init__(self, request: PackRequest, process: PackProcess, address: str) -> None:
        self.request = request
        self.process = process
        self.channel = grpc.insecure_channel(
            address, options=[("grpc.max_receive_message_length", MAX_MESSAGE)]
        )
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self.info = PackInfo(
            name=str(request.pack.directory), version="", policies=[], initial_config={}
        )
        self.config: dict[str, PolicyConfig] = {}

    @property
    def pack(self) -> PolicyPackDir:
        return self.request.pack

    def call(self, method: str, request: Any, *, about: str = "", optional: bool = False) -> Any:
        """One unary RPC; a pack error or death becomes a :class:`PackError` with its stderr."""
        try:
            return getattr(self.stub, method)(request, timeout=RPC_TIMEOUT)
        except grpc.RpcError as exc:
            code = exc.code()
            if optional and code == grpc.StatusCode.UNIMPLEMENTED:
                return None
            if code == grpc.StatusCode.UNAVAILABLE:
                self.process.settle(timeout=2.0)  # it may be dying: show how it ended
            subject = f" of {about}" if about else ""
            raise PackError(
                f"policy pack {self.info.name} ({self.pack.directory}) failed {method}{subject}: "
                f"{code.name}: {exc.details()}; "
                f"the pack {self.process.describe_exit()}"
            ) from None

    def start(self, target: StackTarget, user_config: ConfigLayer) -> None:
        """Handshake, ConfigureStack, GetAnalyzerInfo, then Configure with the merged config."""
        directory = str(self.pack.directory)
        self.call(
            "Handshake",
            proto.AnalyzerHandshakeRequest(
                engine_address="127.0.0.1:0",
                root_directory=directory,
                program_directory=directory,
            ),
            optional=True,
        )
        self.call(
            "ConfigureStack",
            proto.AnalyzerStackConfigureRequest(
                stack=target.stack,
                project=target.project,
                organization=target.organization,
                dry_run=target.dry_run,
                config=dict(target.config),
                config_secret_keys=list(target.secret_keys),
                tags=dict(target.tags),
            ),
            optional=True,
        )
        self.info = decode_info(self.call("GetAnalyzerInfo", empty_pb2.Empty()), self.pack)
        self.config = reconcile(
            self.info.policies,
            self.info.initial_config,
            user_config,
            source=self.request.config_file,
        )
        policy_config = {}
        for name, config in self.config.items():
            # Always both fields: level 0 would mean advisory, a missing Struct breaks Node.
            properties = struct_pb2.Struct()
            properties.update(config.properties)
            policy_config[name] = proto.PolicyConfig(
                enforcementLevel=LEVEL_VALUES[config.enforcement_level or "advisory"],
                properties=properties,
            )
        self.call("Configure", proto.ConfigureAnalyzerRequest(policyConfig=policy_config))

    @property
    def remediates(self) -> bool:
        return any(c.enforcement_level == "remediate" for c in self.config.values())

    def run(self) -> PackRun:
        return PackRun(
            name=self.info.name,
            version=self.info.version,
            runtime=self.pack.runtime,
            directory=self.pack.directory,
            config_file=self.request.config_file,
            policies={n: c.enforcement_level or "advisory" for n, c in self.config.items()},
        )

    def finding(self, diagnostic: proto.AnalyzeDiagnostic, urn: str | None) -> Finding:
        level = LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory")
        meta = self.info.policy(diagnostic.policyName)
        return Finding(
            policy=diagnostic.policyName,
            pack=diagnostic.policyPackName or self.info.name,
            pack_version=self.info.version or diagnostic.policyPackVersion,
            # As the CLI: the policy's declared severity when the diagnostic has none.
            severity=SEVERITY_NAMES.get(diagnostic.severity) or (meta.severity if meta else None),
            # As the engine: a remediate-level violation that is still there is mandatory.
            enforcement_level="mandatory" if level == "remediate" else level,
            urn=urn or None,
            message=diagnostic.message,
            description=diagnostic.description,
        )


class RunningPacks:
    """Started packs; :meth:`packs` waits until each process listens and configures it."""

    def __init__(
        self,
        requests: Sequence[PackRequest],
        processes: Sequence[Sequence[PackProcess]],
        user_configs: Sequence[ConfigLayer],
        target: StackTarget,
        cleanup: ExitStack,
    ) -> None:
        self._pending = list(zip(requests, processes, user_configs, strict=True))
        self._target = target
        self._cleanup = cleanup
        self._packs: list[list[PackSession]] = []

    def packs(self) -> list[list[PackSession]]:
        """Per pack, its configured workers (the same pack, one process each)."""
        while self._pending:
            request, workers, user_config = self._pending.pop(0)
            sessions = []
            for process in workers:
                session = PackSession(request, process, process.address())
                self._cleanup.callback(session.channel.close)
                session.start(self._target, user_config)
                sessions.append(session)
            self._packs.append(sessions)
        return self._packs


@contextmanager
def running(
    requests: Sequence[PackRequest], target: StackTarget, *, workers: int = WORKERS
) -> Iterator[RunningPacks]:
    """Start every pack at once, ``workers`` processes each (their start-up overlaps, also
    with whatever the caller does next); all are stopped when the block ends, however."""
    user_configs = [read_config_file(r.config_file) if r.config_file else {} for r in requests]
    with ExitStack() as stack:
        processes = []
        for request in requests:
            env = pack_environment(
                request.pack,
                project=target.project,
                stack=target.stack,
                organization=target.organization,
                config=target.config,
                dry_run=target.dry_run,
            )
            processes.append(
                [stack.enter_context(launched(request.pack, env)) for _ in range(max(workers, 1))]
            )
        yield RunningPacks(requests, processes, user_configs, target, stack)


def _changes(
    before: Mapping[str, Any], after: Mapping[str, Any], secrets: set[str]
) -> tuple[dict[str, Any], list[str]]:
    changed = {
        key: SECRET_MASK if key in secrets else value
        for key, value in after.items()
        if key not in before or before[key] != value
    }
    return changed, sorted(set(before) - set(after))


@dataclass
class Outcome:
    """What the packs said about one resource."""

    findings: list[Finding] = field(default_factory=list)
    remediations: list[Remediation] = field(default_factory=list)


def _remediate(session: PackSession, wire: Wire, resource: WireResource, outcome: Outcome) -> None:
    response = session.call(
        "Remediate", wire.request(resource, internal_keys=True), about=resource.urn, optional=True
    )
    for remediation in response.remediations if response is not None else []:
        pack = remediation.policyPackName or session.info.name
        if remediation.diagnostic:
            # As the engine: a remediation that could not run is an advisory finding.
            outcome.findings.append(
                Finding(
                    policy=remediation.policyName,
                    pack=pack,
                    pack_version=session.info.version,
                    severity=None,
                    enforcement_level="advisory",
                    urn=resource.urn,
                    message=remediation.diagnostic,
                    description=remediation.description,
                )
            )
            continue
        if not remediation.HasField("properties"):
            continue
        inputs, secrets = from_struct(remediation.properties)
        changed, removed = _changes(resource.inputs, inputs, secrets)
        # As the engine: later packs, and Analyze, see the remediated properties.
        resource.inputs, resource.secrets = inputs, secrets
        if changed or removed:
            outcome.remediations.append(
                Remediation(remediation.policyName, pack, resource.urn, changed, removed)
            )


def _resource(sessions: Sequence[PackSession], wire: Wire, resource: WireResource) -> Outcome:
    """Remediate with every pack, then Analyze with every pack, as the engine's two passes."""
    outcome = Outcome()
    for session in sessions:
        # Only policies at the remediate level remediate: without one, the RPC is a no-op.
        if session.remediates:
            _remediate(session, wire, resource, outcome)
    for session in sessions:
        response = session.call(
            "Analyze", wire.request(resource, internal_keys=False), about=resource.urn
        )
        # As the engine: a resource's findings are about that resource.
        outcome.findings += [session.finding(d, resource.urn) for d in response.diagnostics]
    return outcome


def evaluate(
    packs: Sequence[Sequence[PackSession]], plan: Plan, target: StackTarget
) -> CheckReport:
    """Run every configured pack over ``plan``; findings and remediations in plan order.

    Providers go first, one by one (a remediated provider is what its resources see); the
    other resources are spread over each pack's workers.
    """
    wire = Wire(wire_resources(plan, target.config))
    report = CheckReport(project=plan.project, stack=plan.stack, packs=[p[0].run() for p in packs])
    workers = max(len(p) for p in packs) if packs else 1

    def shard(worker: int, indices: Sequence[int]) -> dict[int, Outcome]:
        sessions = [p[worker % len(p)] for p in packs]
        return {i: _resource(sessions, wire, wire.resources[i]) for i in indices}

    providers = [i for i, r in enumerate(wire.resources) if r.type.startswith(PROVIDER_PREFIX)]
    outcomes = shard(0, providers)
    rest = [i for i in range(len(wire.resources)) if i not in outcomes]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(lambda w: shard(w, rest[w::workers]), range(workers)):
            outcomes.update(part)
    for index in sorted(outcomes):
        report.findings += outcomes[index].findings
        report.remediations += outcomes[index].remediations
    for sessions in packs:
        response = sessions[0].call("AnalyzeStack", wire.stack_request(), optional=True)
        if response is not None:
            report.findings += [sessions[0].finding(d, d.urn) for d in response.diagnostics]
    return report


def check_plan(
    plan: Plan, requests: Sequence[PackRequest], target: StackTarget, *, workers: int = WORKERS
) -> CheckReport:
    """Start ``requests``' packs, check ``plan`` with them, stop them."""
    with running(requests, target, workers=workers) as started:
        return evaluate(started.packs(), plan, target)
