"""Online/offline consistency probe: compare sampled features, publish the SLI.

Reference implementation of the part the platform's consistency SLO depends on. A feature
team's probe image (``feature-platform:alerting.consistencyProbe.image``) samples entity keys,
reads each feature from the online store and from the offline store at the same event time,
and hands both to :func:`compare`; :func:`publish` writes the SLI the burn-rate alarms read:

* ``ConsistencyChecked``: features compared in this run;
* ``ConsistencyMismatches``: features whose online value differs from the offline one,

both ``Sum``-able counts in the ``FeaturePlatform`` namespace with the dimension
``Environment``, the only namespace the probe's role may publish to.

Values are compared as the stores hold them (strings of the serialised value); a feature
missing online but present offline is a mismatch (the online store lost or never got it); a
feature absent from both is not compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NAMESPACE = "FeaturePlatform"
CHECKED = "ConsistencyChecked"
MISMATCHES = "ConsistencyMismatches"

Features = Mapping[str, Mapping[str, str | None]]
"""Entity key -> feature name -> serialised value (None: absent)."""


@dataclass(frozen=True)
class Result:
    checked: int
    mismatches: int
    examples: tuple[tuple[str, str], ...] = ()
    """Up to ten (entity, feature) pairs that differed, for the log line."""

    @property
    def ratio(self) -> float:
        return self.mismatches / self.checked if self.checked else 0.0


def compare(online: Features, offline: Features, *, max_examples: int = 10) -> Result:
    """Count the features compared and those that differ, entity by entity."""
    checked = mismatches = 0
    examples: list[tuple[str, str]] = []
    for entity in sorted(set(online) | set(offline)):
        online_row, offline_row = online.get(entity, {}), offline.get(entity, {})
        for feature in sorted(set(online_row) | set(offline_row)):
            online_value, offline_value = online_row.get(feature), offline_row.get(feature)
            if online_value is None and offline_value is None:
                continue
            checked += 1
            if online_value != offline_value:
                mismatches += 1
                if len(examples) < max_examples:
                    examples.append((entity, feature))
    return Result(checked, mismatches, tuple(examples))


def metric_data(environment: str, result: Result) -> list[dict[str, Any]]:
    """The PutMetricData entries of one run (a run that compared nothing publishes nothing:
    no evidence is not good evidence)."""
    if not result.checked:
        return []
    dimensions = [{"Name": "Environment", "Value": environment}]
    return [
        {"MetricName": CHECKED, "Dimensions": dimensions, "Value": result.checked,
         "Unit": "Count"},
        {"MetricName": MISMATCHES, "Dimensions": dimensions, "Value": result.mismatches,
         "Unit": "Count"},
    ]  # fmt: skip


def publish(cloudwatch: Any, environment: str, result: Result) -> int:
    """Publish the run's SLI counts; returns how many datapoints were written."""
    data = metric_data(environment, result)
    if data:
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
    return len(data)
