"""CloudWatch alarm notifications, parsed once into `AlarmEvent`.

CloudWatch publishes one JSON body per state change. Four kinds share it: metric alarms (`Trigger.MetricName`),
metric-math and anomaly-detection alarms (`Trigger.Metrics`, the latter with `ThresholdMetricId`), and
composite alarms (no `Trigger`, an `AlarmRule`). The body's fields are validated by the pydantic models in
`bot.alarms.body` (quirks of real bodies are tolerated there); this module decides the kind and exposes what
the rest of the bot reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot import strict_json
from bot.alarms.body import AlarmBody, AlarmState, parse_body
from bot.errors import BadInput

__all__ = ["AlarmEvent", "AlarmKind", "AlarmState", "MetricQuery", "TriggeringChild", "alarm_body",
           "alarm_from_body", "parse_alarm"]


class AlarmKind(StrEnum):
    METRIC = "metric"
    METRIC_MATH = "metric_math"
    ANOMALY_DETECTION = "anomaly_detection"
    COMPOSITE = "composite"


COMPARISON_SYMBOLS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside band",
    "LessThanLowerThreshold": "< lower band",
    "GreaterThanUpperThreshold": "> upper band",
}


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One entry of `Trigger.Metrics` (metric math and anomaly detection)."""

    id: str
    expression: str | None = None
    metric_name: str | None = None
    namespace: str | None = None
    stat: str | None = None
    label: str | None = None
    return_data: bool = False


@dataclass(frozen=True, slots=True)
class TriggeringChild:
    """A child alarm that moved a composite alarm."""

    arn: str
    state: str
    timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One CloudWatch alarm state change, whatever the alarm's kind."""

    alarm_name: str
    alarm_arn: str
    new_state: AlarmState
    old_state: AlarmState | None
    reason: str
    state_change_time: datetime
    kind: AlarmKind
    description: str = ""
    account_id: str = ""
    region_name: str = ""
    region: str = ""
    metric_name: str | None = None
    namespace: str | None = None
    statistic: str | None = None
    unit: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    period: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    comparison_operator: str | None = None
    threshold: float | None = None
    treat_missing_data: str | None = None
    metrics: tuple[MetricQuery, ...] = ()
    threshold_metric_id: str | None = None
    alarm_rule: str | None = None
    triggering_children: tuple[TriggeringChild, ...] = ()
    observed_value: float | None = None

    @property
    def comparison(self) -> str:
        """The comparison as a symbol people read (`>`, `<=`, `outside band`)."""
        return COMPARISON_SYMBOLS.get(self.comparison_operator or "", self.comparison_operator or "")

    @property
    def evaluation_window(self) -> timedelta:
        """How far back the alarm looked when it changed state (period × evaluation periods), at most the
        7 days CloudWatch itself evaluates over."""
        periods = self.evaluation_periods or 1
        return min(timedelta(seconds=(self.period or 300) * periods), MAX_WINDOW)

    @property
    def query_span(self) -> timedelta:
        """How far back triage queries look: the evaluation window plus a margin, so the run-up shows too."""
        return self.evaluation_window + QUERY_MARGIN

    @property
    def subject_metric(self) -> str:
        """The metric a person would name for this alarm, or its rule for a composite."""
        if self.metric_name:
            return self.metric_name
        for query in self.metrics:
            if query.metric_name:
                return query.metric_name
        return self.alarm_rule or self.alarm_name


QUERY_MARGIN = timedelta(minutes=5)
MAX_WINDOW = timedelta(days=7)
ALARM_DEPTH = 16  # a real body nests 6 levels (Trigger.Metrics[].MetricStat.Metric.Dimensions[])
_DATAPOINT = re.compile(r"\[\s*(-?[0-9][0-9.eE+-]{0,40})\s*\(")
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:cloudwatch:([a-z0-9-]{1,32}):")


def alarm_body(message: str) -> dict[str, Any] | None:
    """The decoded alarm body of an SNS `Message`; None when it is not a CloudWatch alarm at all.

    Raises BadInput when it looks like an alarm but is not strict JSON (NaN, 1e309, a NUL, deep nesting).
    """
    looks_like_alarm = '"AlarmName"' in message and '"NewStateValue"' in message
    try:
        body = strict_json.loads(message, what="alarm body", max_depth=ALARM_DEPTH, nul=False)
    except BadInput:
        if looks_like_alarm:
            raise
        return None
    if not isinstance(body, dict) or "AlarmName" not in body or "NewStateValue" not in body:
        return None
    return body


def parse_alarm(message: str) -> AlarmEvent | None:
    """Parse an SNS `Message` into an `AlarmEvent`; None when it is not a CloudWatch alarm at all.

    Raises BadInput when it looks like an alarm (has `AlarmName` and `NewStateValue`) but a field is malformed.
    """
    body = alarm_body(message)
    return alarm_from_body(body) if body is not None else None


def alarm_from_body(body: dict[str, Any]) -> AlarmEvent:
    """Build an `AlarmEvent` from a decoded CloudWatch alarm body; raises BadInput on malformed fields."""
    parsed = parse_body(body)
    return _event(parsed, composite="AlarmRule" in body)


def _event(body: AlarmBody, *, composite: bool) -> AlarmEvent:
    name, account = body.alarm_name, body.account_id or ""
    region = _arn_region(body.alarm_arn or "")
    # Bodies before 2019 carry no ARN; name + account is what identifies the alarm then.
    arn = body.alarm_arn or f"arn:aws:cloudwatch:{region or 'unknown'}:{account or 'unknown'}:alarm:{name}"
    trigger = body.trigger
    metrics = tuple(
        MetricQuery(id=m.id, expression=m.expression, metric_name=m.metric_stat.metric.metric_name,
                    namespace=m.metric_stat.metric.namespace, stat=m.metric_stat.stat, label=m.label,
                    return_data=m.return_data)
        for m in ((trigger.metrics if trigger else None) or [])
    )
    if composite and trigger is None:
        kind = AlarmKind.COMPOSITE
    elif trigger is not None and trigger.threshold_metric_id:
        kind = AlarmKind.ANOMALY_DETECTION
    elif metrics:
        kind = AlarmKind.METRIC_MATH
    else:
        kind = AlarmKind.METRIC
    reason = body.reason or ""
    return AlarmEvent(
        alarm_name=name,
        alarm_arn=arn,
        new_state=body.new_state,
        old_state=body.old_state,
        reason=reason,
        state_change_time=body.state_change_time,
        kind=kind,
        description=body.alarm_description or "",
        account_id=account,
        region_name=body.region_name or "",
        region=region,
        metric_name=trigger.metric_name if trigger else None,
        namespace=trigger.namespace if trigger else None,
        statistic=(trigger.statistic or trigger.extended_statistic) if trigger else None,
        unit=trigger.unit if trigger else None,
        dimensions=dict(trigger.dimensions) if trigger else {},
        period=trigger.period if trigger else None,
        evaluation_periods=trigger.evaluation_periods if trigger else None,
        datapoints_to_alarm=trigger.datapoints_to_alarm if trigger else None,
        comparison_operator=trigger.comparison_operator if trigger else None,
        threshold=trigger.threshold if trigger else None,
        treat_missing_data=trigger.treat_missing_data if trigger else None,
        metrics=metrics,
        threshold_metric_id=trigger.threshold_metric_id if trigger else None,
        alarm_rule=body.alarm_rule,
        triggering_children=tuple(
            TriggeringChild(arn=c.arn, state=c.state.value or "", timestamp=c.state.timestamp)
            for c in body.triggering_children or []
        ),
        observed_value=_observed_value(reason),
    )


def _arn_region(arn: str) -> str:
    match = _ARN_REGION.match(arn)
    return match.group(1) if match else ""


def _observed_value(reason: str) -> float | None:
    """The first datapoint CloudWatch quotes in the reason, e.g. `[1234.0 (06/03/15 17:43:27)]`; None when
    there is none or it is not a finite number."""
    match = _DATAPOINT.search(reason)
    if not match:
        return None
    try:
        value = float(match.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) else None
