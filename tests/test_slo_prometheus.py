"""The generated Prometheus rules: their shape, and their behaviour under ``promtool``.

The promtool tests feed synthetic request counters (10 000 requests a minute, after a day of
healthy traffic at 0.01 % errors) to the rules generated for prod's serving-availability SLO
(99.9 % over 30 days: page above 1.44 % over 1h and 5m, or 0.6 % over 6h and 30m; ticket above
0.3 % over 1d and 2h, or 0.1 % over 3d and 6h) and assert exactly which alerts fire when.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.slos import SLI_KINDS, SliSource
from components.slos.prometheus import (
    REQUEST_COUNT,
    SERVING_JOB,
    STATUS_LABEL,
    alert_name,
    rule_groups,
    rules_yaml,
    runbook,
)
from tests.conftest import PROJECT_DIR, STACKS, stack_config

SLO = "serving-availability"
ALERT = alert_name(SLO)
PER_MINUTE = 10_000
HEALTHY = 0.0001
DAY = 24 * 60


def _rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(rules_yaml(stack_config("prod").slos))
    return path


def _counter(phases: list[tuple[int, float]], share: str) -> str:
    """promtool series notation for a counter over ``phases`` of (minutes, error ratio).

    ``share`` is "errors" or "ok": the counter of failed or of successful requests.
    """
    segments, value, first = [], 0.0, True
    for minutes, ratio in phases:
        step = PER_MINUTE * (ratio if share == "errors" else 1 - ratio)
        start = value if first else value + step
        count = minutes if first else minutes - 1
        segments.append(f"{start:g}+{step:g}x{count}")
        value = start + step * count
        first = False
    return " ".join(segments)


def _series(phases: list[tuple[int, float]]) -> list[dict[str, str]]:
    return [
        {
            "series": f'{REQUEST_COUNT}{{job="{SERVING_JOB}",{STATUS_LABEL}="{status}"}}',
            "values": _counter(phases, share),
        }
        for status, share in (("500", "errors"), ("200", "ok"))
    ]


def _expected(severities: tuple[str, ...], groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    alerts = {
        rule["labels"]["severity"]: rule
        for group in groups
        for rule in group["rules"]
        if rule.get("alert") == ALERT
    }
    return [
        {"exp_labels": alerts[s]["labels"], "exp_annotations": alerts[s]["annotations"]}
        for s in severities
    ]


def _promtool_test(
    promtool: str,
    tmp_path: Path,
    phases: list[tuple[int, float]],
    checks: list[tuple[int, tuple[str, ...]]],
) -> None:
    rules = _rules(tmp_path)
    groups = rule_groups(stack_config("prod").slos)
    test = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _series(phases),
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": ALERT,
                        "exp_alerts": _expected(s, groups),
                    }
                    for minute, s in checks
                ],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_rules_pass_promtool_check(promtool: str, tmp_path: Path) -> None:
    for stack in STACKS:
        path = tmp_path / f"{stack}.yaml"
        path.write_text(rules_yaml(stack_config(stack).slos))
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_healthy_series_fires_nothing(promtool: str, tmp_path: Path) -> None:
    _promtool_test(
        promtool,
        tmp_path,
        [(DAY + 360, HEALTHY)],
        [(60, ()), (360, ()), (DAY, ()), (DAY + 360, ())],
    )


def test_a_fast_burn_pages_within_the_workbook_detection_time(
    promtool: str, tmp_path: Path
) -> None:
    # 5 % errors is a 50x burn: the 1h ratio crosses 1.44 % after 60 * 0.0144 / 0.05 = 17.3
    # minutes. Ending the burn resolves the page within the 5m short window; the ticket stays,
    # since 30 minutes at 50x spent 3.5 % of the month's budget.
    _promtool_test(
        promtool,
        tmp_path,
        [(DAY, HEALTHY), (30, 0.05), (120, HEALTHY)],
        [(DAY + 12, ()), (DAY + 20, ("page",)), (DAY + 40, ("ticket",))],
    )


def test_a_slow_burn_tickets_but_never_pages(promtool: str, tmp_path: Path) -> None:
    # 0.4 % errors is a 4x burn: above both ticket factors (3x, 1x), below the page ones. With
    # a day of history the 3d ratio crosses 0.1 % after 7.2 hours, the 1d ratio 0.3 % after 18.
    _promtool_test(
        promtool,
        tmp_path,
        [(DAY, HEALTHY), (DAY, 0.004)],
        [(DAY + 180, ()), (DAY + 480, ("ticket",)), (2 * DAY - 1, ("ticket",))],
    )


def test_a_spike_shorter_than_the_short_window_fires_nothing(promtool: str, tmp_path: Path) -> None:
    # Three minutes at 20 % errors exceeds every short window, never a long one.
    _promtool_test(
        promtool,
        tmp_path,
        [(DAY, HEALTHY), (3, 0.2), (180, HEALTHY)],
        [(DAY + 3, ()), (DAY + 5, ()), (DAY + 30, ()), (DAY + 120, ())],
    )


def test_only_prometheus_slis_get_rule_groups() -> None:
    groups = rule_groups(stack_config("prod").slos)
    slos = {rule["labels"]["slo"] for group in groups for rule in group["rules"]}
    assert slos == {
        name for name, (_, source) in SLI_KINDS.items() if source is SliSource.PROMETHEUS
    }


@pytest.mark.parametrize(
    ("stack", "severities"),
    [("dev", {"ticket"}), ("staging", {"ticket"}), ("prod", {"page", "ticket"})],
)
def test_alerts_follow_the_environments_routing(stack: str, severities: set[str]) -> None:
    alerts = [
        rule
        for group in rule_groups(stack_config(stack).slos)
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert {rule["labels"]["severity"] for rule in alerts} == severities
    for rule in alerts:
        assert rule["labels"]["owner"] == "ml-platform"
        assert "for" not in rule  # as sloth: the short window debounces


def test_thresholds_in_the_rules_are_derived_from_the_target() -> None:
    text = rules_yaml(stack_config("prod", slos={"servingAvailability": {"target": 99.5}}).slos)
    assert "(14.4 * 0.005)" in text and "(1.0 * 0.005)" in text
    assert "0.001)" not in text


def test_every_alert_links_an_existing_runbook() -> None:
    for stack in STACKS:
        for group in rule_groups(stack_config(stack).slos):
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["annotations"]["runbook_url"] == runbook(rule["labels"]["slo"])
                    assert (PROJECT_DIR / rule["annotations"]["runbook_url"]).is_file()
