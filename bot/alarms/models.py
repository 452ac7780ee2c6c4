"""CloudWatch alarm notifications, parsed once into `AlarmEvent`.

CloudWatch publishes one JSON body per state change. Four kinds share it: metric alarms (`Trigger.MetricName`),
metric-math and anomaly-detection alarms (`Trigger.Metrics`, the latter with `ThresholdMetricId`), and
composite alarms (no `Trigger`, an `AlarmRule`). Field quirks of real bodies are tolerated here and nowhere
else: long region names, `+0000` offsets, `null`/`""` descriptions, `Unit: "None"`, the
`"- TreatMissingData: missing"` spelling.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.errors import BadInput


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


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
        """How far back the alarm looked when it changed state (period × evaluation periods)."""
        periods = self.evaluation_periods or 1
        return timedelta(seconds=(self.period or 300) * periods)

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
_DATAPOINT = re.compile(r"\[\s*(-?[0-9][0-9.eE+-]*)\s*\(")
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:cloudwatch:([a-z0-9-]+):")


def alarm_body(message: str) -> dict[str, Any] | None:
    """The decoded alarm body of an SNS `Message`; None when it is not a CloudWatch alarm at all."""
    try:
        body = json.loads(message)
    except ValueError:
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
    name = _text(body, "AlarmName", required=True)
    account = _text(body, "AWSAccountId")
    arn = _text(body, "AlarmArn")
    region = _arn_region(arn)
    if not arn:
        # Bodies before 2019 carry no ARN; name + account is what identifies the alarm then.
        arn = f"arn:aws:cloudwatch:{region or 'unknown'}:{account or 'unknown'}:alarm:{name}"
    trigger = body.get("Trigger")
    if trigger is not None and not isinstance(trigger, dict):
        raise BadInput("alarm Trigger must be an object")
    trigger = trigger or {}
    metrics = tuple(_metric_query(m) for m in _list(trigger, "Metrics"))
    if "AlarmRule" in body and not trigger:
        kind = AlarmKind.COMPOSITE
    elif trigger.get("ThresholdMetricId"):
        kind = AlarmKind.ANOMALY_DETECTION
    elif metrics:
        kind = AlarmKind.METRIC_MATH
    else:
        kind = AlarmKind.METRIC
    reason = _text(body, "NewStateReason")
    return AlarmEvent(
        alarm_name=name,
        alarm_arn=arn,
        new_state=_state(body.get("NewStateValue"), "NewStateValue"),
        old_state=_state(body["OldStateValue"], "OldStateValue") if body.get("OldStateValue") else None,
        reason=reason,
        state_change_time=_time(body.get("StateChangeTime")),
        kind=kind,
        description=_text(body, "AlarmDescription"),
        account_id=account,
        region_name=_text(body, "Region"),
        region=region,
        metric_name=_opt_text(trigger, "MetricName"),
        namespace=_opt_text(trigger, "Namespace"),
        statistic=_opt_text(trigger, "Statistic") or _opt_text(trigger, "ExtendedStatistic"),
        unit=_unit(trigger.get("Unit")),
        dimensions=_dimensions(trigger.get("Dimensions")),
        period=_int(trigger, "Period"),
        evaluation_periods=_int(trigger, "EvaluationPeriods"),
        datapoints_to_alarm=_int(trigger, "DatapointsToAlarm"),
        comparison_operator=_opt_text(trigger, "ComparisonOperator"),
        threshold=_float(trigger, "Threshold"),
        treat_missing_data=_treat_missing(trigger.get("TreatMissingData")),
        metrics=metrics,
        threshold_metric_id=_opt_text(trigger, "ThresholdMetricId"),
        alarm_rule=_opt_text(body, "AlarmRule"),
        triggering_children=tuple(_child(c) for c in _list(body, "TriggeringChildren")),
        observed_value=_observed_value(reason),
    )


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise BadInput(f"alarm field {key} is missing")
        return ""
    if not isinstance(value, str):
        raise BadInput(f"alarm field {key} must be a string")
    if required and not value.strip():
        raise BadInput(f"alarm field {key} is empty")
    return value


def _opt_text(body: dict[str, Any], key: str) -> str | None:
    return _text(body, key) or None


def _list(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BadInput(f"alarm field {key} must be a list of objects")
    return value


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadInput(f"alarm field {key} must be an integer") from None


def _float(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadInput(f"alarm field {key} must be a number") from None


def _state(value: object, key: str) -> AlarmState:
    try:
        return AlarmState(str(value))
    except ValueError:
        raise BadInput(f"alarm field {key} must be ALARM, OK or INSUFFICIENT_DATA") from None


def _time(value: object) -> datetime:
    if not isinstance(value, str) or not value:
        raise BadInput("alarm field StateChangeTime is missing")
    text = value.replace("Z", "+00:00")
    # CloudWatch writes +0000; fromisoformat wants +00:00 before Python 3.11's relaxed parser sees it.
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"alarm field StateChangeTime is not a timestamp: {value[:40]}") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _unit(value: object) -> str | None:
    if value in (None, "", "None"):
        return None
    return str(value)


def _dimensions(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise BadInput("alarm field Trigger.Dimensions must be a list")
    dims: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict):
            raise BadInput("alarm field Trigger.Dimensions must hold objects")
        name = item.get("name", item.get("Name"))
        val = item.get("value", item.get("Value"))
        if isinstance(name, str):
            dims[name] = "" if val is None else str(val)
    return dims


def _treat_missing(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.startswith("-"):
        text = text.split(":", 1)[-1]
    return text.strip() or None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _metric_query(item: dict[str, Any]) -> MetricQuery:
    stat = _object(item.get("MetricStat"))
    metric = _object(stat.get("Metric"))
    return MetricQuery(
        id=str(item.get("Id", "")),
        expression=_str(item.get("Expression")),
        metric_name=_str(metric.get("MetricName")),
        namespace=_str(metric.get("Namespace")),
        stat=_str(stat.get("Stat")),
        label=_str(item.get("Label")),
        return_data=bool(item.get("ReturnData", False)),
    )


def _child(item: dict[str, Any]) -> TriggeringChild:
    state = _object(item.get("State"))
    return TriggeringChild(
        arn=str(item.get("Arn", "")),
        state=str(state.get("Value", "")),
        timestamp=_str(state.get("Timestamp")),
    )


def _arn_region(arn: str) -> str:
    match = _ARN_REGION.match(arn)
    return match.group(1) if match else ""


def _observed_value(reason: str) -> float | None:
    """The first datapoint CloudWatch quotes in the reason, e.g. `[1234.0 (06/03/15 17:43:27)]`."""
    match = _DATAPOINT.search(reason)
    if not match:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None
