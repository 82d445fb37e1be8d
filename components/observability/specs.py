"""Alarms as data: what each CloudWatch alarm watches, when it fires and whom it tells.

The burn-rate and health modules produce these specs from the config; the component turns
them into ``aws.cloudwatch.MetricAlarm`` / ``CompositeAlarm`` resources, the dashboard and
the runbook test read the same specs. Keeping them free of Pulumi resources lets tests
derive every threshold and window without a program run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from components.slos.burn_rate import Severity

PLATFORM_NAMESPACE = "FeaturePlatform"
"""The CloudWatch namespace of the platform's custom metrics; workloads may publish only here."""

RUNBOOK_DIR = Path(__file__).resolve().parent.parent.parent / "docs" / "runbooks"
RUNBOOK_URL_PATH = "docs/runbooks"


@dataclass(frozen=True)
class MetricQuery:
    """One ``metric_queries`` entry: a metric (namespace, name, dimensions, stat) or an
    expression over other entries. Exactly one query of an alarm returns data."""

    id: str
    namespace: str = ""
    metric_name: str = ""
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    stat: str = ""
    period: int = 0
    expression: str = ""
    label: str = ""
    return_data: bool = False

    @property
    def is_expression(self) -> bool:
        return bool(self.expression)


@dataclass(frozen=True)
class AlarmSpec:
    """A metric alarm. ``severity`` None: a window alarm that only feeds a composite alarm,
    so it has no actions of its own (it would page twice, and half-confirmed)."""

    name: str
    """The alarm's name after the environment prefix, e.g. ``slo-freshness-page-1h``."""
    description: str
    runbook: str
    """Page under ``docs/runbooks/`` (file name), linked from the description."""
    severity: Severity | None
    queries: tuple[MetricQuery, ...]
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    tags: Mapping[str, str] = field(default_factory=dict)
    """``slo`` (burn-rate alarms) or ``component`` (health alarms): what governance and the
    audit group alarms by."""

    def __post_init__(self) -> None:
        returning = [q.id for q in self.queries if q.return_data]
        if len(returning) != 1:
            raise ValueError(f"alarm {self.name}: exactly one query returns data, not {returning}")

    @property
    def period(self) -> int:
        """The period of its metrics (all the same: CloudWatch requires it)."""
        periods = {q.period for q in self.queries if not q.is_expression}
        if len(periods) != 1:
            raise ValueError(f"alarm {self.name}: metrics with periods {sorted(periods)}")
        return periods.pop()

    @property
    def metric_count(self) -> int:
        """Metrics (not expressions) it reads: CloudWatch bills an alarm per metric."""
        return sum(1 for q in self.queries if not q.is_expression)


@dataclass(frozen=True)
class CompositeSpec:
    """A composite alarm: ALARM when any of its window pairs has both windows in ALARM."""

    name: str
    description: str
    runbook: str
    severity: Severity
    slo: str
    pairs: tuple[tuple[str, str], ...]
    """(long window alarm name, short window alarm name) per pair; names after the prefix."""

    def rule(self, full_name: Mapping[str, str]) -> str:
        """``(ALARM("a") AND ALARM("b")) OR (...)`` with the alarms' full names."""
        return " OR ".join(
            f'(ALARM("{full_name[long]}") AND ALARM("{full_name[short]}"))'
            for long, short in self.pairs
        )


def runbook_url(page: str) -> str:
    return f"{RUNBOOK_URL_PATH}/{page}"


def describe(summary: str, runbook: str) -> str:
    """An alarm description: what it means, then the runbook (CloudWatch shows the start)."""
    return f"{summary} Runbook: {runbook_url(runbook)}"
