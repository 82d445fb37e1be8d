"""Prometheus rule groups for the in-cluster SLIs, sloth-equivalent, from the SLO config.

For each SLO measured in Prometheus: recording rules for the SLI error ratio over every
window the alerts need (``slo:sli_error:ratio_rate5m`` ... ``ratio_rate3d``), metadata rules
(objective, budget, period) and, when the SLO pages or tickets, one alert per severity that
fires when a window pair's long AND short ratios both exceed the pair's threshold, the pairs of
a severity joined by ``or``. Like sloth's output the alerts have no ``for:``: the short window
already debounces, and a ``for:`` would only delay a page the maths says is due.

The request metrics follow the OpenTelemetry HTTP semantic conventions
(``http.server.request.duration``, a histogram in seconds, with ``http.response.status_code``),
as the Prometheus exporter names them. :func:`rules_yaml` is the document a rule group
namespace of the managed Prometheus workspace takes as its ``data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from components.config.slos import (
    SLI_KINDS,
    ObjectiveSettings,
    ServingLatencyObjective,
    SliKind,
    SliSource,
    SloSettings,
)
from components.observability.specs import runbook_url
from components.slos.burn_rate import (
    Severity,
    burn_rate_alerts,
    error_budget,
    promql_duration,
    sli_windows,
)

REQUEST_DURATION = "http_server_request_duration_seconds"
"""``http.server.request.duration`` as the OpenTelemetry Prometheus exporter names it."""
REQUEST_COUNT = f"{REQUEST_DURATION}_count"
REQUEST_BUCKET = f"{REQUEST_DURATION}_bucket"
STATUS_LABEL = "http_response_status_code"
SERVER_ERROR_STATUS = "5.."
SERVING_JOB = "feature-server"
"""The ``job`` label of the feature server's series (its OpenTelemetry ``service.name``)."""

ERROR_RATIO = "slo:sli_error:ratio_rate"
"""Recording-rule prefix, sloth's name; the window follows (``ratio_rate5m``)."""
WINDOW_LABEL = "slo_window"


def runbook(slo: str) -> str:
    return runbook_url(f"slo-{slo}.md")


def alert_name(slo: str) -> str:
    """``serving-availability`` -> ``ServingAvailabilityBudgetBurn`` (page and ticket share it)."""
    return "".join(part.capitalize() for part in slo.split("-")) + "BudgetBurn"


def _selector(**matchers: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in (("job", SERVING_JOB), *matchers.items())) + "}"


def _error_ratio(kind: SliKind, objective: ObjectiveSettings, window: str) -> str:
    total = f"sum(rate({REQUEST_COUNT}{_selector()}[{window}]))"
    if kind is SliKind.AVAILABILITY:
        errors = (
            f'sum(rate({REQUEST_COUNT}{{job="{SERVING_JOB}",'
            f'{STATUS_LABEL}=~"{SERVER_ERROR_STATUS}"}}[{window}]))'
        )
        return f"({errors})\n/\n({total})"
    if kind is SliKind.LATENCY and isinstance(objective, ServingLatencyObjective):
        # Prometheus client libraries write bucket bounds as floats ("0.1", "1.0").
        bucket = _selector(le=repr(objective.threshold_seconds))
        fast = f"sum(rate({REQUEST_BUCKET}{bucket}[{window}]))"
        return f"1 - (({fast})\n/\n({total}))"
    raise ValueError(f"no Prometheus SLI for kind {kind}")


def _recordings(slo: str, kind: SliKind, objective: ObjectiveSettings) -> dict[str, Any]:
    rules = []
    for window in sli_windows():
        duration = promql_duration(window)
        rules.append(
            {
                "record": f"{ERROR_RATIO}{duration}",
                "expr": _error_ratio(kind, objective, duration),
                "labels": {"slo": slo, WINDOW_LABEL: duration},
            }
        )
    return {"name": f"slo-sli-recordings-{slo}", "rules": rules}


def _metadata(slo: str, objective: ObjectiveSettings) -> dict[str, Any]:
    labels = {"slo": slo, "owner": objective.owner}
    period = f"{objective.window_days}d"
    short = promql_duration(min(sli_windows()))
    values = (
        ("slo:objective:ratio", f"vector({objective.target / 100!r})"),
        ("slo:error_budget:ratio", f"vector({error_budget(objective.target)!r})"),
        ("slo:time_period:days", f"vector({objective.window_days})"),
        (
            f"{ERROR_RATIO}{period}",
            f'sum_over_time({ERROR_RATIO}{short}{{slo="{slo}"}}[{period}])\n'
            f"/ ignoring ({WINDOW_LABEL})\n"
            f'count_over_time({ERROR_RATIO}{short}{{slo="{slo}"}}[{period}])',
        ),
        (
            "slo:period_error_budget_remaining:ratio",
            f'1 - {ERROR_RATIO}{period}{{slo="{slo}"}}\n'
            f'/ on (slo) group_left\nslo:error_budget:ratio{{slo="{slo}"}}',
        ),
    )
    rules = []
    for record, expr in values:
        extra = {WINDOW_LABEL: period} if record.startswith(ERROR_RATIO) else {}
        rules.append({"record": record, "expr": expr, "labels": labels | extra})
    return {"name": f"slo-meta-recordings-{slo}", "rules": rules}


def _alerts(slo: str, objective: ObjectiveSettings) -> dict[str, Any]:
    rules = []
    pairs = burn_rate_alerts(objective.target, objective.window_days)
    for severity in Severity:
        if not (objective.page if severity is Severity.PAGE else objective.ticket):
            continue
        clauses = []
        for pair in (p for p in pairs if p.window.severity is severity):
            threshold = f"({pair.factor!r} * {pair.error_budget!r})"
            long, short = (promql_duration(w) for w in (pair.window.long, pair.window.short))
            above = [
                f'  max without ({WINDOW_LABEL}) ({ERROR_RATIO}{w}{{slo="{slo}"}} > {threshold})'
                for w in (short, long)
            ]
            clauses.append("(\n" + "\n  and\n".join(above) + "\n)")
        rules.append(
            {
                "alert": alert_name(slo),
                "expr": "\nor\n".join(clauses),
                "labels": {"severity": severity.value, "slo": slo, "owner": objective.owner},
                "annotations": {
                    "summary": (
                        f"{slo} is burning its error budget too fast ({severity.value}): "
                        f"objective {objective.target} % over {objective.window_days} days"
                    ),
                    "runbook_url": runbook(slo),
                },
            }
        )
    return {"name": f"slo-alerts-{slo}", "rules": rules}


def rule_groups(slos: SloSettings) -> list[dict[str, Any]]:
    """The rule groups of every SLO measured in Prometheus."""
    groups = []
    for slo, objective in slos.declarations():
        kind, source = SLI_KINDS[slo]
        if source is not SliSource.PROMETHEUS:
            continue
        groups.append(_recordings(slo, kind, objective))
        groups.append(_metadata(slo, objective))
        alerts = _alerts(slo, objective)
        if alerts["rules"]:
            groups.append(alerts)
    return groups


def _literal(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _literal)


def rules_yaml(slos: SloSettings, extra_groups: Sequence[dict[str, Any]] = ()) -> str:
    """The rule file (``groups:``) for ``promtool`` and the managed Prometheus workspace:
    the SLO groups, then ``extra_groups`` (the cluster's health alerts)."""
    return dump_yaml({"groups": [*rule_groups(slos), *extra_groups]})


def dump_yaml(document: dict[str, Any]) -> str:
    """YAML as people read it: multi-line strings as literal blocks, keys in order."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100)
