"""The cluster health alerts, unit-tested with ``promtool test rules`` on synthetic series."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from components.observability.kube_rules import kube_health_group
from components.slos.prometheus import dump_yaml
from tests.conftest import PROJECT_DIR, stack_config

THRESHOLDS = stack_config("prod").alerting.health
NOT_READY = 'kube_node_status_condition{condition="Ready",status="true",node="ip-10-0-1-5"}'
RESTARTS = (
    "kube_pod_container_status_restarts_total"
    '{namespace="materialization",pod="materializer-0",container="main"}'
)


def _alerts(name: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = kube_health_group(THRESHOLDS)["rules"]
    (rule,) = [r for r in rules if r["alert"] == name]
    return rule


def _run(promtool: str, tmp_path: Path, series: list[dict[str, str]], checks: list[Any]) -> None:
    (tmp_path / "rules.yaml").write_text(dump_yaml({"groups": [kube_health_group(THRESHOLDS)]}))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _firing(name: str, labels: dict[str, str], summary: str) -> list[dict[str, Any]]:
    rule = _alerts(name)
    annotations = {"summary": summary, "runbook_url": rule["annotations"]["runbook_url"]}
    return [{"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}]


def test_the_rules_pass_promtool_check(promtool: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(dump_yaml({"groups": [kube_health_group(THRESHOLDS)]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_node_not_ready_for_five_minutes_tickets_and_a_blip_does_not(
    promtool: str, tmp_path: Path
) -> None:
    labels = {"condition": "Ready", "status": "true", "node": "ip-10-0-1-5"}
    _run(
        promtool,
        tmp_path,
        # Ready for 10 minutes, NotReady for 3 (a blip), Ready 10, NotReady for 10.
        [{"series": NOT_READY, "values": "1x10 0x2 1x10 0x10"}],
        [
            {"eval_time": "13m", "alertname": "KubeNodeNotReady", "exp_alerts": []},
            {"eval_time": "26m", "alertname": "KubeNodeNotReady", "exp_alerts": []},
            {
                "eval_time": "30m",
                "alertname": "KubeNodeNotReady",
                "exp_alerts": _firing(
                    "KubeNodeNotReady", labels, "Node ip-10-0-1-5 has not been Ready for 5 minutes"
                ),
            },
        ],
    )


def test_restarts_above_the_threshold_in_an_hour_ticket(promtool: str, tmp_path: Path) -> None:
    labels = {"namespace": "materialization", "pod": "materializer-0", "container": "main"}
    over = THRESHOLDS.pod_restarts + 2
    _run(
        promtool,
        tmp_path,
        # No restarts for 30 minutes, then one every 5 minutes.
        [{"series": RESTARTS, "values": f"0x30 1+0.2x{over * 5}"}],
        [
            {"eval_time": "25m", "alertname": "KubePodRestarting", "exp_alerts": []},
            {
                "eval_time": f"{30 + over * 5}m",
                "alertname": "KubePodRestarting",
                "exp_alerts": _firing(
                    "KubePodRestarting",
                    labels,
                    "materialization/materializer-0 restarted more than "
                    f"{THRESHOLDS.pod_restarts} times in an hour",
                ),
            },
        ],
    )


def test_restarts_outside_the_platform_namespaces_are_not_ours(
    promtool: str, tmp_path: Path
) -> None:
    series = RESTARTS.replace("materialization", "kube-system")
    _run(
        promtool,
        tmp_path,
        [{"series": series, "values": "0+1x120"}],
        [{"eval_time": "120m", "alertname": "KubePodRestarting", "exp_alerts": []}],
    )


def test_every_health_alert_links_an_existing_runbook() -> None:
    for rule in kube_health_group(THRESHOLDS)["rules"]:
        assert (PROJECT_DIR / rule["annotations"]["runbook_url"]).is_file(), rule["alert"]
