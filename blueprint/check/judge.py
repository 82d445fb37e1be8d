"""``blueprint check``: the policy pack and checkov on one captured plan, one verdict.

The order overlaps the slow parts: policy packs and checkov's runner start first (checkov
spends seconds importing its registries), the program is captured meanwhile, then the packs
analyse the plan and checkov scans its translation (:mod:`blueprint.checkov.tfplan` and
:mod:`blueprint.checkov.manifests`). Results of both become one :class:`Verdict`.
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from blueprint import diagram
from blueprint.capture import Plan
from blueprint.check import enforcement, formats, locations, outputs
from blueprint.check.command import (
    Capture,
    governance_root,
    pack_requests,
    preview_capture,
    stack_target,
)
from blueprint.check.driver import WORKERS, evaluate, running
from blueprint.check.errors import CheckError
from blueprint.check.report import CheckReport, findings_table, packs_table, remediations_table
from blueprint.check.verdict import (
    CHECKOV,
    DEFAULT_THRESHOLD,
    POLICY_PACK,
    REPLACEMENTS,
    STACK_RESOURCE,
    Passed,
    Result,
    Verdict,
    severity_rank,
)
from blueprint.checkov import manifests as k8s
from blueprint.checkov import scan, suppressions, tfplan

PACK_SEVERITY = "medium"
"""For a pack policy that declares no severity."""
TFPLAN_NAME = "tfplan.json"
MANIFESTS_NAME = "manifests"


@dataclass
class Judgement:
    """What ``blueprint check`` shows: the pack's own report, checkov's, and the verdict."""

    verdict: Verdict
    pack_report: CheckReport
    checkov: scan.CheckovReport | None
    lineage: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """URN → its type and its ancestors' (:func:`blueprint.check.locations.lineage`)."""


@dataclass(frozen=True)
class Exports:
    tfplan: Path | None = None
    manifests: Path | None = None


def write_scan_inputs(
    project_dir: Path,
    translation: tfplan.Translation,
    rendered: k8s.Manifests,
    directory: Path,
) -> None:
    """What checkov scans, laid out as on disk: the plan, the manifests, CI workflows."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / TFPLAN_NAME).write_text(json.dumps(translation.document, indent=1) + "\n")
    rendered.write(directory / MANIFESTS_NAME)
    workflows = project_dir / ".github" / "workflows"
    if workflows.is_dir():
        shutil.copytree(workflows, directory / ".github" / "workflows")


def judge_stack(
    project_dir: Path,
    stack: str,
    *,
    packs: Sequence[Path] = (),
    configs: Sequence[Path] = (),
    capture_plan: Capture = preview_capture,
    workers: int | None = None,
    use_checkov: bool = True,
    threshold: str = DEFAULT_THRESHOLD,
    exports: Exports = Exports(),
    today: datetime.date | None = None,
    allow_nothing_enforced: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> Judgement:
    """Judge ``stack`` with its policy packs and (unless ``use_checkov`` is off) checkov.

    Invalid inputs (a pack, a config file, the suppressions file) raise :class:`CheckError`
    before anything starts; ``exports`` receive exactly what checkov scanned. A check that
    judged nothing (:mod:`blueprint.check.enforcement`, a scan that judged none of the
    resources it was given) is an error of the verdict, unless ``allow_nothing_enforced``
    (which never covers checkov, nor a strict environment's config: that is a CheckError).
    """
    requests = pack_requests(project_dir, stack, packs, configs)
    target = stack_target(project_dir, stack)
    if workers is None:
        # checkov imports, then scans, in a process of its own: leave it a core.
        workers = max(1, WORKERS - 1) if use_checkov else WORKERS
    root = governance_root(project_dir)
    accepted = suppressions.load(root / suppressions.SUPPRESSIONS_FILE)
    checkov_report: scan.CheckovReport | None = None
    judged_nothing: list[str] = []
    translation: tfplan.Translation | None = None
    rendered = k8s.Manifests()
    with ExitStack() as context:
        started = context.enter_context(running(requests, target, workers=workers))
        checkov = context.enter_context(scan.session(root, say)) if use_checkov else None
        plan = capture_plan(project_dir, stack)
        if checkov is not None or exports.tfplan or exports.manifests:
            translation, rendered = _translate(plan)
            _export(translation, rendered, exports)  # also when the scan then fails
        if checkov is not None and translation is not None:
            tmp = Path(context.enter_context(tempfile.TemporaryDirectory(prefix="blueprint-")))
            write_scan_inputs(root, translation, rendered, tmp / "scan")
            # checkov scans in its own process while the packs analyse in theirs.
            checkov.start(tmp / "scan", tmp / "out", root / scan.CHECKS_DIR)
        sessions = started.packs()
        runs = [p[0].run() for p in sessions]
        enforcement.refuse_in_strict_environment(
            runs, enforcement.environment(target.config, stack)
        )
        pack_report = evaluate(sessions, plan, target)
        if checkov is not None and translation is not None:
            checkov_report = checkov.result()
            judged_nothing = trust(checkov_report, translation, rendered, root)
    verdict = build_verdict(
        plan,
        pack_report,
        translation,
        rendered,
        checkov_report,
        accepted,
        threshold=threshold,
        today=today or datetime.date.today(),
    )
    verdict.errors += judged_nothing
    nothing = enforcement.nothing_judged(pack_report.packs, _custom_resources(plan))
    if allow_nothing_enforced:
        verdict.notes += [f"allowed ({enforcement.ALLOW_OPTION}): {n}" for n in nothing]
    else:
        verdict.errors += nothing
    return Judgement(verdict, pack_report, checkov_report, locations.lineage(plan))


def _custom_resources(plan: Plan) -> int:
    """Resources a policy judges: neither the stack, nor a component, nor a provider."""
    return sum(1 for r in plan.resources if r.custom and not r.type.startswith("pulumi:"))


def _translate(plan: Plan) -> tuple[tfplan.Translation, k8s.Manifests]:
    try:
        return tfplan.translate(plan), k8s.render(plan)
    except Exception as exc:  # a bug here must not read as "violations found" (exit 1)
        raise CheckError(
            f"translating the plan for checkov failed: {type(exc).__name__}: {exc} "
            "(a bug in blueprint/checkov; --no-checkov runs the policy packs alone)"
        ) from exc


def _export(translation: tfplan.Translation, rendered: k8s.Manifests, exports: Exports) -> None:
    try:
        if exports.tfplan:
            exports.tfplan.parent.mkdir(parents=True, exist_ok=True)
            exports.tfplan.write_text(json.dumps(translation.document, indent=1) + "\n")
        if exports.manifests:
            # Manifests of an earlier export would be judged by a re-run as if they were ours.
            for stale in exports.manifests.glob(k8s.FILE_PATTERN):
                stale.unlink()
            rendered.write(exports.manifests)
    except OSError as exc:  # the paths were validated before the run; the disk may refuse
        raise CheckError(
            f"cannot write the export {exc.filename or ''}: {exc.strerror or exc}"
        ) from None


def trust(
    report: scan.CheckovReport,
    translation: tfplan.Translation,
    rendered: k8s.Manifests,
    project_dir: Path,
) -> list[str]:
    """Whether checkov's scan counts, as the exit contract has it.

    checkov could not run as asked (a file it could not parse, custom checks it did not
    load): :class:`CheckError` (exit 2). It ran but judged none of the resources of a
    framework it was given: the returned errors of the verdict (exit 1: a check that judged
    nothing fails).
    """
    expected = {"terraform_plan": len(translation.addresses), "kubernetes": len(rendered.documents)}
    # The custom checks must have run where they apply: a plan with none of the types they
    # judge (the bootstrap project) gives them nothing to report.
    scanned = {address.split(".", 1)[0] for address in translation.addresses} | {
        key.split(".", 1)[0] for key in rendered.ids
    }
    custom = bool(scan.custom_check_types(project_dir / scan.CHECKS_DIR) & scanned)
    broken = report.cannot_run(custom_checks=custom)
    if broken:
        raise CheckError("checkov could not run as asked: " + "; ".join(broken))
    return [
        f"{problem}; a check that judged nothing fails"
        for problem in report.judged_nothing(expected)
    ]


def _pack_results(report: CheckReport) -> tuple[list[Result], list[Passed]]:
    results = [
        Result(
            source=POLICY_PACK,
            rule_id=f.policy,
            rule_name=f.description or f.policy,
            severity=f.severity
            if f.severity in ("low", "medium", "high", "critical")
            else PACK_SEVERITY,
            urn=f.urn or STACK_RESOURCE,
            message=f.detail,
            blocking=f.enforcement_level == "mandatory",
            # As the Pulumi CLI: a mandatory violation blocks, whatever its severity.
            mandatory=f.enforcement_level == "mandatory",
        )
        for f in report.findings
    ]
    violated = {f.policy for f in report.findings}
    passed = [
        Passed(POLICY_PACK, name, name, "(every resource)")
        for run in report.packs
        for name, level in run.policies.items()
        if level != "disabled" and name not in violated
    ]
    return results, passed


def build_verdict(  # noqa: PLR0917 (the parts of one verdict)
    plan: Plan,
    pack_report: CheckReport,
    translation: tfplan.Translation | None,
    rendered: k8s.Manifests,
    checkov_report: scan.CheckovReport | None,
    accepted: suppressions.Suppressions,
    *,
    threshold: str,
    today: datetime.date,
) -> Verdict:
    results, passed = _pack_results(pack_report)
    verdict = Verdict(
        project=plan.project,
        stack=plan.stack,
        threshold=threshold,
        resource_counts=dict(sorted(Counter(r.type for r in plan.resources).items())),
        diagram=diagram.render(plan),
        sources={
            POLICY_PACK: ", ".join(
                f"{p.name}@{p.version}" if p.version else p.name for p in pack_report.packs
            )
        },
        enforcement=enforcement.levels(pack_report.packs),
    )
    if checkov_report is not None and translation is not None:
        verdict.sources[CHECKOV] = checkov_report.version
        used: set[int] = set()
        for record in checkov_report.records:
            urn = _urn(record, translation, rendered)
            if record.result == "PASSED":
                passed.append(
                    Passed(CHECKOV, record.check_id, record.check_name, urn, record.resource)
                )
                continue
            if record.result != "FAILED":
                continue
            match = accepted.match(plan.project, plan.stack, record.check_id, record.resource)
            if match:
                used.add(match[0])
            results.append(
                Result(
                    source=CHECKOV,
                    rule_id=record.check_id,
                    rule_name=record.check_name,
                    severity=record.severity,
                    urn=urn,
                    address=record.resource,
                    message=record.check_name,
                    help_uri=record.guideline,
                    suppressed=match[1].reason if match else "",
                    framework=record.framework,
                )
            )
        verdict.errors += accepted.expired(plan.project, plan.stack, today)
        verdict.notes += [
            f"{accepted.path}: suppression #{i} ({s.label()}) matched nothing in {plan.stack}: "
            "remove it if the finding is gone"
            for i, s in accepted.for_stack(plan.project, plan.stack)
            if i not in used
        ]
        verdict.notes += _coverage_notes(translation, checkov_report)
    verdict.results = results
    verdict.passed_checks = passed
    return verdict


def _urn(record: scan.CheckRecord, translation: tfplan.Translation, rendered: k8s.Manifests) -> str:
    if record.framework == "terraform_plan":
        return translation.addresses.get(record.resource, record.resource)
    if record.framework == "kubernetes":
        return rendered.ids.get(record.resource, record.resource)
    return record.file_path or record.resource


def _coverage_notes(translation: tfplan.Translation, report: scan.CheckovReport) -> list[str]:
    notes = [
        f"not scanned by checkov: {type_} x{count} (no Terraform type in the translation map)"
        for type_, count in sorted(translation.unmapped.items())
    ]
    if report.known_aws_types:
        notes += [
            f"{type_}: checkov knows no checks for this Terraform type (translated, not judged)"
            for type_ in sorted(translation.types - report.known_aws_types)
        ]
    return notes


# --- showing it ------------------------------------------------------------------------------


def checkov_table(verdict: Verdict) -> Table:
    """checkov's unsuppressed failures, worst first (suppressed ones are counted apart)."""
    table = Table(title=f"{verdict.stack}: checkov findings")
    table.add_column("check")
    table.add_column("severity")
    table.add_column("resource", overflow="fold")
    table.add_column("status", overflow="fold")
    mine = [r for r in verdict.results if r.source == CHECKOV and not r.suppressed]
    for result in sorted(mine, key=lambda r: -severity_rank(r.severity)):
        if result.counts_at(verdict.threshold):
            status = f"[red]failed[/red]: {result.rule_name}"
        else:
            status = f"[yellow]below threshold[/yellow]: {result.rule_name}"
        table.add_row(result.rule_id, result.severity, result.address, status)
    return table


def replacements_table(verdict: Verdict) -> Table:
    """Replacements and deletes against the base (``--base``): blocking ones first."""
    table = Table(
        title=f"{verdict.stack}: replacements and deletes ({verdict.sources[REPLACEMENTS]})"
    )
    table.add_column("change")
    table.add_column("resource", overflow="fold")
    table.add_column("status", overflow="fold")
    mine = [r for r in verdict.results if r.source == REPLACEMENTS]
    for result in sorted(mine, key=lambda r: (not r.blocking, r.urn)):
        if result.suppressed:
            status = f"[yellow]allowed[/yellow]: {result.suppressed}"
        elif result.blocking:
            status = f"[red]blocking[/red]: {result.message}"
        else:
            status = f"[dim]advisory[/dim]: {result.message}"
        table.add_row(result.rule_id, result.urn, status)
    return table


def suppressed_line(verdict: Verdict) -> str:
    counts = Counter(r.rule_id for r in verdict.results if r.source == CHECKOV and r.suppressed)
    listed = ", ".join(f"{rule} x{n}" for rule, n in sorted(counts.items()))
    return f"[dim]suppressed ({suppressions.SUPPRESSIONS_FILE}): {listed}[/dim]"


def verdict_line(verdict: Verdict) -> str:
    parts = []
    for source, counts in verdict.by_source().items():
        if source not in verdict.sources:
            continue
        extras = [
            f"{counts[key]} {label}"
            for key, label in (
                ("advisory", "advisory"),
                ("suppressed", "suppressed"),
                ("belowThreshold", "below threshold"),
            )
            if counts[key]
        ]
        detail = f" ({', '.join(extras)})" if extras else ""
        parts.append(f"{source} {counts['failed']} failed{detail}")
    summary = "; ".join(parts) + f"; threshold {verdict.threshold}"
    if verdict.enforcement:
        summary += f"; {verdict.enforcement_line()}"
    if verdict.passed:
        return f"[green]check passed[/green]: {summary}"
    return f"[red]check failed[/red]: {summary}" + (
        f"; {len(verdict.errors)} error(s)" if verdict.errors else ""
    )


def show(judgement: Judgement, console: Console) -> None:
    verdict = judgement.verdict
    console.print(packs_table(judgement.pack_report))
    if judgement.pack_report.findings:
        console.print(findings_table(judgement.pack_report))
    if judgement.pack_report.remediations:
        console.print(remediations_table(judgement.pack_report))
    console.print(judgement.pack_report.verdict())
    if any(r.source == CHECKOV and not r.suppressed for r in verdict.results):
        console.print(checkov_table(verdict))
    if any(r.source == CHECKOV and r.suppressed for r in verdict.results):
        console.print(suppressed_line(verdict), highlight=False)
    if any(r.source == REPLACEMENTS for r in verdict.results):
        console.print(replacements_table(verdict))
    for note in verdict.notes:
        console.print(f"[dim]note:[/dim] {escape(note)}", highlight=False)
    for error in verdict.errors:
        console.print(f"[red]error:[/red] {escape(error)}", highlight=False)
    console.print(verdict_line(verdict))


def write_reports(
    judgement: Judgement,
    console: Console,
    *,
    project_dir: Path,
    json_file: Path | None = None,
    sarif_file: Path | None = None,
    junit_file: Path | None = None,
    markdown_file: Path | None = None,
) -> None:
    verdict = judgement.verdict
    stack_file = f"stacks/Pulumi.{verdict.stack}.yaml"
    try:
        lines = locations.key_lines((project_dir / stack_file).read_text())
    except (OSError, UnicodeDecodeError):
        lines = {}  # located at line 1, as without a key

    def line(result: Result) -> int:
        return locations.line_of(result.urn, result.rule_id, lines, judgement.lineage)

    outputs: list[tuple[Path | None, Callable[[], str]]] = [
        (
            json_file,
            lambda: (
                json.dumps(
                    {
                        **judgement.pack_report.as_json(),
                        "passed": verdict.passed,
                        "verdict": verdict.as_json(),
                    },
                    indent=2,
                )
                + "\n"
            ),
        ),
        (
            sarif_file,
            lambda: (
                json.dumps(formats.sarif(verdict, artifact=stack_file, line=line), indent=2) + "\n"
            ),
        ),
        (junit_file, lambda: formats.junit(verdict)),
        (markdown_file, lambda: formats.markdown(verdict)),
    ]
    for path, render in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render())
        except OSError as exc:  # validated before the run; the disk may still refuse
            raise CheckError(f"cannot write the report {path}: {exc.strerror or exc}") from None
        console.print(f"report written to {path}")


DIRECTORY_OPTIONS = frozenset({"--export-manifests"})


def prepare_outputs(paths: Mapping[str, Path | None]) -> None:
    """Before anything runs: validate every report and export path (option → path, ``None``:
    not asked for) and remove what an earlier run left there (:mod:`blueprint.check.outputs`);
    :class:`CheckError` names each invalid option and the fix."""
    outputs.prepare(
        [
            outputs.Output(option, path, directory=option in DIRECTORY_OPTIONS)
            for option, path in paths.items()
            if path is not None
        ]
    )
