"""What a policy check found: findings, remediations, the verdict, and how they are shown.

The verdict is the CLI's: a mandatory violation fails the check (exit 1); advisory findings
are shown and pass; a violation a ``remediate``-level policy fixed is no finding at all, it
is a remediation (the properties it changed), and passes.

JSON (``--json``)::

    {"formatVersion": 1, "project": ..., "stack": ..., "passed": bool,
     "summary": {"mandatory": n, "advisory": n, "remediated": n},
     "packs": [{"name", "version", "runtime", "directory", "config",
                "policies": {"<policy>": "<enforcement level>"}}],
     "findings": [{"policy", "pack", "packVersion", "severity", "enforcementLevel",
                   "urn" (null: the stack as a whole), "message", "description"}],
     "remediations": [{"policy", "pack", "urn", "changed": {...}, "removed": [...]}]}

Secret values in ``changed`` are shown as ``"[secret]"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

FORMAT_VERSION = 1
SECRET_MASK = "[secret]"
LEVEL_STYLE = {"mandatory": "red", "advisory": "yellow", "remediate": "cyan", "disabled": "dim"}


@dataclass(frozen=True)
class Finding:
    policy: str
    pack: str
    pack_version: str
    severity: str | None
    enforcement_level: str
    """``mandatory`` or ``advisory`` (a remediate-level violation left unfixed is mandatory)."""
    urn: str | None
    """The resource at fault; ``None`` for a finding on the stack as a whole."""
    message: str
    """As the pack reported it: the policy's description, then the detail."""
    description: str

    @property
    def detail(self) -> str:
        """The message without the description the SDKs put in front of it."""
        head = f"{self.description}\n"
        return self.message.removeprefix(head) if self.message.startswith(head) else self.message

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "pack": self.pack,
            "packVersion": self.pack_version,
            "severity": self.severity,
            "enforcementLevel": self.enforcement_level,
            "urn": self.urn,
            "message": self.message,
            "description": self.description,
        }


@dataclass(frozen=True)
class Remediation:
    policy: str
    pack: str
    urn: str
    changed: dict[str, Any]
    """Properties the policy set (new or different values); secrets masked."""
    removed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "pack": self.pack,
            "urn": self.urn,
            "changed": self.changed,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class PackRun:
    """One pack as it was run: where from, which config, each policy's enforcement level."""

    name: str
    version: str
    runtime: str
    directory: Path
    config_file: Path | None
    policies: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "runtime": self.runtime,
            "directory": str(self.directory),
            "config": str(self.config_file) if self.config_file else None,
            "policies": self.policies,
        }


@dataclass
class CheckReport:
    project: str
    stack: str
    packs: list[PackRun] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    remediations: list[Remediation] = field(default_factory=list)

    def at_level(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.enforcement_level == level]

    @property
    def passed(self) -> bool:
        return not self.at_level("mandatory")

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def summary(self) -> dict[str, int]:
        return {
            "mandatory": len(self.at_level("mandatory")),
            "advisory": len(self.at_level("advisory")),
            "remediated": len(self.remediations),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "project": self.project,
            "stack": self.stack,
            "passed": self.passed,
            "summary": self.summary(),
            "packs": [p.as_json() for p in self.packs],
            "findings": [f.as_json() for f in self.findings],
            "remediations": [r.as_json() for r in self.remediations],
        }

    def enforced(self) -> int:
        """Policies at any level but ``disabled``, over every pack."""
        return sum(
            1 for pack in self.packs for level in pack.policies.values() if level != "disabled"
        )

    def verdict(self) -> str:
        counts = self.summary()
        details = f"{counts['advisory']} advisory, {counts['remediated']} remediated"
        if self.packs and not self.enforced():
            return "[red]policy check judged nothing: no policy is enforced[/red]"
        if self.passed:
            return f"[green]policy check passed[/green] ({details})"
        policies = sorted({f.policy for f in self.at_level("mandatory")})
        return (
            f"[red]policy check failed: {counts['mandatory']} mandatory "
            f"violation{'s' if counts['mandatory'] != 1 else ''} of {', '.join(policies)}[/red] "
            f"({details})"
        )


def findings_table(report: CheckReport) -> Table:
    table = Table(title=f"{report.stack}: policy findings")
    table.add_column("policy", overflow="fold")
    table.add_column("severity")
    table.add_column("enforcement")
    table.add_column("resource URN", overflow="fold")
    table.add_column("message", overflow="fold")
    order = {"mandatory": 0, "advisory": 1}
    several = len(report.packs) > 1
    for finding in sorted(report.findings, key=lambda f: order.get(f.enforcement_level, 2)):
        style = LEVEL_STYLE.get(finding.enforcement_level, "")
        table.add_row(
            f"{finding.pack}/{finding.policy}" if several else finding.policy,
            finding.severity or "—",
            f"[{style}]{finding.enforcement_level}[/]" if style else finding.enforcement_level,
            finding.urn or "(stack)",
            finding.detail,
        )
    return table


def remediations_table(report: CheckReport) -> Table:
    table = Table(title=f"{report.stack}: remediated by policy")
    table.add_column("policy", overflow="fold")
    table.add_column("resource URN", overflow="fold")
    table.add_column("changed", overflow="fold")
    several = len(report.packs) > 1
    for remediation in report.remediations:
        changes = [f"{key} = {value!r}" for key, value in remediation.changed.items()]
        changes += [f"{key} removed" for key in remediation.removed]
        policy = f"{remediation.pack}/{remediation.policy}" if several else remediation.policy
        table.add_row(policy, remediation.urn, "\n".join(changes))
    return table


def packs_table(report: CheckReport) -> Table:
    table = Table(title="policy packs")
    table.add_column("pack")
    table.add_column("runtime")
    table.add_column("policies", justify="right")
    for level in LEVEL_STYLE:
        table.add_column(level, justify="right")
    table.add_column("config", overflow="fold")
    for pack in report.packs:
        levels = list(pack.policies.values())
        table.add_row(
            f"{pack.name}@{pack.version}" if pack.version else pack.name,
            pack.runtime,
            str(len(pack.policies)),
            *(str(levels.count(level)) for level in LEVEL_STYLE),
            str(pack.config_file) if pack.config_file else "schema defaults + initial config",
        )
    return table
