"""The variables a runbook template renders with, built from one `AlarmEvent`.

`alarm_context` returns plain JSON-serialisable data (dicts, lists, strings, numbers, None) so a context
can be stored on the incident and rendered again later. Every value that can be missing comes twice: raw
(`threshold`, may be None, for `{% if %}`) and as text that always reads well (`threshold_text`, e.g.
"n/a (composite alarm)"). To add a variable: add it here with a sensible text form for every `AlarmKind`, then
use it in a runbook; `incident-bot lint` renders every runbook against every kind, so a gap shows up there.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.alarms.models import AlarmEvent, AlarmKind, AlarmState
from bot.alarms.severity import Severity

# Current console names first; the older wordings real alarm bodies carry map to the same code.
REGION_NAMES: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (São Paulo)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "me-south-1": "Middle East (Bahrain)",
    "af-south-1": "Africa (Cape Town)",
}
_OLD_REGION_NAMES = {
    "US - N. Virginia": "us-east-1",
    "US - Ohio": "us-east-2",
    "US - N. California": "us-west-1",
    "US - Oregon": "us-west-2",
    "EU - Ireland": "eu-west-1",
    "EU - Frankfurt": "eu-central-1",
    "Europe (Ireland)": "eu-west-1",
    "Europe (London)": "eu-west-2",
    "Europe (Paris)": "eu-west-3",
    "Europe (Frankfurt)": "eu-central-1",
    "Europe (Stockholm)": "eu-north-1",
    "Europe (Milan)": "eu-south-1",
    "Asia Pacific - Singapore": "ap-southeast-1",
    "Asia Pacific - Sydney": "ap-southeast-2",
    "Asia Pacific - Tokyo": "ap-northeast-1",
}
_CODE_BY_NAME = {name.casefold(): code for code, name in REGION_NAMES.items()} | {
    name.casefold(): code for name, code in _OLD_REGION_NAMES.items()
}
_KIND_LABELS = {
    AlarmKind.METRIC: "metric alarm",
    AlarmKind.METRIC_MATH: "metric math alarm",
    AlarmKind.ANOMALY_DETECTION: "anomaly detection alarm",
    AlarmKind.COMPOSITE: "composite alarm",
}
# Logs around the alarm window: causes precede the alarm, and what happened right after matters for triage.
LOGS_MARGIN = timedelta(minutes=15)


def alarm_context(
    event: AlarmEvent,
    *,
    severity: Severity,
    incident_id: int | None = None,
    channel: str | None = None,
    dashboard: str = "Health",
    dashboard_prefix: str = "orders-pipeline",
    runbook_url: str = "",
    log_groups: Sequence[str] = ("/orders-pipeline/flink",),
    default_region: str = "us-east-1",
) -> dict[str, Any]:
    """Everything a runbook may use about `event`; never raises for missing alarm fields."""
    region = region_code(event, default=default_region)
    end = event.state_change_time
    start = end - event.evaluation_window
    composite = event.kind is AlarmKind.COMPOSITE
    console = f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
    return {
        "alarm": {
            "name": _inert(event.alarm_name),
            "arn": event.alarm_arn,
            "description": _inert(event.description),
            "kind": event.kind.value,
            "kind_label": _KIND_LABELS[event.kind],
            "is_composite": composite,
            "state": event.new_state.value,
            "old_state": event.old_state.value if event.old_state else "unknown",
            "firing": event.new_state is AlarmState.ALARM,
            "reason": _inert(event.reason) or "(CloudWatch gave no reason)",
            "rule": event.alarm_rule or "",
            "children": [
                {
                    "name": child.arn.rsplit(":", 1)[-1] if child.arn else "(unnamed)",
                    "arn": child.arn,
                    "state": child.state or "unknown",
                    "timestamp": child.timestamp or "",
                }
                for child in event.triggering_children
            ],
        },
        "metric": _metric(event),
        "comparison": event.comparison or ("n/a" if composite else "?"),
        "threshold": event.threshold,
        "threshold_text": _threshold_text(event),
        "observed": event.observed_value,
        "observed_text": "unknown" if event.observed_value is None else number(event.observed_value),
        "condition_text": _condition_text(event),
        "period": event.period,
        "period_text": "n/a" if event.period is None else duration_text(event.period),
        "evaluation_periods": event.evaluation_periods,
        "datapoints_to_alarm": event.datapoints_to_alarm,
        "treat_missing_data": event.treat_missing_data or "missing",
        "window": _window(start, end),
        "region": region,
        "region_name": region_long_name(event, region),
        "account": event.account_id or "unknown",
        "severity": severity.value,
        "incident_id": incident_id,
        "incident_ref": "(not opened yet)" if incident_id is None else f"#{incident_id}",
        "channel": channel or "",
        "log_groups": list(log_groups),
        "dashboard": dashboard,
        "links": {
            "alarm": f"{console}#alarmsV2:alarm/{quote(event.alarm_name, safe='')}",
            "dashboard": f"{console}#dashboards:name={dashboard_prefix}-{dashboard}",
            "logs_insights": logs_insights_url(
                region, start=start - LOGS_MARGIN, end=end + LOGS_MARGIN, log_groups=log_groups
            ),
            "runbook": runbook_url,
        },
    }


def region_code(event: AlarmEvent, *, default: str = "us-east-1") -> str:
    """The region code: from the ARN, else from the long name CloudWatch wrote, else `default`."""
    if event.region:
        return event.region
    return _CODE_BY_NAME.get(event.region_name.strip().casefold(), default)


def region_long_name(event: AlarmEvent, code: str) -> str:
    """The long region name people read; the body's own wording when it names a real region."""
    if event.region_name.strip().casefold() in _CODE_BY_NAME:
        return event.region_name.strip()
    return REGION_NAMES.get(code, code)


def number(value: float) -> str:
    """`1234.0` → `1,234`, `0.5` → `0.5`, `99.456` → `99.46`: how a person writes a metric value."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def duration_text(seconds: float) -> str:
    """`60` → `1 min`, `90` → `90 s`, `3600` → `1 h`, `300` → `5 min`."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{number(seconds)} s"


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and `Z`, the form CloudWatch consoles and APIs accept."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def logs_insights_url(
    region: str, *, start: datetime, end: datetime, log_groups: Sequence[str], query: str = ""
) -> str:
    """A CloudWatch Logs Insights console link with the query, log groups and absolute time range filled in.

    The console reads `queryDetail` as JSURL (`~(key~value)`, strings `'`-prefixed with every character but
    `[A-Za-z0-9_.-]` written `*hh`), JS-`escape()`d, then percent-encoded once more with `$` for `%`.
    """
    detail = _jsurl(
        {
            "end": iso(end),
            "start": iso(start),
            "timeType": "ABSOLUTE",
            "tz": "UTC",
            "editorString": query,
            "isLiveTail": False,
            "source": list(log_groups),
        }
    )
    # Python's quote never escapes `~`; JS escape() and the console do.
    fragment = "?queryDetail=" + quote(detail, safe="@*_+-./").replace("~", "%7E")
    encoded = quote(fragment, safe="-_.!*'()").replace("%", "$")
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:logs-insights{encoded}"


def _jsurl(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "'" + _JSURL_UNSAFE.sub(lambda found: _jsurl_char(found.group()), value)
    if isinstance(value, list):
        return "(" + "".join("~" + _jsurl(item) for item in value) + ")"
    if isinstance(value, dict):
        return "~(" + "~".join(f"{key}~{_jsurl(item)}" for key, item in value.items()) + ")"
    raise TypeError(f"cannot encode {type(value).__name__} for a console link")


_JSURL_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")  # a regex pass: each runbook render encodes several queries


@functools.lru_cache(maxsize=512)
def _jsurl_char(ch: str) -> str:
    if ch.isascii() and (ch.isalnum() or ch in "-_."):
        return ch
    if ch == "$":
        return "!"
    if ord(ch) < 0x100:
        return f"*{ord(ch):02x}"
    units = ch.encode("utf-16-be")  # JS strings are UTF-16: astral characters are two code units
    return "".join(f"**{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def _metric(event: AlarmEvent) -> dict[str, Any]:
    composite = event.kind is AlarmKind.COMPOSITE
    first = next((q for q in event.metrics if q.metric_name), None)
    name = event.metric_name or (first.metric_name if first else None) or ""
    dims = dict(event.dimensions)
    return {
        "name": name,
        "label": name or ("n/a (composite alarm)" if composite else event.subject_metric),
        "namespace": event.namespace or (first.namespace if first and first.namespace else ""),
        "statistic": event.statistic or (first.stat if first and first.stat else ""),
        "unit": event.unit or "",
        "dimensions": dims,
        "dimensions_text": _inert(", ".join(f"{k}={v}" for k, v in dims.items())) or "none",
        "expressions": [
            {"id": q.id, "expression": q.expression or "", "label": q.label or q.id}
            for q in event.metrics
            if q.expression
        ],
    }


def _threshold_text(event: AlarmEvent) -> str:
    if event.kind is AlarmKind.COMPOSITE:
        return "n/a (composite alarm)"
    if event.kind is AlarmKind.ANOMALY_DETECTION:
        return f"the anomaly band ({event.threshold_metric_id})"
    return "unknown" if event.threshold is None else number(event.threshold)


def _condition_text(event: AlarmEvent) -> str:
    """One phrase: what crossed what, e.g. `DLQRecordCount = 152 > 100 (Sum per 1 min, 2 of 2 periods)`."""
    if event.kind is AlarmKind.COMPOSITE:
        return f"rule {event.alarm_rule}" if event.alarm_rule else "composite rule (not given)"
    observed = "unknown" if event.observed_value is None else number(event.observed_value)
    limit = (
        f"({event.threshold_metric_id})"  # the comparison already says "band"
        if event.kind is AlarmKind.ANOMALY_DETECTION
        else _threshold_text(event)
    )
    head = f"{event.subject_metric} = {observed} {event.comparison or '?'} {limit}"
    details = []
    if event.statistic:
        details.append(event.statistic)
    if event.period:
        details.append(f"per {duration_text(event.period)}")
    if event.evaluation_periods:
        needed = event.datapoints_to_alarm or event.evaluation_periods
        details.append(f"{needed} of {event.evaluation_periods} periods")
    return f"{head} ({', '.join(details)})" if details else head


def _window(start: datetime, end: datetime) -> dict[str, Any]:
    minutes = max(1, round((end - start).total_seconds() / 60))
    same_day = start.date() == end.date()
    return {
        "start": iso(start),
        "end": iso(end),
        "start_human": start.strftime("%Y-%m-%d %H:%M UTC"),
        "end_human": end.strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": minutes,
        "text": (
            f"{start:%H:%M}–{end:%H:%M} UTC on {end:%Y-%m-%d} ({minutes} min)"
            if same_day
            else f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} UTC ({minutes} min)"
        ),
    }


def _inert(text: str | None) -> str:
    """Outside text for a Markdown runbook: it can neither open a code span nor form a `[text](url)` link (the
    mrkdwn conversion escapes `&`, `<`, `>` itself)."""
    return (text or "").replace("`", "ˋ").replace("](", "]\u200b(").replace("\n", " ")
