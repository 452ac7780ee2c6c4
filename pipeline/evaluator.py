"""Local alarm evaluation: CloudWatch's part, played on a job's `DIR/metrics/` stream.

`evaluate` applies `AlarmSpec`s with CloudWatch's semantics: datapoints aggregated per period (period-aligned
buckets, the alarm's statistic), the last `EvaluationPeriods` datapoints inspected after each period closes,
ALARM when at least `DatapointsToAlarm` breach, missing datapoints treated per `TreatMissingData`
(notBreaching, breaching, ignore, missing). Each change into or out of ALARM becomes a `StateChange` whose
`body` is what CloudWatch would publish to SNS, and `deliver` POSTs them as signed SNS Notifications.
Alarms on metrics the stream never mentions are skipped (a run without canaries has no heartbeat to miss).
To support another statistic, extend `metrics.Stat.statistic`.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.alarms.context import REGION_NAMES
from bot.sns.signing import SnsSigner
from bot.sns.signing import body as envelope_body
from pipeline.alarms import (
    ALARMS,
    DEFAULT_ACCOUNT,
    DEFAULT_PREFIX,
    AlarmSpec,
    alarm_name,
    description,
    topic_arn,
)
from pipeline.emf import NAMESPACE, SeriesKey, Stat, read_metrics_dir

_WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass(frozen=True, slots=True)
class StateChange:
    """One alarm state change: when, from what to what, and the CloudWatch body SNS would carry."""

    alarm_name: str
    old_state: str
    new_state: str
    at: datetime
    body: dict[str, Any]
    topic_arn: str

    @property
    def subject(self) -> str:
        """The SNS Subject CloudWatch writes, e.g. `ALARM: "name" in US East (N. Virginia)`."""
        return f'{self.new_state}: "{self.alarm_name}" in {self.body["Region"]}'


def evaluate(out_dir: Path | str, alarms: Iterable[AlarmSpec] = ALARMS, **options: Any) -> list[StateChange]:
    """Evaluate `alarms` on a job's `out_dir/metrics/`; changes in time order (see `evaluate_series`)."""
    return evaluate_series(read_metrics_dir(Path(out_dir) / "metrics"), alarms, **options)


def evaluate_series(
    series: Mapping[SeriesKey, Mapping[int, Stat]],
    alarms: Iterable[AlarmSpec] = ALARMS,
    *,
    prefix: str = DEFAULT_PREFIX,
    region: str = "us-east-1",
    account: str = DEFAULT_ACCOUNT,
    initial_state: str = "OK",
    configured_at: datetime | None = None,
) -> list[StateChange]:
    """Evaluate on merged per-minute datapoints (`emf.read_metrics_dir`); the timeline spans all metrics."""
    minutes = [m for points in series.values() for m in points]
    if not minutes:
        return []
    first, last = min(minutes), max(minutes)
    changes: list[StateChange] = []
    for spec in alarms:
        points = series.get((spec.metric, ()))
        if not points:
            continue
        changes.extend(_evaluate_one(spec, points, first, last, prefix=prefix, region=region, account=account,
                                     initial_state=initial_state,
                                     configured_at=configured_at or _dt(first)))
    return sorted(changes, key=lambda c: (c.at, c.alarm_name))


def _evaluate_one(spec: AlarmSpec, points: Mapping[int, Stat], first: int, last: int, *, prefix: str,
                  region: str, account: str, initial_state: str, configured_at: datetime) -> list[StateChange]:
    period_ms = spec.period * 1000
    buckets: dict[int, Stat] = {}
    for minute, stat in points.items():
        buckets.setdefault(minute - minute % period_ms, Stat()).merge(stat)
    values = {start: stat.statistic(spec.statistic) for start, stat in buckets.items()}
    state, changes = initial_state, []
    # From the metric's own first datapoint (the alarm exists once its metric does): a breaching alarm would
    # otherwise fire on the minutes before anything was sent at all. Evaluation runs on to the stream's end.
    own_first = max(first, min(points))
    start = own_first - own_first % period_ms
    while start <= last:
        window = [start - i * period_ms for i in range(spec.evaluation_periods)]  # most recent first
        new_state, reason = _decide(spec, window, values, state)
        if new_state != state and "ALARM" in (new_state, state):
            at = _dt(start + period_ms)
            body = _body(spec, old=state, new=new_state, reason=reason, at=at, prefix=prefix, region=region,
                         account=account, configured_at=configured_at)
            changes.append(StateChange(alarm_name(spec, prefix), state, new_state, at, body,
                                       topic_arn(spec.severity, region=region, account=account)))
        state = new_state
        start += period_ms
    return changes


def breaches(spec: AlarmSpec, value: float) -> bool:
    """Whether one datapoint breaches the alarm's threshold."""
    op, threshold = spec.comparison, spec.threshold
    if op == "GreaterThanThreshold":
        return value > threshold
    if op == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if op == "LessThanThreshold":
        return value < threshold
    if op == "LessThanOrEqualToThreshold":
        return value <= threshold
    raise ValueError(f"unsupported comparison {op}")


def _decide(spec: AlarmSpec, window: list[int], values: Mapping[int, float], state: str) -> tuple[str, str]:
    """The state after one evaluation and CloudWatch's reason for it."""
    present = [(t, values[t]) for t in window if t in values]
    missing = len(window) - len(present)
    treat = spec.treat_missing_data
    if not present:
        if treat in ("ignore",):
            return state, ""
        if treat == "missing":
            return "INSUFFICIENT_DATA", (f"Insufficient Data: {len(window)} datapoint"
                                         f"{'s were' if len(window) > 1 else ' was'} unknown.")
        label = "Breaching" if treat == "breaching" else "NonBreaching"
        new = "ALARM" if treat == "breaching" and len(window) >= spec.datapoints_to_alarm else "OK"
        plural = len(window) > 1
        return new, (f"Threshold Crossed: no datapoints were received for {len(window)} "
                     f"period{'s' if plural else ''} and {len(window)} missing "
                     f"datapoint{'s were' if plural else ' was'} treated as [{label}].")
    breaching = sum(1 for _, v in present if breaches(spec, v))
    if treat == "breaching":
        breaching += missing
    new = "ALARM" if breaching >= spec.datapoints_to_alarm else "OK"
    listed = ", ".join(f"{float(v)} ({_dt(t).strftime('%d/%m/%y %H:%M:%S')})" for t, v in present)
    words = _WORDS[spec.comparison]
    n = len(window)
    if new == "ALARM":
        m = spec.datapoints_to_alarm
        return new, (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{listed}] was {words} the "
                     f"threshold ({float(spec.threshold)}) (minimum {m} datapoint{'s' if m > 1 else ''} "
                     f"for OK -> ALARM transition).")
    ok_needed = n - spec.datapoints_to_alarm + 1
    return new, (f"Threshold Crossed: {n - breaching} out of the last {n} datapoints [{listed}] was not {words} "
                 f"the threshold ({float(spec.threshold)}) (minimum {ok_needed} "
                 f"datapoint{'s' if ok_needed > 1 else ''} for ALARM -> OK transition).")


def _body(spec: AlarmSpec, *, old: str, new: str, reason: str, at: datetime, prefix: str, region: str,
          account: str, configured_at: datetime) -> dict[str, Any]:
    """The alarm notification exactly as CloudWatch lays it out."""
    name = alarm_name(spec, prefix)
    topic = topic_arn(spec.severity, region=region, account=account)
    trigger: dict[str, Any] = {"MetricName": spec.metric, "Namespace": NAMESPACE}
    if spec.extended:
        trigger |= {"StatisticType": "ExtendedStatistic", "ExtendedStatistic": spec.statistic}
    else:
        trigger |= {"StatisticType": "Statistic", "Statistic": spec.statistic.upper()}
    trigger |= {
        "Unit": None,
        "Dimensions": [],
        "Period": spec.period,
        "EvaluationPeriods": spec.evaluation_periods,
        "DatapointsToAlarm": spec.datapoints_to_alarm,
        "ComparisonOperator": spec.comparison,
        "Threshold": float(spec.threshold),
        "TreatMissingData": spec.treat_missing_data,
        "EvaluateLowSampleCountPercentile": "evaluate" if spec.extended else "",
    }
    return {
        "AlarmName": name,
        "AlarmDescription": description(spec),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _cw_time(configured_at),
        "NewStateValue": new,
        "NewStateReason": reason,
        "StateChangeTime": _cw_time(at),
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        "OldStateValue": old,
        "OKActions": [topic],
        "AlarmActions": [topic],
        "InsufficientDataActions": [],
        "Trigger": trigger,
    }


def deliver(changes: Iterable[StateChange], url: str, signer: SnsSigner, *, timeout: float = 10.0) -> list[int]:
    """POST each change to `url` as a signed SNS Notification, in order; returns the HTTP statuses.

    Raises urllib.error.URLError when the bot cannot be reached; a non-2xx answer is returned, not raised.
    """
    statuses = []
    for change in changes:
        envelope = signer.notification(topic_arn=change.topic_arn, message=json.dumps(change.body),
                                       subject=change.subject)
        request = urllib.request.Request(url, data=envelope_body(envelope), method="POST", headers={  # noqa: S310
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": str(envelope["MessageId"]),
            "x-amz-sns-topic-arn": change.topic_arn,
            "User-Agent": "Amazon Simple Notification Service Agent",
        })
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL is the operator's
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    return statuses


def _dt(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _cw_time(moment: datetime) -> str:
    """CloudWatch's `2015-06-03T17:43:27.123+0000`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
