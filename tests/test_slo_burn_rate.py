"""Burn-rate maths: the workbook's table, derived from each SLO's target and period."""

from __future__ import annotations

from datetime import timedelta

import pytest

from components.slos.burn_rate import (
    ALERT_WINDOWS,
    Severity,
    burn_rate_alerts,
    error_budget,
    promql_duration,
    sli_windows,
)
from tests.conftest import STACKS, stack_config

# (severity, long, short, factor, threshold at 99.9 %): the workbook's table 5-8 over 30 days,
# with sloth's 3x for 1d/2h.
WORKBOOK_30D = [
    (Severity.PAGE, "1h", "5m", 14.4, 0.0144),
    (Severity.PAGE, "6h", "30m", 6.0, 0.006),
    (Severity.TICKET, "1d", "2h", 3.0, 0.003),
    (Severity.TICKET, "3d", "6h", 1.0, 0.001),
]


def _table(target: float, days: int) -> list[tuple[Severity, str, str, float, float]]:
    return [
        (
            a.window.severity,
            promql_duration(a.window.long),
            promql_duration(a.window.short),
            a.factor,
            a.threshold,
        )
        for a in burn_rate_alerts(target, days)
    ]


def test_thirty_days_at_three_nines_is_the_workbook_table() -> None:
    assert _table(99.9, 30) == WORKBOOK_30D


@pytest.mark.parametrize(
    ("target", "thresholds"),
    [
        (99.0, [0.144, 0.06, 0.03, 0.01]),
        (99.5, [0.072, 0.03, 0.015, 0.005]),
        (99.99, [0.00144, 0.0006, 0.0003, 0.0001]),
    ],
)
def test_thresholds_are_factor_times_budget(target: float, thresholds: list[float]) -> None:
    assert [a.threshold for a in burn_rate_alerts(target, 30)] == thresholds


def test_twenty_eight_days_scales_the_factors_as_sloth_does() -> None:
    factors = [a.factor for a in burn_rate_alerts(99.9, 28)]
    assert factors == [13.44, 5.6, 2.8, pytest.approx(0.9333333333333333)]


def test_error_budget_is_exact() -> None:
    assert error_budget(99.9) == 0.001
    assert error_budget(95.0) == 0.05


@pytest.mark.parametrize("target", [0.0, 50.0, 94.9, 99.995, 100.0, 120.0])
def test_a_target_outside_the_range_is_refused(target: float) -> None:
    with pytest.raises(ValueError, match=r"allowed: 95\.0 to 99\.99"):
        burn_rate_alerts(target, 30)


def test_a_period_outside_the_catalogue_is_refused() -> None:
    with pytest.raises(ValueError, match="allowed: 28, 30"):
        burn_rate_alerts(99.9, 7)


def test_short_windows_are_a_twelfth_of_the_long_ones_and_all_are_recorded() -> None:
    assert all(w.long == 12 * w.short for w in ALERT_WINDOWS)
    assert [promql_duration(w) for w in sli_windows()] == [
        "5m", "30m", "1h", "2h", "6h", "1d", "3d",
    ]  # fmt: skip
    assert promql_duration(timedelta(seconds=90)) == "90s"


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_slo_has_a_derivable_alert_table(stack: str) -> None:
    for _, objective in stack_config(stack).slos.declarations():
        alerts = burn_rate_alerts(objective.target, objective.window_days)
        assert all(0 < a.threshold < 1 for a in alerts)
