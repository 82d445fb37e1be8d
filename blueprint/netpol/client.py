"""Decide pod-to-pod reachability offline: the project's side of the analyzer in ``.tools/netpol``.

:func:`analyze` takes rendered manifests (:func:`blueprint.checkov.manifests.render`), adds one
representative workload per namespace (the manifests have almost none: the teams deploy their
own), and asks IBM np-guard's network-config-analyzer (``nca --connectivity``, Apache-2.0) for
the connectivity map. The answer comes back as a :class:`ConnectivityMap`:
``connections("search", "recommendations")`` is the set of ports any pod of the first
namespace may open to any pod of the second, or :data:`ALL`. Nothing here decides
reachability; it only reads the analyzer's answer, and refuses what it cannot read exactly.

What the analyzer assumes (and so what a green answer means): pods are not inside any
``ipBlock`` (the Kubernetes API's own advice; with the VPC CNI pod IPs are VPC IPs, so
tests/test_tenant_network_isolation.py also proves isolation with the source's egress wide
open), kube-system runs kube-dns with
``k8s-app: kube-dns`` and no NetworkPolicy, and every namespace carries the
``kubernetes.io/metadata.name`` label the API server adds.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from blueprint.netpol.environment import MAKE_TARGET, NetpolEnvironment

PROJECT_DIR = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0
STDERR_TAIL = 4000
PROBES_FILE = "zzz-netpol-probes.yaml"
OUTPUT_FILE = "connectivity.yaml"

ALL: Final = "All"
"""Every protocol and port: what the analyzer calls ``All connections``."""
All = Literal["All"]

KUBE_SYSTEM = "kube-system"
KUBE_DNS_LABELS: Final = {"k8s-app": "kube-dns"}
"""The labels EKS's CoreDNS pods carry, which the baseline's DNS egress selects."""
COMMON_POD_LABELS: Final = {
    "app.kubernetes.io/part-of": "feature-platform",
    "app.kubernetes.io/managed-by": "pulumi",
}
"""The labels every platform workload carries (components/consistency_probe.py, the pod
template of the one workload the plan itself deploys)."""

LOST_NAMESPACE = "is missing from the peer container"
"""nca 2.1.0's warning when a Namespace read with the resources is dropped: its labels are
then lost and every ``namespaceSelector`` on them selects nothing, silently narrowing the
answer. Seen with ``--resource_list``; the client passes ``--ns_list``/``--pod_list`` and
refuses any run that says it."""
PORT_PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
"""The protocols a NetworkPolicy port applies to: a cube that names no protocol but some ports
covers these three."""
MAX_PORT = 65535


class NetpolError(RuntimeError):
    """The analyzer ran and its answer could not be read exactly (or it failed)."""


@dataclass(frozen=True, order=True)
class PortRange:
    """One protocol and a range of destination ports."""

    protocol: str
    """``TCP``, ``UDP`` or ``SCTP``."""
    first: int
    last: int

    def __str__(self) -> str:
        ports = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return f"{self.protocol.lower()}/{ports}"


def port(spec: str) -> PortRange:
    """``"tcp/6566"`` or ``"tcp/1000-2000"`` as a :class:`PortRange`."""
    protocol, _, ports = spec.partition("/")
    first, _, last = ports.partition("-")
    return PortRange(protocol.upper(), int(first), int(last or first))


Connections = frozenset[PortRange] | All
"""What one namespace may open to another: destination ports per protocol, or :data:`ALL`.
Empty means nothing."""


def describe(connections: Connections) -> str:
    if connections == ALL:
        return "all protocols and ports"
    return ", ".join(str(p) for p in sorted(connections)) or "nothing"


@dataclass(frozen=True)
class ConnectivityMap:
    """The analyzer's answer, namespace to namespace (any pod of one to any pod of the other)."""

    namespaces: frozenset[str]
    """The namespaces the analyzer saw (manifests and probes)."""
    pairs: Mapping[tuple[str, str], Connections]
    """(source, destination) → what is allowed; absent pairs allow nothing."""
    warnings: tuple[str, ...] = field(default=())
    """The analyzer's own warnings about the policies (rules that select nothing, ...)."""

    def connections(self, src_namespace: str, dst_namespace: str) -> Connections:
        for namespace in (src_namespace, dst_namespace):
            if namespace not in self.namespaces:
                # Otherwise a typo would read as "isolated".
                raise KeyError(f"namespace {namespace!r} is not in the analyzed cluster")
        return self.pairs.get((src_namespace, dst_namespace), frozenset())


def probe_workloads(namespaces: Iterable[str]) -> list[dict[str, Any]]:
    """One Deployment per namespace with the platform's pod labels, and kube-system's kube-dns.

    Every policy of the baseline selects pods with ``podSelector: {}``, so one pod stands for
    the namespace; its labels are the platform's all the same, so a policy that starts
    selecting by label is analysed against what the workloads actually carry.
    """
    documents: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KUBE_SYSTEM}}
    ]
    targets = [(ns, {**COMMON_POD_LABELS, "app.kubernetes.io/name": f"{ns}-probe"}) for ns in
               sorted(set(namespaces) - {KUBE_SYSTEM})]  # fmt: skip
    # kube-dns and one other kube-system pod: the DNS egress must reach the first only.
    targets += [(KUBE_SYSTEM, dict(KUBE_DNS_LABELS)), (KUBE_SYSTEM, {"k8s-app": "other"})]
    for namespace, labels in targets:
        documents.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"{namespace}-{labels.get('k8s-app', 'probe')}",
                             "namespace": namespace,
                             "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "probe", "image": "probe:0"}]},
                    },
                },
            }
        )  # fmt: skip
    return documents


def analyze(
    documents: Mapping[str, Mapping[str, Any]], *, project_dir: Path = PROJECT_DIR
) -> ConnectivityMap:
    """The connectivity map of ``documents`` (file name → manifest, as
    :attr:`blueprint.checkov.manifests.Manifests.documents`) plus :func:`probe_workloads`.

    Raises :class:`~blueprint.netpol.environment.NetpolUnavailableError` (naming
    ``make netpol``) when the analyzer's environment is missing and cannot be built, and
    :class:`NetpolError` when the analyzer fails or answers in a form not read exactly here.
    """
    namespaces = {d["metadata"]["name"] for d in documents.values() if d.get("kind") == "Namespace"}
    python = NetpolEnvironment(project_dir).ensure()
    nca = python.parent / "nca"
    with tempfile.TemporaryDirectory(prefix="netpol-") as tmp:
        inputs = Path(tmp) / "manifests"
        inputs.mkdir()
        for name, document in documents.items():
            (inputs / name).write_text(yaml.safe_dump(dict(document), sort_keys=False))
        (inputs / PROBES_FILE).write_text(yaml.safe_dump_all(probe_workloads(namespaces)))
        output = Path(tmp) / OUTPUT_FILE
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        command = [
            str(nca), "--connectivity", str(inputs), "--ns_list", str(inputs),
            "--pod_list", str(inputs), "--output_format", "yaml", "--file_out", str(output),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NetpolError(f"could not run the NetworkPolicy analyzer ({nca}): {exc}") from None
        if done.returncode or not output.is_file():
            raise NetpolError(
                f"the NetworkPolicy analyzer exited with {done.returncode}:\n"
                f"{done.stderr[-STDERR_TAIL:]}\n(a broken environment? `{MAKE_TARGET}` rebuilds it)"
            )
        if LOST_NAMESPACE in done.stderr + done.stdout:
            raise NetpolError(
                f"the analyzer dropped namespaces, and with them their labels:\n"
                f"{done.stderr[-STDERR_TAIL:]}"
            )
        answer = yaml.safe_load(output.read_text())
    warnings = tuple(line for line in done.stderr.splitlines() if "Warning" in line)
    return ConnectivityMap(
        namespaces=frozenset(namespaces | {KUBE_SYSTEM}),
        pairs=parse(answer),
        warnings=warnings,
    )


def parse(answer: Any) -> dict[tuple[str, str], Connections]:
    """Namespace pairs from ``nca --connectivity -o yaml``: the union over every rule naming
    both namespaces, whichever of their pods it names. Rules to or from an ``ipBlock`` are
    not pod-to-pod and are left out."""
    try:
        (query,) = answer
        (explanation,) = query["explanation"]
        rules = explanation["rules"]
    except (TypeError, KeyError, ValueError):
        raise NetpolError(f"unexpected analyzer output: {str(answer)[:STDERR_TAIL]}") from None
    pairs: dict[tuple[str, str], Connections] = {}
    for rule in rules:
        if "src_ns" not in rule or "dst_ns" not in rule:
            continue
        allowed = _connections(rule["connection"])
        for src in rule["src_ns"]:
            for dst in rule["dst_ns"]:
                pairs[(src, dst)] = _union(pairs.get((src, dst), frozenset()), allowed)
    return pairs


def _union(left: Connections, right: Connections) -> Connections:
    if isinstance(left, str) or isinstance(right, str):
        return ALL
    return left | right


def _connections(entries: list[Any]) -> Connections:
    ports: set[PortRange] = set()
    for entry in entries:
        if entry == "All connections":
            return ALL
        if entry == "No connections":
            continue
        if not isinstance(entry, dict) or "All but" in entry:
            # nca prints the complement when it is shorter; expanding it would be our own
            # logic, not the analyzer's answer.
            raise NetpolError(f"connection {entry!r} is not read by this client")
        unknown = set(entry) - {"protocols", "dst_ports"}
        if unknown:
            raise NetpolError(f"connection {entry!r} has dimensions not read here: {unknown}")
        if "protocols" not in entry and "dst_ports" not in entry:
            return ALL
        protocols = (
            [p.strip().upper() for p in str(entry["protocols"]).split(",")]
            if "protocols" in entry
            else list(PORT_PROTOCOLS)
        )
        ranges = entry.get("dst_ports", [f"1-{MAX_PORT}"])
        for protocol in protocols:
            if protocol not in PORT_PROTOCOLS:
                raise NetpolError(f"connection {entry!r}: protocol {protocol} has no ports")
            for item in ranges:
                first, _, last = str(item).partition("-")
                ports.add(PortRange(protocol, int(first), int(last or first)))
    return frozenset(ports)
