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
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from pipeline.emf import SeriesKey, Stat, read_metrics_dir

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
        points = series.get((spec.metric, tuple(sorted(spec.dimensions))))
        if not points:
            continue
        changes.extend(_evaluate_one(spec, points, first, last, prefix=prefix, region=region, account=account,
                                     initial_state=initial_state,
                                     configured_at=configured_at or _dt(first)))
    return sorted(changes, key=lambda c: (c.at, c.alarm_name))


def _evaluate_one(spec: AlarmSpec, points: Mapping[int, Stat], first: int, last: int, *, prefix: str,
                  region: str, account: str, initial_state: str, configured_at: datetime) -> list[StateChange]:
    values = period_values(spec, points)
    # From the metric's own first datapoint (the alarm exists once its metric does): a breaching alarm would
    # otherwise fire on the minutes before anything was sent at all. Evaluation runs on to the stream's end.
    own_first = max(first, min(points))
    changes: list[StateChange] = []
    for transition in transitions(spec, values, own_first, last, initial_state=initial_state):
        reason = _reason(spec, transition.window, values, transition.new_state)
        body = _body(spec, old=transition.old_state, new=transition.new_state, reason=reason, at=transition.at,
                     prefix=prefix, region=region, account=account, configured_at=configured_at)
        changes.append(StateChange(alarm_name(spec, prefix), transition.old_state, transition.new_state,
                                   transition.at, body, topic_arn(spec.severity, region=region, account=account)))
    return changes


def period_values(spec: AlarmSpec, points: Mapping[int, Stat]) -> dict[int, float]:
    """Per-minute `Stat`s merged into the alarm's period-aligned buckets, reduced to its statistic."""
    period_ms = spec.period * 1000
    buckets: dict[int, Stat] = {}
    for minute, stat in points.items():
        buckets.setdefault(minute - minute % period_ms, Stat()).merge(stat)
    return {start: stat.statistic(spec.statistic) for start, stat in buckets.items()}


@dataclass(frozen=True, slots=True)
class Transition:
    """A change into or out of ALARM: `window` holds the evaluated bucket starts, most recent first."""

    at: datetime
    old_state: str
    new_state: str
    window: tuple[int, ...]


def transitions(spec: AlarmSpec, values: Mapping[int, float], first_ms: int, last_ms: int, *,
                initial_state: str = "OK") -> Iterator[Transition]:
    """CloudWatch's rule replayed: one evaluation per period whose bucket starts in [first_ms, last_ms], each
    looking at the last `EvaluationPeriods` buckets of `values` (period start ms → statistic); yields the changes
    into or out of ALARM, stamped at the end of the evaluated period. The one evaluator (alarms, backtests)."""
    period_ms = spec.period * 1000
    n, m, treat = spec.evaluation_periods, spec.datapoints_to_alarm, spec.treat_missing_data
    breach = _comparator(spec)
    state = initial_state
    start = first_ms - first_ms % period_ms
    offsets = [i * period_ms for i in range(n)]
    while start <= last_ms:
        new_state = _state_after([values.get(start - o) for o in offsets], state, m, treat, breach)
        if new_state != state and "ALARM" in (new_state, state):
            yield Transition(_dt(start + period_ms), state, new_state, tuple(start - o for o in offsets))
        state = new_state
        start += period_ms


def _state_after(window: list[float | None], state: str, m: int, treat: str,
                 breach: Callable[[float], bool]) -> str:
    """One evaluation of M out of N with TreatMissingData; `window` has None for a missing datapoint."""
    present = [v for v in window if v is not None]
    if not present:
        if treat == "ignore":
            return state
        if treat == "missing":
            return "INSUFFICIENT_DATA"
        return "ALARM" if treat == "breaching" and len(window) >= m else "OK"
    breaching = sum(1 for v in present if breach(v))
    if treat == "breaching":
        breaching += len(window) - len(present)
    return "ALARM" if breaching >= m else "OK"


def _comparator(spec: AlarmSpec) -> Callable[[float], bool]:
    threshold = spec.threshold
    comparisons: dict[str, Callable[[float], bool]] = {
        "GreaterThanThreshold": lambda v: v > threshold,
        "GreaterThanOrEqualToThreshold": lambda v: v >= threshold,
        "LessThanThreshold": lambda v: v < threshold,
        "LessThanOrEqualToThreshold": lambda v: v <= threshold,
    }
    if spec.comparison not in comparisons:
        raise ValueError(f"unsupported comparison {spec.comparison}")
    return comparisons[spec.comparison]


def breaches(spec: AlarmSpec, value: float) -> bool:
    """Whether one datapoint breaches the alarm's threshold."""
    return _comparator(spec)(value)


def _reason(spec: AlarmSpec, window: tuple[int, ...], values: Mapping[int, float], new: str) -> str:
    """CloudWatch's NewStateReason for the evaluation that moved the alarm to `new`."""
    present = [(t, values[t]) for t in window if t in values]
    treat = spec.treat_missing_data
    n = len(window)
    if not present:
        if treat == "missing":
            return f"Insufficient Data: {n} datapoint{'s were' if n > 1 else ' was'} unknown."
        label = "Breaching" if treat == "breaching" else "NonBreaching"
        plural = n > 1
        return (f"Threshold Crossed: no datapoints were received for {n} "
                f"period{'s' if plural else ''} and {n} missing "
                f"datapoint{'s were' if plural else ' was'} treated as [{label}].")
    breaching = sum(1 for _, v in present if breaches(spec, v))
    if treat == "breaching":
        breaching += n - len(present)
    listed = ", ".join(f"{float(v)} ({_dt(t).strftime('%d/%m/%y %H:%M:%S')})" for t, v in present)
    words = _WORDS[spec.comparison]
    if new == "ALARM":
        m = spec.datapoints_to_alarm
        return (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{listed}] was {words} the "
                f"threshold ({float(spec.threshold)}) (minimum {m} datapoint{'s' if m > 1 else ''} "
                f"for OK -> ALARM transition).")
    ok_needed = n - spec.datapoints_to_alarm + 1
    return (f"Threshold Crossed: {n - breaching} out of the last {n} datapoints [{listed}] was not {words} "
            f"the threshold ({float(spec.threshold)}) (minimum {ok_needed} "
            f"datapoint{'s' if ok_needed > 1 else ''} for ALARM -> OK transition).")


def _body(spec: AlarmSpec, *, old: str, new: str, reason: str, at: datetime, prefix: str, region: str,
          account: str, configured_at: datetime) -> dict[str, Any]:
    """The alarm notification exactly as CloudWatch lays it out."""
    name = alarm_name(spec, prefix)
    topic = topic_arn(spec.severity, region=region, account=account)
    trigger: dict[str, Any] = {"MetricName": spec.metric, "Namespace": spec.namespace}
    if spec.extended:
        trigger |= {"StatisticType": "ExtendedStatistic", "ExtendedStatistic": spec.statistic}
    else:  # CloudWatch's API enum: SUM, AVERAGE, SAMPLE_COUNT…
        trigger |= {"StatisticType": "Statistic",
                    "Statistic": "SAMPLE_COUNT" if spec.statistic == "SampleCount" else spec.statistic.upper()}
    trigger |= {
        "Unit": None,
        "Dimensions": [{"value": v, "name": k} for k, v in spec.dimensions],
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
