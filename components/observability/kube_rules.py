"""Prometheus alerts on the EKS cluster's health, from kube-state-metrics.

Node readiness and container restarts break serving and materialization before an SLO
burns; kube-state-metrics (scraped into the workspace with the workloads' metrics) exposes
both. The rules join the SLO rule groups in the workspace's namespace and route by their
``severity`` label like the SLO alerts.
"""

from __future__ import annotations

from typing import Any

from components.config.alerting import HealthThresholds
from components.observability.specs import runbook_url
from components.slos.prometheus import SERVING_JOB

PLATFORM_NAMESPACES = ("feature-serving", "materialization", "ingestion")


def kube_health_group(thresholds: HealthThresholds) -> dict[str, Any]:
    """One rule group: a node not Ready for 5 minutes, the feature server's metrics gone, a
    platform pod restarting."""
    namespaces = "|".join(PLATFORM_NAMESPACES)
    return {
        "name": "platform-health-kubernetes",
        "rules": [
            {
                "alert": "KubeNodeNotReady",
                "expr": 'kube_node_status_condition{condition="Ready",status="true"} == 0',
                # Nodes are replaced in minutes by the node group; only a node that stays
                # NotReady costs serving capacity.
                "for": "5m",
                "labels": {"severity": "ticket", "component": "eks"},
                "annotations": {
                    "summary": "Node {{ $labels.node }} has not been Ready for 5 minutes",
                    "runbook_url": runbook_url("health-kube-node-not-ready.md"),
                },
            },
            {
                # Rules run in the workspace, so this fires even when the agent itself is
                # gone: without it every serving SLO alert would go quiet, not red.
                "alert": "FeatureServerMetricsAbsent",
                "expr": f'absent(up{{job="{SERVING_JOB}"}} == 1)',
                "for": "10m",
                "labels": {"severity": "ticket", "component": "monitoring"},
                "annotations": {
                    "summary": (
                        "No feature-server target has been scraped for 10 minutes: the serving "
                        "SLOs cannot burn or alert"
                    ),
                    "runbook_url": runbook_url("health-metrics-absent.md"),
                },
            },
            {
                "alert": "KubePodRestarting",
                "expr": (
                    "increase(kube_pod_container_status_restarts_total"
                    f'{{namespace=~"{namespaces}"}}[1h]) > {thresholds.pod_restarts}'
                ),
                "labels": {"severity": "ticket", "component": "eks"},
                "annotations": {
                    "summary": (
                        "{{ $labels.namespace }}/{{ $labels.pod }} restarted more than "
                        f"{thresholds.pod_restarts} times in an hour"
                    ),
                    "runbook_url": runbook_url("health-kube-pod-restarts.md"),
                },
            },
        ],
    }
