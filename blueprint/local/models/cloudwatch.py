"""CloudWatch alarms: PutCompositeAlarm (moto has none), and what PutMetricAlarm refuses.

Sources:

* PutCompositeAlarm, API reference (botocore 1.44.8 ``cloudwatch/2010-08-01``):
  ``AlarmRule`` 1-10,240 characters, "as many as 100 children alarms"; actions lists at most 5
  (``ResourceList``); the rule names alarms with ``ALARM(name)``, ``OK(name)`` and
  ``INSUFFICIENT_DATA(name)`` (a name or an ARN, in double quotes when it holds spaces or
  parentheses).
* A rule naming an alarm that does not exist is refused with a ``ValidationError`` "Could not
  save the composite alarm as alarms [<names>] in the alarm rule do not exist" (not in the API
  reference: awsdocs/aws-cloudformation-user-guide issue 911 quotes it, and other emulators
  replicate the bracketed list; medium confidence on the exact formatting).
* DescribeAlarms ``AlarmTypes``: "If you omit this parameter, only metric alarms are returned,
  even if composite alarms or log alarms exist in the account." moto returns both.
* PutMetricAlarm: the evaluation range, "M out of N" and metric-math limits of
  :mod:`blueprint.fidelity.alarms` (moto accepts any values); actions at most 5.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

from blueprint.fidelity import alarms
from blueprint.local.models.base import AwsError

MAX_ACTIONS = 5
MAX_RULE_LENGTH = 10_240
MAX_CHILDREN = 100
ACTION_LISTS = ("AlarmActions", "OKActions", "InsufficientDataActions")
_METRIC_ONLY = (
    "namespace", "metric_name", "metric_data_queries", "comparison_operator",
    "evaluation_periods", "datapoints_to_alarm", "period", "threshold", "statistic",
    "extended_statistic", "unit", "treat_missing_data", "evaluate_low_sample_count_percentile",
    "threshold_metric_id",
)  # fmt: skip
_FUNCTION = re.compile(r"\b(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(\"[^\"]*\"|[^)\s]+)\s*\)")


def rule_alarms(rule: str) -> list[str]:
    """The alarms a composite rule names, in order, without quotes (names or ARNs)."""
    return [match.strip('"') for match in _FUNCTION.findall(rule)]


def composite_problem(rule: str, existing: set[str]) -> AwsError | None:
    """Why PutCompositeAlarm refuses ``rule`` given the alarms that exist (names and ARNs)."""
    if not 1 <= len(rule) <= MAX_RULE_LENGTH:
        return AwsError("ValidationError", f"AlarmRule must be 1-{MAX_RULE_LENGTH} characters")
    if rule != rule.strip():
        return AwsError("ValidationError", "AlarmRule must not start or end with whitespace")
    named = rule_alarms(rule)
    if len(set(named)) > MAX_CHILDREN:
        return AwsError("ValidationError", f"AlarmRule names more than {MAX_CHILDREN} alarms")
    missing = [name for name in dict.fromkeys(named) if name not in existing]
    if missing:
        return AwsError(
            "ValidationError",
            f"Could not save the composite alarm as alarms [{', '.join(missing)}] "
            "in the alarm rule do not exist",
        )
    return None


def _actions_problem(params: dict[str, Any]) -> AwsError | None:
    for key in ACTION_LISTS:
        if len(params.get(key) or []) > MAX_ACTIONS:
            return AwsError(
                "ValidationError", f"{key}: at most {MAX_ACTIONS} actions, not {len(params[key])}"
            )
    return None


def _existing(backend: CloudWatchBackend) -> set[str]:
    found: set[str] = set()
    for alarm in backend.describe_alarms():
        found |= {alarm.name, alarm.alarm_arn}
    return found


def _raise(refusal: AwsError) -> None:
    raise ValidationError(refusal.code, refusal.message)


_PATCHED = ("put_metric_alarm", "describe_alarms")
_MOTO: dict[str, Callable[[CloudWatchResponse], ActionResult]] = {
    name: getattr(CloudWatchResponse, name) for name in _PATCHED
}
"""moto's own methods, taken at import: patches delegate to these, never to another patch."""


class Patches:
    """PutMetricAlarm refusals, PutCompositeAlarm, DescribeAlarms' AlarmTypes."""

    def __init__(self) -> None:
        self.previous = {
            name: CloudWatchResponse.__dict__.get(name)
            for name in (*_PATCHED, "put_composite_alarm")
        }

    def install(self) -> None:
        setattr(CloudWatchResponse, "put_metric_alarm", put_metric_alarm)  # noqa: B010
        setattr(CloudWatchResponse, "put_composite_alarm", put_composite_alarm)  # noqa: B010
        setattr(CloudWatchResponse, "describe_alarms", describe_alarms)  # noqa: B010

    def uninstall(self) -> None:
        for name, previous in self.previous.items():
            if previous is None:
                delattr(CloudWatchResponse, name)
            else:
                setattr(CloudWatchResponse, name, previous)


def _params(response: CloudWatchResponse, *names: str) -> dict[str, Any]:
    return {name: response._get_param(name) for name in names}


def put_metric_alarm(response: CloudWatchResponse) -> ActionResult:
    params = _params(
        response, "Period", "EvaluationPeriods", "DatapointsToAlarm", "Metrics", *ACTION_LISTS
    )
    refusal = _actions_problem(params)
    problems = alarms.alarm_problems(alarms.from_request(params))
    if refusal is None and problems:
        refusal = AwsError("ValidationError", "; ".join(problems))
    if refusal is not None:
        _raise(refusal)
    return _MOTO["put_metric_alarm"](response)


def put_composite_alarm(response: CloudWatchResponse) -> ActionResult:
    params = _params(
        response,
        "AlarmName",
        "AlarmRule",
        "AlarmDescription",
        "ActionsEnabled",
        "Tags",
        *ACTION_LISTS,
    )
    backend = response.cloudwatch_backend
    refusal = _actions_problem(params) or composite_problem(
        str(params["AlarmRule"] or ""), _existing(backend)
    )
    if refusal is not None:
        _raise(refusal)
    enabled = params["ActionsEnabled"]
    # moto stores a composite as an alarm with a rule (its own put_metric_alarm takes
    # AlarmRule for that); the metric fields stay empty, as moto leaves them.
    metric_fields: dict[str, Any] = dict.fromkeys(_METRIC_ONLY)
    backend.put_metric_alarm(
        name=params["AlarmName"],
        description=params["AlarmDescription"],
        dimensions=[],
        alarm_actions=params["AlarmActions"] or [],
        ok_actions=params["OKActions"] or [],
        insufficient_data_actions=params["InsufficientDataActions"] or [],
        actions_enabled=True if enabled is None else bool(enabled),
        rule=params["AlarmRule"],
        tags=params["Tags"] or [],
        **metric_fields,
    )
    return EmptyResult()


def describe_alarms(response: CloudWatchResponse) -> ActionResult:
    result = _MOTO["describe_alarms"](response)
    types = response._get_param("AlarmTypes") or ["MetricAlarm"]
    body = result.result if isinstance(result.result, dict) else None
    if body is not None:
        if "MetricAlarm" not in types:
            body["MetricAlarms"] = []
        if "CompositeAlarm" not in types:
            body["CompositeAlarms"] = []
    return result
