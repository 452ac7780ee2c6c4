"""The guide's health formula, signal by signal, and the verdict's colour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.health.ports import Series
from bot.health.verdict import Colour, judge, trend

AT = datetime(2026, 11, 25, 10, 15, tzinfo=UTC)


def _flat(value: float, minutes: int = 15, period: int = 1) -> Series:
    return [(AT - timedelta(minutes=minutes - i), value) for i in range(0, minutes, period)]


def _data(**values: float) -> dict[str, Series]:
    healthy = {"lag": 900.0, "dlq": 2.0, "ckpt_ok": 6.0, "ckpt_failed": 0.0, "p99": 150.0, "completeness": 99.5}
    healthy.update(values)
    return {key: _flat(v, period=5 if key == "completeness" else 1) for key, v in healthy.items()}


def _status(**values: float) -> dict[str, str]:
    return {s.name: str(s.status) for s in judge(_data(**values), at=AT).signals}


def test_all_five_green_is_green() -> None:
    """Lag < 10K, DLQ < 10/min, every checkpoint completed, P99 < 3 s, completeness > 95 %: green."""
    health = judge(_data(), at=AT)
    assert health.status is Colour.GREEN and health.summary == "green: all five signals green"


@pytest.mark.parametrize(("signal", "key", "value", "colour"), [
    ("lag", "lag", 9_999, "green"), ("lag", "lag", 10_000, "yellow"), ("lag", "lag", 50_000, "yellow"),
    ("lag", "lag", 50_001, "red"),
    ("dlq_rate", "dlq", 9, "green"), ("dlq_rate", "dlq", 10, "yellow"), ("dlq_rate", "dlq", 100, "yellow"),
    ("dlq_rate", "dlq", 101, "red"),
    ("latency_p99", "p99", 2_999, "green"), ("latency_p99", "p99", 4_000, "yellow"),
    ("latency_p99", "p99", 5_000, "yellow"), ("latency_p99", "p99", 5_001, "red"),
    ("window_completeness", "completeness", 95.5, "green"), ("window_completeness", "completeness", 95, "yellow"),
    ("window_completeness", "completeness", 90, "yellow"), ("window_completeness", "completeness", 89.9, "red"),
])
def test_thresholds_follow_the_guide(signal: str, key: str, value: float, colour: str) -> None:
    """Red is checked before yellow: a P99 of 4 s is under 5 s but yellow; 50K lag is still yellow."""
    assert _status(**{key: value})[signal] == colour


def test_one_failed_checkpoint_is_red_naming_the_signal() -> None:
    """Any failed checkpoint in the last 5 minutes makes the pipeline red, and the summary names it."""
    data = _data()
    data["ckpt_failed"] = [(AT - timedelta(minutes=2), 1.0)]
    health = judge(data, at=AT)
    assert health.status is Colour.RED
    assert health.summary.startswith("red: checkpoint_success 96.8 % (red: green = 100 · red < 100)")


def test_a_signal_without_data_keeps_the_verdict_from_green() -> None:
    """No lag metric at all: the signal is unknown and the verdict yellow (all five must be green)."""
    data = _data()
    data["lag"] = []
    health = judge(data, at=AT)
    assert health.status is Colour.YELLOW
    lag = health.signals[0]
    assert lag.status is Colour.UNKNOWN and lag.value is None and "no data" in health.summary


def test_trend_compares_the_newest_third_with_the_oldest() -> None:
    """Growing lag is rising, a draining one falling, small wobbles flat."""
    assert trend([1000.0 * i for i in range(15)], 10_000) == "rising"
    assert trend([1000.0 * (15 - i) for i in range(15)], 10_000) == "falling"
    assert trend([100.0, 104.0, 98.0, 101.0], 10) == "flat"
    assert trend([5.0], 10) == "unknown"
