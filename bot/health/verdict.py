"""The guide's pipeline health formula (section 6 Q2), signal by signal, from one metrics fetch.

    Green  = lag<10K && dlq_rate<10 && checkpoint_success=100% && p99<5s && completeness>95%
    Yellow = lag 10-50K || dlq_rate 10-100 || p99 3-5s || completeness 90-95%
    Red    = lag>50K || dlq_rate>100 || checkpoint_fail || p99>5s || completeness<90%

Each signal gets its own colour (red checked first, then yellow; so a p99 of 4 s is yellow although it is
under 5 s), its value at `at`, and its trend over the last 15 minutes. The verdict is the worst colour; a signal
without data is `unknown` and makes the verdict at best yellow (all five must be green to call it healthy).
Values: lag = newest per-minute Maximum of MSK's `SumOffsetLag` (`AWS/Kafka`, the job's consumer group on
`orders.raw`, see `bot.platform_metrics`; locally simulated under the same name); DLQ rate = newest per-minute Sum of
`DLQRecordCount`; checkpoint success = completed / (completed + failed) over the last 5 minutes (the
CheckpointFailure alarm's window); P99 = newest per-minute p99 of `ProcessingLatency`; completeness = newest
5-minute Average of `WindowCompleteness`. To add a signal, add its queries to `QUERIES` and a `_SignalRule`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot import platform_metrics as aws
from bot.health.ports import MetricQuery, MetricSource, Series
from bot.presentation import mrkdwn as md

TREND_SPAN = timedelta(minutes=15)
CHECKPOINT_SPAN = timedelta(minutes=5)
FLAT_WITHIN = 0.10  # a change under 10 % of the level (or of the threshold) is flat


class Colour(StrEnum):
    """A signal's or the pipeline's state."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"  # no datapoint in the last 15 minutes (signals only)


QUERIES = (
    MetricQuery("lag", aws.CONSUMER_LAG_METRIC, "Maximum", namespace=aws.KAFKA_NAMESPACE,
                dimensions=aws.CONSUMER_LAG_DIMENSIONS),
    MetricQuery("dlq", "DLQRecordCount", "Sum"),
    MetricQuery("ckpt_ok", "checkpoint_completed_total", "Sum"),
    MetricQuery("ckpt_failed", "checkpoint_failures_total", "Sum"),
    MetricQuery("p99", "ProcessingLatency", "p99"),
    MetricQuery("completeness", "WindowCompleteness", "Average", period=300),
)


@dataclass(frozen=True, slots=True)
class Signal:
    """One of the five signals: value (None without data), the guide's thresholds, colour and trend."""

    name: str
    value: float | None
    threshold: str
    status: Colour
    trend: str  # rising | falling | flat | unknown
    unit: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `incident-bot health --json`."""
        return {"name": self.name, "value": None if self.value is None else round(self.value, 2),
                "threshold": self.threshold, "status": str(self.status), "trend": self.trend, "unit": self.unit}

    @property
    def text(self) -> str:
        """`dlq_rate 152 /min (red: green < 10, red > 100), rising`."""
        shown = "no data" if self.value is None else f"{_number(self.value)} {self.unit}".strip()
        return f"{self.name} {shown} ({self.status}: {self.threshold}), {self.trend}"


def _number(value: float) -> str:
    """`152`, `12,500`, `96.8` (one decimal below 1,000 unless whole: 99.6 % must not read as 100 %)."""
    if value == int(value) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


@dataclass(frozen=True, slots=True)
class Health:
    """The verdict at `at` and the five signals behind it."""

    status: Colour
    at: datetime
    signals: tuple[Signal, ...]

    @property
    def culprits(self) -> tuple[Signal, ...]:
        """The signals that made the verdict what it is (none when green)."""
        if self.status is Colour.GREEN:
            return ()
        worst = {Colour.RED} if self.status is Colour.RED else {Colour.YELLOW, Colour.UNKNOWN}
        return tuple(s for s in self.signals if s.status in worst)

    @property
    def summary(self) -> str:
        """One line: the colour and the signals that set it."""
        if self.status is Colour.GREEN:
            return "green: all five signals green"
        return f"{self.status}: " + "; ".join(s.text for s in self.culprits)

    def as_dict(self) -> dict[str, Any]:
        """`{"status", "at", "summary", "signals": [...]}`."""
        return {"status": str(self.status), "at": self.at.isoformat().replace("+00:00", "Z"),
                "summary": self.summary, "signals": [s.as_dict() for s in self.signals]}


@dataclass(frozen=True, slots=True)
class _SignalRule:
    name: str
    unit: str
    threshold: str
    colour: Callable[[float], Colour]
    value: Callable[[Mapping[str, Series], datetime], float | None]
    history: Callable[[Mapping[str, Series]], list[float]]
    scale: float  # what "a 10 % change" is measured against when the level is near 0


def _lag(v: float) -> Colour:
    return Colour.RED if v > 50_000 else Colour.YELLOW if v >= 10_000 else Colour.GREEN


def _dlq(v: float) -> Colour:
    return Colour.RED if v > 100 else Colour.YELLOW if v >= 10 else Colour.GREEN


def _checkpoints(v: float) -> Colour:
    return Colour.GREEN if v >= 100 else Colour.RED


def _p99(v: float) -> Colour:
    return Colour.RED if v > 5000 else Colour.YELLOW if v >= 3000 else Colour.GREEN


def _completeness(v: float) -> Colour:
    return Colour.RED if v < 90 else Colour.YELLOW if v <= 95 else Colour.GREEN


def _newest(key: str) -> Callable[[Mapping[str, Series], datetime], float | None]:
    def newest(data: Mapping[str, Series], at: datetime) -> float | None:
        points = data.get(key) or []
        return points[-1][1] if points else None

    return newest


def _values(key: str) -> Callable[[Mapping[str, Series]], list[float]]:
    return lambda data: [v for _, v in data.get(key) or []]


def _success(data: Mapping[str, Series], at: datetime) -> float | None:
    since = at - CHECKPOINT_SPAN
    ok = sum(v for t, v in data.get("ckpt_ok") or [] if t >= since)
    failed = sum(v for t, v in data.get("ckpt_failed") or [] if t >= since)
    if not ok and not failed:
        return None
    return 100.0 * ok / (ok + failed)


def _success_history(data: Mapping[str, Series]) -> list[float]:
    ok = dict(data.get("ckpt_ok") or [])
    failed = dict(data.get("ckpt_failed") or [])
    return [100.0 * ok.get(t, 0) / (ok.get(t, 0) + failed.get(t, 0))
            for t in sorted(set(ok) | set(failed)) if ok.get(t, 0) + failed.get(t, 0)]


RULES = (
    _SignalRule("lag", "records", "green < 10,000 · red > 50,000", _lag, _newest("lag"), _values("lag"), 10_000),
    _SignalRule("dlq_rate", "/min", "green < 10 · red > 100", _dlq, _newest("dlq"), _values("dlq"), 10),
    _SignalRule("checkpoint_success", "%", "green = 100 · red < 100", _checkpoints, _success, _success_history,
                100),
    _SignalRule("latency_p99", "ms", "green < 3,000 · red > 5,000", _p99, _newest("p99"), _values("p99"), 3000),
    _SignalRule("window_completeness", "%", "green > 95 · red < 90", _completeness, _newest("completeness"),
                _values("completeness"), 95),
)


def trend(values: list[float], scale: float) -> str:
    """`rising`, `falling` or `flat`: the mean of the newest third against the oldest third of the span."""
    if len(values) < 2:
        return "unknown"
    third = max(1, len(values) // 3)
    before, after = sum(values[:third]) / third, sum(values[-third:]) / third
    if abs(after - before) <= FLAT_WITHIN * max(abs(before), scale):
        return "flat"
    return "rising" if after > before else "falling"


def judge(data: Mapping[str, Series], *, at: datetime) -> Health:
    """The verdict from fetched series (`QUERIES` over the 15 minutes before `at`)."""
    signals = []
    for rule in RULES:
        value = rule.value(data, at)
        colour = Colour.UNKNOWN if value is None else rule.colour(value)
        signals.append(Signal(rule.name, value, rule.threshold, colour, trend(rule.history(data), rule.scale),
                              rule.unit))
    colours = {s.status for s in signals}
    status = (Colour.RED if Colour.RED in colours else
              Colour.YELLOW if colours & {Colour.YELLOW, Colour.UNKNOWN} else Colour.GREEN)
    return Health(status, at, tuple(signals))


async def assess(source: MetricSource, *, at: datetime | None = None, now: Callable[[], datetime]) -> Health:
    """Fetch the five signals in one call and judge them at `at` (default: the end of a replay, else now)."""
    end = at or await source.latest() or now()
    data = await source.fetch(QUERIES, start=end - TREND_SPAN, end=end)
    return judge(data, at=end)


def health_text(health: Health) -> str:
    """The verdict for Slack (mrkdwn): a headline and one line per signal."""
    icon = {Colour.GREEN: ":large_green_circle:", Colour.YELLOW: ":large_yellow_circle:",
            Colour.RED: ":red_circle:"}[health.status]
    lines = [f"{icon} *Pipeline health: {str(health.status).upper()}* (as of {health.at:%Y-%m-%d %H:%M} UTC)"]
    marks = {Colour.GREEN: "✅", Colour.YELLOW: "⚠️", Colour.RED: "❌", Colour.UNKNOWN: "❔"}
    for signal in health.signals:
        lines.append(f"{marks[signal.status]} {md.entities(signal.text)}")
    return "\n".join(lines)
