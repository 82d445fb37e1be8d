"""CloudWatch alarm rules that span several inputs, shared by the two places that enforce them.

The provider facts (``provider_facts.json``, type-level ``checks``) judge a MetricAlarm's Pulumi
inputs before anything is created; the moto model (:mod:`blueprint.local.models.cloudwatch`)
judges the PutMetricAlarm request itself, where moto accepts anything. Both reduce what they
see to :class:`AlarmShape` and ask :func:`alarm_problems`, so the rule is written once.

Sources (botocore 1.44.8 ``cloudwatch/2010-08-01/service-2.json``, the text of the AWS API
reference):

* ``PutMetricAlarmInput.Period``: "Period multiplied by EvaluationPeriods can't be more than
  604,800 seconds. For alarms with a period of less than one hour (3,600 seconds), the total
  evaluation period can't be longer than one day (86,400 seconds)."
* ``PutMetricAlarmInput.DatapointsToAlarm``: "this value is the M" of "M out of N", N being
  EvaluationPeriods: M cannot exceed N.
* ``MetricDataQuery``: "A single PutMetricAlarm call can include up to 20 MetricDataQuery
  structures in the array. The 20 structures can include as many as 10 structures that
  contain a MetricStat parameter ... and as many as 10 structures that contain the Expression
  parameter"; ``ReturnData``: "When used in PutMetricAlarm, specify true for the one
  expression result to use as the alarm."
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

SUB_HOUR_PERIOD = 3600
MAX_SUB_HOUR_RANGE_SECONDS = 86_400
MAX_RANGE_SECONDS = 604_800
MAX_METRIC_STATS = 10
MAX_EXPRESSIONS = 10
MAX_QUERIES = 20
SOURCE = "botocore: cloudwatch PutMetricAlarm / MetricDataQuery"


@dataclass(frozen=True)
class Query:
    id: str
    is_expression: bool
    period: int | None
    """The query's own Period, or its MetricStat's."""
    return_data: bool


@dataclass(frozen=True)
class AlarmShape:
    period: int | None
    """The alarm's Period (single-metric alarms); None for a metric-math alarm."""
    evaluation_periods: int | None
    datapoints_to_alarm: int | None
    queries: Sequence[Query] = ()


def alarm_problems(alarm: AlarmShape) -> list[str]:
    """Why CloudWatch would refuse the alarm, as sentences (empty when it would accept it)."""
    return [*_evaluation_range(alarm), *_m_out_of_n(alarm), *_metric_math(alarm.queries)]


def effective_period(alarm: AlarmShape) -> int | None:
    """The period the alarm evaluates: its own, or the longest of its metric queries'."""
    if alarm.period is not None:
        return alarm.period
    periods = [q.period for q in alarm.queries if q.period is not None]
    return max(periods) if periods else None


def _evaluation_range(alarm: AlarmShape) -> Iterator[str]:
    period, periods = effective_period(alarm), alarm.evaluation_periods
    if period is None or periods is None:
        return
    limit = MAX_SUB_HOUR_RANGE_SECONDS if period < SUB_HOUR_PERIOD else MAX_RANGE_SECONDS
    if period * periods > limit:
        scope = "under one hour" if period < SUB_HOUR_PERIOD else "of an hour or more"
        yield (
            f"Period x EvaluationPeriods = {period} x {periods} = {period * periods} s exceeds "
            f"{limit} s, the longest evaluation range of an alarm with a period {scope}"
        )


def _m_out_of_n(alarm: AlarmShape) -> Iterator[str]:
    m, n = alarm.datapoints_to_alarm, alarm.evaluation_periods
    if m is not None and n is not None and m > n:
        yield f"DatapointsToAlarm ({m}) must be less than or equal to EvaluationPeriods ({n})"


def _metric_math(queries: Sequence[Query]) -> Iterator[str]:
    if not queries:
        return
    stats = sum(1 for q in queries if not q.is_expression)
    expressions = len(queries) - stats
    if stats > MAX_METRIC_STATS:
        yield f"{stats} metrics in one alarm; at most {MAX_METRIC_STATS} (a hard limit)"
    if expressions > MAX_EXPRESSIONS:
        yield f"{expressions} expressions in one alarm; at most {MAX_EXPRESSIONS}"
    if len(queries) > MAX_QUERIES:
        yield f"{len(queries)} metric queries in one alarm; at most {MAX_QUERIES}"
    returning = [q.id for q in queries if q.return_data]
    if len(returning) != 1:
        yield (
            "exactly one metric query must set ReturnData to true (the alarm's series), "
            f"not {len(returning)}{': ' + ', '.join(returning) if returning else ''}"
        )


def from_inputs(inputs: dict[str, object]) -> AlarmShape:
    """The shape of a MetricAlarm from its Pulumi inputs (camelCase)."""
    queries = []
    for raw in _dicts(inputs.get("metricQueries")):
        metric = raw.get("metric")
        metric_period = metric.get("period") if isinstance(metric, dict) else None
        queries.append(
            Query(
                id=str(raw.get("id", "")),
                is_expression=not isinstance(metric, dict),
                period=_int(raw.get("period")) or _int(metric_period),
                # The provider's default for return_data is false.
                return_data=raw.get("returnData") is True,
            )
        )
    return AlarmShape(
        period=_int(inputs.get("period")),
        evaluation_periods=_int(inputs.get("evaluationPeriods")),
        datapoints_to_alarm=_int(inputs.get("datapointsToAlarm")),
        queries=tuple(queries),
    )


def from_request(params: dict[str, object]) -> AlarmShape:
    """The shape of a PutMetricAlarm request (the API's PascalCase parameters)."""
    queries = []
    for raw in _dicts(params.get("Metrics")):
        stat = raw.get("MetricStat")
        stat_period = stat.get("Period") if isinstance(stat, dict) else None
        queries.append(
            Query(
                id=str(raw.get("Id", "")),
                is_expression=not isinstance(stat, dict),
                period=_int(raw.get("Period")) or _int(stat_period),
                # The API's default for ReturnData is true.
                return_data=raw.get("ReturnData") is not False,
            )
        )
    return AlarmShape(
        period=_int(params.get("Period")),
        evaluation_periods=_int(params.get("EvaluationPeriods")),
        datapoints_to_alarm=_int(params.get("DatapointsToAlarm")),
        queries=tuple(queries),
    )


def _dicts(value: object) -> list[dict[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
