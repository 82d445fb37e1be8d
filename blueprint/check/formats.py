"""The verdict of ``blueprint check`` for machines and reviewers: SARIF, JUnit and Markdown.

Three pure renderings of one :class:`~blueprint.check.verdict.Verdict`, each for where it is
read:

- :func:`sarif`: SARIF 2.1.0 for GitHub code scanning, one run per source (the policy pack,
  checkov), each finding located at the stack file's line that controls its resource (the
  caller's ``line``; :mod:`blueprint.check.locations`) and named by its Pulumi URN.
- :func:`junit`: JUnit XML for CI test reports, one test case per check and resource, passes
  included, so a report shows what was checked as well as what failed.
- :func:`markdown`: a pull-request comment, kept under GitHub's comment limit by trimming the
  least useful parts first and saying so.

Nothing here reads or writes files; the caller decides where each string goes.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from blueprint.check.verdict import (
    CHECKOV,
    POLICY_PACK,
    REPLACEMENTS,
    Passed,
    Result,
    Verdict,
    severity_rank,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "resourceRule/v1"

TOOLS = {
    POLICY_PACK: (
        "feature-platform policy pack",
        "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
    ),
    CHECKOV: ("checkov", "https://www.checkov.io/"),
    REPLACEMENTS: ("blueprint diff", ""),
}
"""Source → (SARIF tool name, informationUri)."""

SECURITY_SEVERITY = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "0.0",
}
"""GitHub maps security-severity to its levels: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium,
0.1-3.9 low."""

CHECKOV_SUPPRESSION = "add an entry with a reason to policies/checkov/suppressions.yaml"
REPLACEMENT_ALLOWANCE = (
    "avoid the replacement, or add an allowance (stack, resource, reason, expiry) to "
    "policies/replacements.yaml"
)
FULL_REPORT = "the full report is in the SARIF, JSON and JUnit files"

MARKDOWN_LIMIT = 65_536
"""GitHub refuses an issue or pull-request comment longer than this."""
TOP_FINDINGS = 10
CELL_MAX = 400
"""A table cell longer than this is cut: one long message must not crowd out other rows."""

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sources(verdict: Verdict) -> list[str]:
    """Sources in a stable order: the two known ones first, then any other that reported."""
    present = (
        set(verdict.sources)
        | {r.source for r in verdict.results}
        | {p.source for p in verdict.passed_checks}
    )
    known = [s for s in (POLICY_PACK, CHECKOV, REPLACEMENTS) if s in present]
    return known + sorted(present - set(known))


def _ordered(results: Iterable[Result]) -> list[Result]:
    """Highest severity first, then by source, rule and resource (stable across runs)."""
    return sorted(
        results, key=lambda r: (-severity_rank(r.severity), r.source, r.rule_id, r.urn, r.address)
    )


def _resource(result: Result) -> str:
    """The resource as a reviewer knows it: the Pulumi name, and where checkov saw it."""
    name = result.resource_name
    return f"{name} ({result.address})" if result.address and result.address != name else name


def _status(result: Result, threshold: str) -> str:
    if result.suppressed:
        return "suppressed"
    if result.counts_at(threshold):
        return "fails"
    if not result.blocking:
        return "advisory"
    return "below threshold"


def _why_not_failing(result: Result, threshold: str) -> str:
    if not result.blocking:
        return "advisory: shown, never fails the check"
    return f"below the threshold: severity {result.severity} is under {threshold}"


def _suppression_hint(source: str, stack: str) -> str:
    if source == CHECKOV:
        return CHECKOV_SUPPRESSION
    if source == REPLACEMENTS:
        return REPLACEMENT_ALLOWANCE
    if source == POLICY_PACK:
        return (
            "fix the resource, or change the policy's enforcement level in "
            f"policies/config/{stack}.json"
        )
    return "fix the resource"


# --- SARIF -----------------------------------------------------------------------------------


def _level(result: Result, threshold: str) -> str:
    if result.counts_at(threshold):
        return "error"
    return "note" if result.severity == "info" else "warning"


def fingerprint(result: Result) -> str:
    """Stable across runs and line numbers: the same rule on the same resource is one alert."""
    key = f"{result.source}|{result.rule_id}|{result.urn}|{result.address}"
    return hashlib.sha256(key.encode()).hexdigest()


def _rule(results: list[Result], verdict: Verdict) -> dict[str, Any]:
    """A rule's metadata from its results: the highest severity any of them carries."""
    worst = max(results, key=lambda r: severity_rank(r.severity))
    severity = worst.severity
    help_uri = next((r.help_uri for r in results if r.help_uri), "")
    hint = _suppression_hint(worst.source, verdict.stack)
    blocking = any(r.blocking for r in results)
    if any(r.mandatory and r.blocking for r in results):
        level = "error"  # a mandatory rule fails the check whatever its severity
    elif severity == "info":
        level = "note"
    elif blocking and severity_rank(severity) >= severity_rank(verdict.threshold):
        level = "error"
    else:
        level = "warning"
    text = [worst.rule_name, f"Severity: {severity}."]
    markdown = [f"**{worst.rule_name}**", "", f"Severity: **{severity}**."]
    if help_uri:
        text.append(f"More: {help_uri}")
        markdown += ["", f"More: [{help_uri}]({help_uri})"]
    text.append(f"To accept a finding: {hint}.")
    markdown += ["", f"To accept a finding: {hint}."]
    rule: dict[str, Any] = {
        "id": worst.rule_id,
        "name": worst.rule_id,
        "shortDescription": {"text": worst.rule_name},
        "fullDescription": {
            "text": f"{worst.rule_name} ({TOOLS.get(worst.source, (worst.source, ''))[0]} "
            f"rule {worst.rule_id}, severity {severity})."
        },
        "help": {"text": "\n".join(text), "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": level},
        "properties": {
            "security-severity": SECURITY_SEVERITY[severity],
            "tags": ["security", worst.source],
        },
    }
    if help_uri:
        rule["helpUri"] = help_uri
    return rule


def _artifact(result: Result, stack_file: str) -> str:
    """The file a finding is fixed in: a CI workflow's own (checkov's ``github_actions``
    results name it, relative to the scanned root), else the stack file."""
    if result.framework == "github_actions" and result.urn.lstrip("/").startswith(".github/"):
        return result.urn.lstrip("/")
    return stack_file


def _sarif_result(
    result: Result, index: int, verdict: Verdict, artifact: str, line: Callable[[Result], int]
) -> dict[str, Any]:
    message = f"{result.rule_name}: {_resource(result)}"
    if result.message:
        message += f": {result.message}"
    uri = _artifact(result, artifact)
    entry: dict[str, Any] = {
        "ruleId": result.rule_id,
        "ruleIndex": index,
        "level": _level(result, verdict.threshold),
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": line(result) if uri == artifact else 1},
                },
                "logicalLocations": [{"fullyQualifiedName": result.urn, "kind": "resource"}],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(result)},
        "properties": {
            "severity": result.severity,
            "urn": result.urn,
            "address": result.address,
            "framework": result.framework,
            "mandatory": result.mandatory,
        },
    }
    if result.suppressed:
        entry["suppressions"] = [{"kind": "external", "justification": result.suppressed}]
    return entry


def sarif(
    verdict: Verdict, *, artifact: str, line: Callable[[Result], int] = lambda _: 1
) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning; ``artifact`` is the stack file findings are
    located in (``stacks/Pulumi.prod.yaml``), as a path relative to the repository root, and
    ``line`` gives a finding's line in it (the key that controls its resource; default 1)."""
    runs = []
    for source in _sources(verdict):
        mine = [r for r in verdict.results if r.source == source]
        by_rule: dict[str, list[Result]] = {}
        for result in mine:
            by_rule.setdefault(result.rule_id, []).append(result)
        index = {rule_id: i for i, rule_id in enumerate(by_rule)}
        name, uri = TOOLS.get(source, (source, ""))
        driver: dict[str, Any] = {"name": name}
        if source in verdict.sources:
            driver["version"] = verdict.sources[source]
        if uri:
            driver["informationUri"] = uri
        driver["rules"] = [_rule(results, verdict) for results in by_rule.values()]
        runs.append(
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": f"{verdict.project}/{verdict.stack}/"},
                "invocations": [{"executionSuccessful": True}],
                "results": [
                    _sarif_result(r, index[r.rule_id], verdict, artifact, line) for r in mine
                ],
            }
        )
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}


# --- JUnit -----------------------------------------------------------------------------------


def _xml(text: str) -> str:
    """Control characters are not allowed anywhere in XML 1.0, not even escaped."""
    return _XML_INVALID.sub("", text)


def _testcase(source: str, rule_id: str, resource: str) -> ET.Element:
    return ET.Element(
        "testcase",
        {"classname": _xml(f"{source}.{rule_id}"), "name": _xml(f"{rule_id} on {resource}")},
    )


def _failure_detail(result: Result) -> str:
    lines = [
        f"{result.rule_name}",
        f"severity: {result.severity}",
        f"resource: {result.urn}",
    ]
    if result.address:
        lines.append(f"address: {result.address}")
    if result.framework:
        lines.append(f"framework: {result.framework}")
    if result.message:
        lines.append(f"message: {result.message}")
    if result.help_uri:
        lines.append(f"help: {result.help_uri}")
    return "\n".join(lines)


def _case_key(case: ET.Element) -> tuple[str, str]:
    return case.get("classname", ""), case.get("name", "")


def junit(verdict: Verdict) -> str:
    """JUnit XML: a test suite per source, a test case per check and resource (passes too).

    Errors of the verdict itself (an expired suppression, say) fail the check without any
    rule failing, so they are test cases in error of a suite of their own: the report then
    fails exactly when the check does.
    """
    suites: list[ET.Element] = []
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for source in _sources(verdict):
        cases: list[ET.Element] = []
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for result in (r for r in verdict.results if r.source == source):
            case = _testcase(source, result.rule_id, result.address or result.resource_name)
            if result.suppressed:
                ET.SubElement(
                    case, "skipped", {"message": _xml(f"suppressed: {result.suppressed}")}
                )
                counts["skipped"] += 1
            elif result.counts_at(verdict.threshold):
                failure = ET.SubElement(
                    case,
                    "failure",
                    {"message": _xml(result.message or result.rule_name), "type": result.severity},
                )
                failure.text = _xml(_failure_detail(result))
                counts["failures"] += 1
            else:
                out = ET.SubElement(case, "system-out")
                out.text = _xml(
                    f"{_why_not_failing(result, verdict.threshold)}\n{_failure_detail(result)}"
                )
            cases.append(case)
        for passed in (p for p in verdict.passed_checks if p.source == source):
            cases.append(_testcase(source, passed.rule_id, passed.address or _passed_name(passed)))
        counts["tests"] = len(cases)
        suite = ET.Element("testsuite", {"name": source, **{k: str(v) for k, v in counts.items()}})
        if source in verdict.sources:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(
                props, "property", {"name": "version", "value": _xml(verdict.sources[source])}
            )
        suite.extend(sorted(cases, key=_case_key))
        suites.append(suite)
        for key, value in counts.items():
            totals[key] += value
    if verdict.errors:
        suite = ET.Element(
            "testsuite",
            {
                "name": "blueprint",
                "tests": str(len(verdict.errors)),
                "failures": "0",
                "errors": str(len(verdict.errors)),
                "skipped": "0",
            },
        )
        for i, error in enumerate(verdict.errors, 1):
            case = ET.SubElement(
                suite, "testcase", {"classname": "blueprint.check", "name": f"check error {i}"}
            )
            first_line = error.splitlines()[0] if error else ""
            ET.SubElement(
                case, "error", {"message": _xml(first_line), "type": "error"}
            ).text = _xml(error)
        suites.append(suite)
        totals["tests"] += len(verdict.errors)
        totals["errors"] += len(verdict.errors)
    root = ET.Element(
        "testsuites",
        {
            "name": _xml(f"blueprint check {verdict.stack}"),
            **{k: str(v) for k, v in totals.items()},
        },
    )
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _passed_name(passed: Passed) -> str:
    return passed.urn.rsplit("::", 1)[-1] if "::" in passed.urn else passed.urn


# --- Markdown --------------------------------------------------------------------------------


def _cell(value: object) -> str:
    """One table cell: pipes escaped, newlines as <br>, HTML inert, long text cut."""
    text = str(value)
    if len(text) > CELL_MAX:
        text = text[: CELL_MAX - 1] + "…"
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _row(*cells: object) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _header(*names: str) -> list[str]:
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def _bullets(items: Iterable[str]) -> list[str]:
    """A list item per entry; continuation lines indented so they stay in their item."""
    return ["- " + item.replace("\r\n", "\n").replace("\n", "\n  ") for item in items]


def _fence(code: str) -> str:
    """A backtick fence longer than any run of backticks inside ``code``."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


@dataclass(frozen=True)
class _Keep:
    """How much of each trimmable section a rendering keeps."""

    resources: int
    diagram: bool
    findings: int
    suppressed: int
    notes: bool


_Trim = Callable[[_Keep, int], _Keep]
"""Keeps ``n`` rows of one section (for the diagram and the notes, any ``n`` drops them)."""


def _trim_note(keep: _Keep, full: _Keep, limit: int) -> list[str]:
    trimmed = []
    if keep.resources < full.resources:
        trimmed.append(
            "the resource summary"
            if keep.resources == 0
            else f"{full.resources - keep.resources:,} of {full.resources:,} resource summary rows"
        )
    if full.diagram and not keep.diagram:
        trimmed.append("the diagram")
    if keep.findings < full.findings:
        trimmed.append(
            f"{full.findings - keep.findings:,} of {full.findings:,} rows of the all-findings table"
        )
    if keep.suppressed < full.suppressed:
        trimmed.append(
            f"{full.suppressed - keep.suppressed:,} of {full.suppressed:,} suppressed findings"
        )
    if full.notes and not keep.notes:
        trimmed.append("the notes")
    if not trimmed:
        return []
    return [
        "> [!NOTE]",
        f"> Trimmed to fit GitHub's {limit:,}-character comment limit: left out "
        f"{', '.join(trimmed)}. Nothing is lost: {FULL_REPORT}.",
        "",
    ]


class _Comment:
    """The comment's parts, rendered once; :meth:`render` assembles them, trimmed by a
    :class:`_Keep` (trimming tries many of those, so the rows are not rebuilt for each)."""

    def __init__(self, verdict: Verdict, limit: int) -> None:
        self.verdict = verdict
        self.limit = limit
        threshold = verdict.threshold
        self.findings = [
            _row(
                r.severity,
                r.source,
                r.rule_id,
                _resource(r),
                _status(r, threshold),
                r.message or r.rule_name,
            )
            for r in _ordered(r for r in verdict.results if not r.suppressed)
        ]
        self.suppressed = [
            _row(r.severity, r.source, r.rule_id, _resource(r), r.suppressed)
            for r in _ordered(r for r in verdict.results if r.suppressed)
        ]
        self.resources = [_row(t, n) for t, n in sorted(verdict.resource_counts.items())]
        self.full = _Keep(
            resources=len(self.resources),
            diagram=bool(verdict.diagram.strip()),
            findings=len(self.findings),
            suppressed=len(self.suppressed),
            notes=bool(verdict.notes),
        )
        self.head = self._head()
        self.top = self._top()

    def _head(self) -> tuple[list[str], list[str]]:
        """The parts never trimmed: (the heading, the rest), the trim note goes in between."""
        verdict = self.verdict
        failures = verdict.failures
        heading = [
            f"## {'✅' if verdict.passed else '❌'} blueprint check "
            f"{'passed' if verdict.passed else 'failed'}: `{verdict.project}/{verdict.stack}`",
            "",
        ]
        versions = ", ".join(f"{s} {v}" for s, v in verdict.sources.items())
        heading += [
            f"Threshold **{verdict.threshold}** (mandatory policies fail at any severity) · "
            f"{len(failures):,} finding(s) fail the check"
            f" · {len(verdict.errors):,} error(s)" + (f" · {versions}" if versions else ""),
            "",
        ]
        if verdict.enforcement:
            heading += [f"Policy pack: {verdict.enforcement_line()}.", ""]
        lines = ["### Summary", "", *_header("Severity", "Findings", "Fails the check")]
        at_or_above = severity_rank(verdict.threshold)
        mandatory = {r.severity for r in verdict.failures if r.mandatory}
        for level, count in verdict.by_severity().items():
            if severity_rank(level) >= at_or_above:
                fails = "yes"
            else:  # below the threshold only mandatory results fail
                fails = "mandatory ones" if level in mandatory else "no"
            lines.append(_row(level, count, fails))
        lines += [
            "",
            *_header(
                "Source", "Version", "Failed", "Below threshold", "Advisory", "Suppressed", "Passed"
            ),
        ]
        for source, counts in verdict.by_source().items():
            lines.append(
                _row(
                    source,
                    verdict.sources.get(source, "not run"),
                    counts["failed"],
                    counts["belowThreshold"],
                    counts["advisory"],
                    counts["suppressed"],
                    counts["passed"],
                )
            )
        lines.append("")
        if verdict.errors:
            lines += ["### Errors", "", *_bullets(verdict.errors), ""]
        return heading, lines

    def _top(self) -> list[str]:
        failures = self.verdict.failures
        if not failures:
            return []
        top = _ordered(failures)[:TOP_FINDINGS]
        lines = ["### Top findings", ""]
        if len(failures) > len(top):
            lines += [f"The {len(top)} most severe of {len(failures):,}.", ""]
        lines += _header("Severity", "Source", "Rule", "Resource", "Message")
        lines += [
            _row(r.severity, r.source, r.rule_id, _resource(r), r.message or r.rule_name)
            for r in top
        ]
        return [*lines, ""]

    def render(self, keep: _Keep) -> str:
        verdict = self.verdict
        heading, summary = self.head
        lines = [*heading, *_trim_note(keep, self.full, self.limit), *summary]
        if verdict.notes and keep.notes:
            lines += ["### Notes", "", *_bullets(verdict.notes), ""]
        lines += self.top
        for title, header, rows, kept in (
            (
                "All findings",
                _header("Severity", "Source", "Rule", "Resource", "Status", "Message"),
                self.findings,
                keep.findings,
            ),
            (
                "Suppressed",
                _header("Severity", "Source", "Rule", "Resource", "Reason"),
                self.suppressed,
                keep.suppressed,
            ),
        ):
            if rows:
                body = header + rows[:kept]
                if kept < len(rows):
                    body += ["", f"*{len(rows) - kept:,} more not shown: {FULL_REPORT}.*"]
                lines += _details(f"{title} ({len(rows):,})", body)
        if keep.diagram and verdict.diagram.strip():
            fence = _fence(verdict.diagram)
            lines += _details("Diagram", [f"{fence}mermaid", verdict.diagram.strip("\n"), fence])
        if keep.resources:
            body = _header("Type", "Count") + self.resources[: keep.resources]
            if keep.resources < len(self.resources):
                body += ["", f"*{len(self.resources) - keep.resources:,} more types not shown.*"]
            total = sum(verdict.resource_counts.values())
            lines += _details(f"Resources ({total:,})", body)
        return "\n".join(lines).rstrip("\n") + "\n"

    def most_rows(self, keep: _Keep, trim: _Trim, rows: int) -> int | None:
        """The most rows (0..rows) ``trim`` may keep for the comment to fit; None if none do."""

        def fits(n: int) -> bool:
            return len(self.render(trim(keep, n))) <= self.limit

        if not fits(0):
            return None
        low, high = 0, rows
        while low < high:
            mid = (low + high + 1) // 2
            if fits(mid):
                low = mid
            else:
                high = mid - 1
        return low


def markdown(verdict: Verdict, *, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment, never longer than ``limit`` characters.

    When the whole report does not fit, it gives up, in this order: resource summary rows,
    the diagram, rows of the all-findings table, rows of the suppressed list, the notes;
    the summary, errors and top findings stay. A note under the heading says what went.
    """
    comment = _Comment(verdict, limit)
    keep = comment.full
    text = comment.render(keep)
    if len(text) <= limit:
        return text
    steps: list[tuple[int, _Trim]] = [
        (keep.resources, lambda k, n: replace(k, resources=n)),
        (0, lambda k, _: replace(k, diagram=False)),
        (keep.findings, lambda k, n: replace(k, findings=n)),
        (keep.suppressed, lambda k, n: replace(k, suppressed=n)),
        (0, lambda k, _: replace(k, notes=False)),
    ]
    for rows, trim in steps:
        kept = comment.most_rows(keep, trim, rows)
        keep = trim(keep, kept or 0)
        if kept is not None:
            return comment.render(keep)
    # Last resort (thousands of errors, or a tiny limit): cut, and say so.
    cut = f"\n\n… cut at {limit:,} characters: {FULL_REPORT}.\n"
    return (comment.render(keep)[: max(0, limit - len(cut))] + cut)[:limit]
