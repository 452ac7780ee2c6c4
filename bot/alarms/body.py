"""The CloudWatch alarm notification body as pydantic models: every field checked once, at the boundary.

Identifying fields are refused when they cannot be what CloudWatch sends (a name over 255 characters, a time
outside 2000–2099 or more than a day ahead, a period of 10^19 seconds): the delivery gets a 400 with the field
named, once, instead of failing later in the database or on the page. Free text (description, reason, rule) is
clamped to a length Slack and PagerDuty can carry. Field quirks of real bodies are tolerated here and nowhere
else: `+0000` offsets, `null`/`""` for absent values, `Unit: "None"`, the `"- TreatMissingData: missing"`
spelling, `{"value", "name"}` dimensions in either case. Unknown fields are kept (the body is stored as it came).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.errors import BadInput

# CloudWatch's own limits are 255 for names, 1024 for descriptions, 1023 for reasons and 10240 for rules; free
# text is clamped a little above them, identifiers are refused above what the database columns hold.
NAME_MAX, ARN_MAX, TEXT_MAX, RULE_MAX = 255, 1024, 4096, 10240
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
PERIOD_MAX = 366 * 86400  # CloudWatch periods are at most a day; a year leaves room and no overflow
COUNT_MAX = 100_000
FUTURE_SKEW = timedelta(days=1)  # clocks disagree a little; CloudWatch never reports a change a day ahead


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


def _absent(value: Any) -> Any:
    """CloudWatch writes absent values as null or ""."""
    return None if value == "" else value


def _clamp(limit: int) -> AfterValidator:
    return AfterValidator(lambda text: text if text is None or len(text) <= limit else text[: limit - 1] + "…")


def _loose_text(value: Any) -> Any:
    """Inside metric queries and children, anything that is not a string reads as absent (as before)."""
    return value if isinstance(value, str) and value else None


def _no_controls(text: str) -> str:
    if any(ord(ch) < 32 for ch in text):
        raise ValueError("must not contain control characters")
    if not text.strip():
        raise ValueError("is empty")
    return text


def _timestamp(value: Any) -> datetime:
    if value is None or value == "":
        raise ValueError("is missing")
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.replace("Z", "+00:00")
    # CloudWatch writes +0000; fromisoformat wants +00:00.
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"is not a timestamp: {value[:40]!r}") from None
    try:
        moment = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError(f"is out of range: {value[:40]!r}") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"is out of range (2000–2099): {value[:40]!r}")
    if moment > datetime.now(UTC) + FUTURE_SKEW:
        # Accepted, a future time would make every real change of this alarm look older ("stale") until then.
        raise ValueError(f"is in the future: {value[:40]!r}")
    return moment


def _unit(value: Any) -> Any:
    return None if value in (None, "", "None") else value


def _treat_missing(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.startswith("-"):
        text = text.split(":", 1)[-1]
    return text.strip() or None


OptText = Annotated[str | None, BeforeValidator(_absent), _clamp(TEXT_MAX)]
OptName = Annotated[str | None, BeforeValidator(_absent), _clamp(NAME_MAX)]
LooseName = Annotated[str | None, BeforeValidator(_loose_text), _clamp(NAME_MAX)]
Count = Annotated[Annotated[int, Field(ge=1, le=COUNT_MAX)] | None, BeforeValidator(_absent)]
Period = Annotated[Annotated[int, Field(ge=1, le=PERIOD_MAX)] | None, BeforeValidator(_absent)]
OptState = Annotated[AlarmState | None, BeforeValidator(_absent)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class MetricStatMetric(_Model):
    metric_name: LooseName = Field(default=None, alias="MetricName")
    namespace: LooseName = Field(default=None, alias="Namespace")


class MetricStat(_Model):
    metric: Annotated[MetricStatMetric, BeforeValidator(lambda v: v if isinstance(v, dict) else {})] = Field(
        default_factory=MetricStatMetric, alias="Metric")
    stat: LooseName = Field(default=None, alias="Stat")


class MetricQueryBody(_Model):
    """One entry of `Trigger.Metrics` (metric math and anomaly detection)."""

    id: Annotated[str, BeforeValidator(lambda v: "" if v is None else str(v)[:NAME_MAX])] = Field(
        default="", alias="Id")
    expression: Annotated[str | None, BeforeValidator(_loose_text), _clamp(TEXT_MAX)] = Field(
        default=None, alias="Expression")
    label: LooseName = Field(default=None, alias="Label")
    return_data: Annotated[bool, BeforeValidator(bool)] = Field(default=False, alias="ReturnData")
    metric_stat: Annotated[MetricStat, BeforeValidator(lambda v: v if isinstance(v, dict) else {})] = Field(
        default_factory=MetricStat, alias="MetricStat")


def _dimensions(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ValueError("must be a list")
    dims: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict):
            raise ValueError("must hold objects")
        name = item.get("name", item.get("Name"))
        val = item.get("value", item.get("Value"))
        if isinstance(name, str):
            dims[name[:NAME_MAX]] = "" if val is None else str(val)[:NAME_MAX]
    return dims


class Trigger(_Model):
    """`Trigger`: what a metric, metric-math or anomaly-detection alarm watches."""

    metric_name: OptName = Field(default=None, alias="MetricName")
    namespace: OptName = Field(default=None, alias="Namespace")
    statistic: OptName = Field(default=None, alias="Statistic")
    extended_statistic: OptName = Field(default=None, alias="ExtendedStatistic")
    unit: Annotated[str | None, BeforeValidator(_unit), _clamp(NAME_MAX)] = Field(default=None, alias="Unit")
    dimensions: Annotated[dict[str, str], BeforeValidator(_dimensions)] = Field(
        default_factory=dict, alias="Dimensions")
    period: Period = Field(default=None, alias="Period")
    evaluation_periods: Count = Field(default=None, alias="EvaluationPeriods")
    datapoints_to_alarm: Count = Field(default=None, alias="DatapointsToAlarm")
    comparison_operator: OptName = Field(default=None, alias="ComparisonOperator")
    threshold: Annotated[Annotated[float, Field(allow_inf_nan=False)] | None,
                         BeforeValidator(lambda v: None if v == "" or isinstance(v, bool) else v)] = Field(
        default=None, alias="Threshold")
    treat_missing_data: Annotated[str | None, BeforeValidator(_treat_missing), _clamp(NAME_MAX)] = Field(
        default=None, alias="TreatMissingData")
    metrics: list[MetricQueryBody] | None = Field(default=None, alias="Metrics")
    threshold_metric_id: OptName = Field(default=None, alias="ThresholdMetricId")


class ChildState(_Model):
    value: LooseName = Field(default=None, alias="Value")
    timestamp: LooseName = Field(default=None, alias="Timestamp")


class ChildBody(_Model):
    """A child alarm that moved a composite alarm."""

    arn: Annotated[str, BeforeValidator(lambda v: "" if v is None else str(v)[:ARN_MAX])] = Field(
        default="", alias="Arn")
    state: Annotated[ChildState, BeforeValidator(lambda v: v if isinstance(v, dict) else {})] = Field(
        default_factory=ChildState, alias="State")


class AlarmBody(_Model):
    """A CloudWatch alarm state-change notification (the SNS `Message`), whatever the alarm's kind."""

    alarm_name: Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(_no_controls)] = Field(
        alias="AlarmName")
    alarm_description: OptText = Field(default=None, alias="AlarmDescription")
    account_id: OptName = Field(default=None, alias="AWSAccountId")
    new_state: AlarmState = Field(alias="NewStateValue")
    old_state: OptState = Field(default=None, alias="OldStateValue")
    reason: OptText = Field(default=None, alias="NewStateReason")
    state_change_time: Annotated[datetime, BeforeValidator(_timestamp)] = Field(alias="StateChangeTime")
    region_name: OptName = Field(default=None, alias="Region")
    alarm_arn: Annotated[Annotated[str, Field(max_length=ARN_MAX)] | None, BeforeValidator(_absent)] = Field(
        default=None, alias="AlarmArn")
    trigger: Trigger | None = Field(default=None, alias="Trigger")
    alarm_rule: Annotated[str | None, BeforeValidator(_absent), _clamp(RULE_MAX)] = Field(
        default=None, alias="AlarmRule")
    triggering_children: list[ChildBody] | None = Field(default=None, alias="TriggeringChildren")


def parse_body(body: dict[str, Any]) -> AlarmBody:
    """Validate a decoded alarm body; raises BadInput naming the first malformed field."""
    try:
        return AlarmBody.model_validate(body)
    except ValidationError as exc:
        raise BadInput(_reason(exc)) from None


_STATE_FIELDS = {"NewStateValue", "OldStateValue"}


def _reason(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"alarm field {key} is missing"
    if key in _STATE_FIELDS and kind == "enum":
        return f"alarm field {key} must be ALARM, OK or INSUFFICIENT_DATA"
    if kind == "string_type":
        return f"alarm field {key} must be a string"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"alarm field {key} must be an object"
    if kind == "list_type":
        return f"alarm field {key} must be a list of objects"
    message = str(error["msg"]).removeprefix("Value error, ")
    return " ".join(f"alarm field {key}: {message}".split())[:300]
