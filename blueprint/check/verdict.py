"""The one verdict of ``blueprint check``: the policy pack and checkov on the same plan.

Every failed evaluation from either source is a :class:`Result`: rule, resource, severity,
message, and whether a suppression covers it. The verdict fails on

- any *mandatory* result, whatever its severity: a mandatory pack violation, as the Pulumi
  CLI blocks on one (a policy without a severity shows as ``medium`` and must not slip under
  a threshold), or a blocking replacement;
- any other unsuppressed, blocking result at or above the severity threshold: a failed
  checkov check (the threshold applies only to these);
- an error of the verdict itself: an expired suppression, or a check that judged nothing
  (no policy enforced, a scan that judged none of the resources it was given).

An advisory pack finding is shown and never fails. Passed evaluations are kept as
:class:`Passed` so reports can list every check on every resource (JUnit).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")
"""In ascending order; a threshold admits its own level and everything above it."""
DEFAULT_THRESHOLD = "low"
POLICY_PACK = "policy-pack"
CHECKOV = "checkov"
REPLACEMENTS = "replacements"
LEVELS = ("mandatory", "advisory", "remediate", "disabled")
"""Enforcement levels of pack policies, in the order summaries list them."""
"""Blocking replacements and deletes against a base (``blueprint check --base``)."""
STACK_RESOURCE = "(stack)"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Result:
    """One failed evaluation of one rule on one resource."""

    source: str
    """:data:`POLICY_PACK`, :data:`CHECKOV` or :data:`REPLACEMENTS`."""
    rule_id: str
    """The pack's policy name, or checkov's check id (``CKV_AWS_19``)."""
    rule_name: str
    """What the rule ensures (the policy's description, checkov's check name)."""
    severity: str
    """One of :data:`SEVERITIES`."""
    urn: str
    """The Pulumi resource at fault, or :data:`STACK_RESOURCE`."""
    address: str = ""
    """Where checkov saw it: a Terraform address or ``Kind.namespace.name``."""
    message: str = ""
    help_uri: str = ""
    blocking: bool = True
    """False for an advisory pack finding: shown, never fails the check."""
    mandatory: bool = False
    """Fails the check whatever the threshold: a mandatory pack violation, a blocking
    replacement. The threshold applies to blocking results that are not mandatory."""
    suppressed: str = ""
    """The reason of the suppression that covers it (empty: not suppressed)."""
    framework: str = ""
    """checkov's framework (``terraform_plan``, ``kubernetes``, ``github_actions``)."""

    @property
    def resource_name(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if "::" in self.urn else self.urn

    def counts_at(self, threshold: str) -> bool:
        """True if this result fails a check run at ``threshold``."""
        if not self.blocking or self.suppressed:
            return False
        return self.mandatory or severity_rank(self.severity) >= severity_rank(threshold)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rule": self.rule_id,
            "name": self.rule_name,
            "severity": self.severity,
            "urn": self.urn,
            "address": self.address or None,
            "framework": self.framework or None,
            "message": self.message,
            "helpUri": self.help_uri or None,
            "blocking": self.blocking,
            "mandatory": self.mandatory,
            "suppressed": self.suppressed or None,
        }


@dataclass(frozen=True)
class Passed:
    """One passed evaluation (JUnit lists it as a passing test case)."""

    source: str
    rule_id: str
    rule_name: str
    urn: str
    address: str = ""


@dataclass
class Verdict:
    project: str
    stack: str
    threshold: str = DEFAULT_THRESHOLD
    results: list[Result] = field(default_factory=list)
    passed_checks: list[Passed] = field(default_factory=list)
    resource_counts: dict[str, int] = field(default_factory=dict)
    """Pulumi type → count, for the resource summary."""
    diagram: str = ""
    """The plan's Mermaid diagram."""
    errors: list[str] = field(default_factory=list)
    """Problems that fail the check by themselves (an expired suppression, say)."""
    notes: list[str] = field(default_factory=list)
    """What a reviewer should know but does not fail the check (unmapped types, say)."""
    sources: dict[str, str] = field(default_factory=dict)
    """Source → its version (``{"policy-pack": "feature-platform@1.0.0", "checkov": "3.3.30"}``)."""
    enforcement: dict[str, int] = field(default_factory=dict)
    """Enforcement level → how many pack policies ran at it (:data:`LEVELS`, all of them)."""

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.counts_at(self.threshold)]

    @property
    def passed(self) -> bool:
        return not self.failures and not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def by_severity(self) -> dict[str, int]:
        """Unsuppressed, blocking results per severity (all levels, highest first)."""
        counts = Counter(r.severity for r in self.results if r.blocking and not r.suppressed)
        return {level: counts.get(level, 0) for level in reversed(SEVERITIES)}

    def enforced(self) -> int:
        """Pack policies that judged anything: every level but ``disabled``."""
        return sum(n for level, n in self.enforcement.items() if level != "disabled")

    def enforcement_line(self) -> str:
        """``62 of 62 policies enforced (60 mandatory, 2 advisory, 0 remediate, 0 disabled)``."""
        counts = ", ".join(f"{self.enforcement.get(level, 0)} {level}" for level in LEVELS)
        return f"{self.enforced()} of {sum(self.enforcement.values())} policies enforced ({counts})"

    def by_source(self) -> dict[str, dict[str, int]]:
        summary: dict[str, dict[str, int]] = {}
        # The replacements source exists only in a check run with --base.
        extra = (REPLACEMENTS,) if REPLACEMENTS in self.sources else ()
        for source in (POLICY_PACK, CHECKOV, *extra):
            mine = [r for r in self.results if r.source == source]
            summary[source] = {
                "failed": sum(1 for r in mine if r.counts_at(self.threshold)),
                "belowThreshold": sum(
                    1
                    for r in mine
                    if r.blocking and not r.suppressed and not r.counts_at(self.threshold)
                ),
                "advisory": sum(1 for r in mine if not r.blocking),
                "suppressed": sum(1 for r in mine if r.suppressed and r.blocking),
                "passed": sum(1 for p in self.passed_checks if p.source == source),
            }
        return summary

    def as_json(self) -> dict[str, Any]:
        return {
            "formatVersion": 1,
            "project": self.project,
            "stack": self.stack,
            "passed": self.passed,
            "threshold": self.threshold,
            "sources": self.sources,
            "summary": {
                "bySeverity": self.by_severity(),
                "bySource": self.by_source(),
                "enforcement": {level: self.enforcement.get(level, 0) for level in LEVELS},
            },
            "errors": self.errors,
            "notes": self.notes,
            "results": [r.as_json() for r in self.results],
        }
