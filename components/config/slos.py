"""Config of the service level objectives: one declaration per SLO, per environment.

The SLOs themselves are fixed (every environment declares the same seven, so alerting is
rehearsed in dev and staging); what an environment sets is each target, its period, whether
it pages or tickets, and its owner. Burn-rate thresholds are never set here: they derive from
the target (:mod:`components.slos.burn_rate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from components.config.base import ConfigModel, ConfigRuleError
from components.slos.burn_rate import PERIOD_DAYS, TARGET_RANGE_PERCENT

OWNER_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
"""A team name, usable as a Prometheus label value and an alert route key."""

MAX_LAG_RANGE_SECONDS = (60, 86400)
"""MSK publishes consumer lag once a minute: a bound under a minute cannot be judged."""

SERVING_LATENCY_BUCKETS_SECONDS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
"""Bucket bounds of ``http.server.request.duration`` in the OpenTelemetry HTTP semantic
conventions (semantic-conventions, docs/http/http-metrics.md). A latency SLI counts requests
at or under the threshold from the histogram, so the threshold must be one of its bounds."""

ONLINE_STORE_LATENCY_RANGE_MICROSECONDS = (100, 100_000)
"""``SuccessfulReadRequestLatency`` is in microseconds; 0.1 ms to 100 ms is a meaningful bound."""


class SliKind(StrEnum):
    FRESHNESS = "freshness"
    AVAILABILITY = "availability"
    LATENCY = "latency"
    QUALITY = "quality"
    CONSISTENCY = "consistency"


class SliSource(StrEnum):
    """Where the SLI is measured, which decides where its alerts are evaluated."""

    CLOUDWATCH = "cloudwatch"
    PROMETHEUS = "prometheus"


class ObjectiveSettings(ConfigModel):
    """What every SLO declares: target, period, alert routing and owner."""

    target: float = Field(
        description="Objective in percent of good events or good minutes, e.g. `99.9`."
    )
    window_days: int = Field(description="Rolling SLO period in days: 28 or 30.")
    page: bool = Field(description="Page on a fast burn (1h/5m at 14.4x, 6h/30m at 6x).")
    ticket: bool = Field(description="Open a ticket on a slow burn (1d/2h at 3x, 3d/6h at 1x).")
    owner: str = Field(
        pattern=OWNER_PATTERN, description="Team that owns the SLO and receives its alerts."
    )

    @field_validator("target")
    @classmethod
    def _target(cls, value: float) -> float:
        low, high = TARGET_RANGE_PERCENT
        if not low <= value <= high:
            raise ValueError(f"{value} %; allowed: {low} to {high}")
        return value

    @field_validator("window_days")
    @classmethod
    def _window(cls, value: int) -> int:
        if value not in PERIOD_DAYS:
            raise ValueError(f"{value} days; allowed: {', '.join(str(d) for d in PERIOD_DAYS)}")
        return value

    @model_validator(mode="after")
    def _alerted(self) -> ObjectiveSettings:
        # An SLO nobody is told about is a number on a dashboard: governance requires every
        # SLO to have a burn-rate alert, so it is refused here, before anything is built.
        if not (self.page or self.ticket):
            raise ConfigRuleError(
                (("ticket",), "page or ticket must be true: every SLO has a burn-rate alert")
            )
        return self


class FreshnessObjective(ObjectiveSettings):
    """Feature freshness: minutes in which the materializer keeps up with feature events."""

    max_lag_seconds: int = Field(
        ge=MAX_LAG_RANGE_SECONDS[0],
        le=MAX_LAG_RANGE_SECONDS[1],
        description="A minute is good when the materializer's lag is at most this (seconds).",
    )


class OnlineStoreLatencyObjective(ObjectiveSettings):
    """Online store latency: minutes in which reads are fast enough."""

    threshold_microseconds: int = Field(
        ge=ONLINE_STORE_LATENCY_RANGE_MICROSECONDS[0],
        le=ONLINE_STORE_LATENCY_RANGE_MICROSECONDS[1],
        description="A minute is good when the average successful read takes at most this (µs).",
    )


class ServingLatencyObjective(ObjectiveSettings):
    """Serving latency: feature-server requests answered within a bound."""

    threshold_seconds: float = Field(
        description="A request is good when answered within this; a histogram bucket bound."
    )

    @field_validator("threshold_seconds")
    @classmethod
    def _bucket(cls, value: float) -> float:
        if value not in SERVING_LATENCY_BUCKETS_SECONDS:
            allowed = ", ".join(str(b) for b in SERVING_LATENCY_BUCKETS_SECONDS)
            raise ValueError(f"{value} s is not a bucket bound; allowed: {allowed}")
        return value


class SloSettings(ConfigModel):
    """The platform's SLOs; each key is one SLO, its name the key in kebab-case."""

    freshness: FreshnessObjective = Field(
        description="Freshness: good minutes where MSK `EstimatedMaxTimeLag` of the materializer "
        "group on `feature-events` is within `maxLagSeconds` (CloudWatch)."
    )
    online_store_availability: ObjectiveSettings = Field(
        description="Online store availability: good minutes where every shard's primary "
        "serves commands (ElastiCache, CloudWatch)."
    )
    online_store_latency: OnlineStoreLatencyObjective = Field(
        description="Online store latency: good minutes where ElastiCache "
        "`SuccessfulReadRequestLatency` is within `thresholdMicroseconds` (CloudWatch)."
    )
    serving_availability: ObjectiveSettings = Field(
        description="Serving availability: feature-server requests not answered with a 5xx "
        "(`http_server_request_duration_seconds_count`, Prometheus)."
    )
    serving_latency: ServingLatencyObjective = Field(
        description="Serving latency: feature-server requests answered within `thresholdSeconds` "
        "(`http_server_request_duration_seconds_bucket`, Prometheus)."
    )
    data_quality: ObjectiveSettings = Field(
        description="Data quality: records the materializer accepts against its data contract "
        "(custom metric in the platform namespace, CloudWatch)."
    )
    consistency: ObjectiveSettings = Field(
        description="Online/offline consistency: features the scheduled probe finds equal "
        "online and offline (custom metric in the platform namespace, CloudWatch)."
    )

    def declarations(self) -> Iterator[tuple[str, ObjectiveSettings]]:
        """``(slo name, objective)`` of every SLO, in declaration order."""
        for field_name in type(self).model_fields:
            yield slo_name(field_name), getattr(self, field_name)


def slo_name(field_name: str) -> str:
    """The SLO's name in labels, alert names and runbook pages: ``serving-availability``."""
    return field_name.replace("_", "-")


SLI_KINDS: dict[str, tuple[SliKind, SliSource]] = {
    "freshness": (SliKind.FRESHNESS, SliSource.CLOUDWATCH),
    "online-store-availability": (SliKind.AVAILABILITY, SliSource.CLOUDWATCH),
    "online-store-latency": (SliKind.LATENCY, SliSource.CLOUDWATCH),
    "serving-availability": (SliKind.AVAILABILITY, SliSource.PROMETHEUS),
    "serving-latency": (SliKind.LATENCY, SliSource.PROMETHEUS),
    "data-quality": (SliKind.QUALITY, SliSource.CLOUDWATCH),
    "consistency": (SliKind.CONSISTENCY, SliSource.CLOUDWATCH),
}
"""What each SLO measures and where: CloudWatch SLIs get metric-math alarms, Prometheus SLIs
rule groups in the managed Prometheus workspace."""
