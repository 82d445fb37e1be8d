"""The CloudWatch burn-rate alarms' behaviour on synthetic minute series.

The window alarms of a good-minute SLI are "M out of N" alarms on a per-minute good/bad
series; a composite is ALARM when, for one of its pairs, both windows are. This replays
that arithmetic (CloudWatch's sliding window over the last N one-minute datapoints, each
breaching or not) minute by minute over prod's freshness SLO (99.5 % over 30 days) and
asserts what the workbook promises: a fast burn pages within its detection time, a slow
burn tickets without paging, a blip under 2 % of the budget does nothing, and a recovery
resolves within the short windows.

Only the planned specs' numbers are used (period, evaluation periods, datapoints to alarm):
the test judges the alarms the stack creates, not a copy of their maths.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from components.observability.slo_alarms import SliContext, cache_node_ids, slo_alarm_specs
from components.observability.specs import AlarmSpec, CompositeSpec
from tests.conftest import stack_config

SLO = "freshness"
DAY = 24 * 60


def _specs() -> tuple[dict[str, AlarmSpec], dict[str, CompositeSpec]]:
    config = stack_config("prod")
    store = config.online_store
    nodes = cache_node_ids(
        "feature-platform-prod-online",
        cluster_mode=store.cluster_mode,
        shards=store.shards,
        replicas_per_shard=store.replicas_per_shard,
    )
    windows, composites = slo_alarm_specs(
        config.slos, SliContext("prod", "feature-platform-prod", nodes)
    )
    return (
        {w.name: w for w in windows if w.tags["slo"] == SLO},
        {c.severity.value: c for c in composites if c.slo == SLO},
    )


WINDOWS, COMPOSITES = _specs()


def _in_alarm(spec: AlarmSpec, bad: Sequence[bool], minute: int) -> bool:
    """The window alarm at ``minute``: at least M breaching of the last N datapoints."""
    assert spec.period == 60
    start = max(0, minute - spec.evaluation_periods + 1)
    return sum(bad[start : minute + 1]) >= spec.datapoints_to_alarm


def _firing(severity: str, bad: Sequence[bool], minute: int) -> bool:
    return any(
        _in_alarm(WINDOWS[long], bad, minute) and _in_alarm(WINDOWS[short], bad, minute)
        for long, short in COMPOSITES[severity].pairs
    )


def _series(*phases: tuple[int, float]) -> list[bool]:
    """Minutes of (length, share of bad minutes), bad minutes spread evenly in a phase."""
    bad: list[bool] = []
    for length, share in phases:
        owed = 0.0
        for _ in range(length):
            owed += share
            bad.append(owed >= 1)
            owed -= 1 if owed >= 1 else 0
    return bad


def _first(severity: str, bad: Sequence[bool], since: int) -> int | None:
    return next((m - since for m in range(since, len(bad)) if _firing(severity, bad, m)), None)


def test_the_windows_are_the_good_minute_alarms_of_the_plan() -> None:
    # 1h/5m and 6h/30m page, 1d/2h tickets; no alarm holds three days.
    assert set(COMPOSITES) == {"page", "ticket"}
    assert {w.evaluation_periods for w in WINDOWS.values()} == {60, 5, 360, 30, DAY, 120}


def test_a_healthy_day_fires_nothing() -> None:
    bad = _series((2 * DAY, 0.001))
    assert not any(_firing(s, bad, m) for s in COMPOSITES for m in range(len(bad)))


def test_a_full_outage_pages_within_the_workbook_detection_time() -> None:
    # Every minute bad: the 1h window needs 2 % of the budget, 0.072 x 60 = 4.32 minutes.
    bad = _series((DAY, 0.0), (60, 1.0), (DAY, 0.0))
    assert _first("page", bad, DAY) == 4  # the fifth bad minute (0-based)
    assert _first("ticket", bad, DAY) is not None


def test_a_short_blip_does_not_page_but_five_bad_minutes_do() -> None:
    # The budget is 0.5 % of 43,200 minutes = 216 bad minutes; the 1h/5m page is 2 % of it
    # (4.32 minutes). Four bad minutes stay under it; five spend 2.3 % in an hour: a page,
    # as the workbook intends for a minute SLI at this target.
    assert _first("page", _series((DAY, 0.0), (4, 1.0), (DAY, 0.0)), DAY) is None
    assert _first("page", _series((DAY, 0.0), (5, 1.0), (DAY, 0.0)), DAY) == 4


def test_a_slow_burn_tickets_but_never_pages() -> None:
    # 2 % bad minutes (4x the sustainable 0.5 %): below the 6x and 14.4x pages, above the 3x
    # ticket once a day of it has accumulated enough bad minutes.
    bad = _series((DAY, 0.0), (2 * DAY, 0.02))
    assert _first("page", bad, DAY) is None
    fired = _first("ticket", bad, DAY)
    assert fired is not None and 12 * 60 < fired < DAY


def test_recovery_resolves_the_page_within_the_short_windows() -> None:
    bad = _series((DAY, 0.0), (30, 1.0), (DAY, 0.0))
    end = DAY + 30  # the first good minute
    assert _firing("page", bad, end - 1)
    # The 1h/5m pair lets go once its 5-minute window holds only good minutes...
    assert _in_alarm(WINDOWS["slo-freshness-1h5m-short"], bad, end + 3)
    assert not _in_alarm(WINDOWS["slo-freshness-1h5m-short"], bad, end + 4)
    # ...and the page resolves when the 6h/30m pair's 30-minute window does too: the short
    # windows are what end an alert minutes after the burn ends, not hours.
    assert _firing("page", bad, end + 28)
    assert not _firing("page", bad, end + 29)


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_each_window_fires_exactly_at_its_datapoint_count(name: str) -> None:
    spec = WINDOWS[name]
    n, m = spec.evaluation_periods, spec.datapoints_to_alarm
    # m - 1 bad minutes in the window: not in alarm; m: in alarm.
    below = [False] * (n - m + 1) + [True] * (m - 1)
    assert not _in_alarm(spec, below, len(below) - 1)
    assert _in_alarm(spec, [*below, True], len(below))
