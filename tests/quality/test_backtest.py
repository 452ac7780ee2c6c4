"""Backtests replay the local evaluator's own rule; tuning picks the guide's setting; the CLI on a local stream."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from pipeline import emf
from pipeline.alarms import ALARMS
from pipeline.backtest import PastIncident, Setting, backtest, episodes, propose, with_setting
from pipeline.emf import Stat
from pipeline.evaluator import evaluate_series, period_values

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
SPEC = {spec.name: spec for spec in ALARMS}


def _points(values: dict[int, float], statistic: str = "") -> dict[int, Stat]:
    """One datapoint a minute; for a SampleCount alarm (brokers reporting) `value` datapoints of 1."""
    out = {}
    for minute, value in values.items():
        stat = Stat()
        if statistic == "SampleCount":
            stat.add(1.0, value)
        else:
            stat.add(value)
        out[T0_MS + minute * 60_000] = stat
    return out


def _minutes(**runs: Any) -> dict[int, float]:
    """Per-minute values over 300 minutes: `base` everywhere, then `{start: [values...]}` overrides."""
    values = {m: runs.get("base", 1.0) for m in range(300)}
    for start, seq in runs.get("spikes", {}).items():
        for i, value in enumerate(seq):
            if value is None:
                values.pop(start + i, None)
            else:
                values[start + i] = value
    return values


CASES = {
    "DLQSpike": _minutes(base=5.0, spikes={10: [150, 150, 3], 50: [500, 2, 200, 200, 200], 120: [None] * 20,
                                           299: [400]}),
    "ConsumerLagHigh": _minutes(base=100.0, spikes={20: [60_000, 1, 60_000], 90: [70_000] * 5 + [None] * 3}),
    "KafkaBrokerDown": _minutes(base=3.0, spikes={30: [2, 2, 3], 100: [None] * 4, 200: [1] * 10}),
    "PipelineStalled": _minutes(base=1.0, spikes={40: [None] * 5, 150: [0, 0, 1, 0]}),
    "WindowCompletenessLow": _minutes(base=99.0, spikes={60: [80.0] * 12, 200: [90.0] * 3}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_backtest_episodes_are_the_evaluators_state_changes(name: str) -> None:
    """One evaluator: the episodes a backtest reports start and end exactly where the evaluator moves the alarm."""
    spec = SPEC[name]
    points = _points(CASES[name], spec.statistic)
    changes = evaluate_series({(spec.metric, tuple(sorted(spec.dimensions))): points}, [spec])
    values = period_values(spec, points)
    first, last = min(points), max(points)
    found = episodes(spec, values, datetime.fromtimestamp(first / 1000, UTC),
                     datetime.fromtimestamp((last - last % (spec.period * 1000)) / 1000 + spec.period, UTC))
    into = [c.at for c in changes if c.new_state == "ALARM"]
    out_of = [c.at for c in changes if c.old_state == "ALARM"]
    assert [e.start for e in found] == into
    assert [e.end for e in found if e.end is not None] == out_of
    assert found, "each case raises its alarm at least once"


def test_peak_is_the_most_extreme_datapoint_and_an_open_episode_has_no_end() -> None:
    """Greater-than alarms peak at their maximum, less-than ones at their minimum; the history may end in ALARM."""
    dlq = backtest(SPEC["DLQSpike"], period_values(SPEC["DLQSpike"], _points(CASES["DLQSpike"])),
                   T0, T0 + timedelta(minutes=300))
    assert [e["peak"] for e in dlq["episodes"]] == [150.0, 200.0]
    brokers = backtest(SPEC["KafkaBrokerDown"],
                       period_values(SPEC["KafkaBrokerDown"], _points(CASES["KafkaBrokerDown"], "SampleCount")),
                       T0, T0 + timedelta(minutes=210))
    assert brokers["episodes"][-1] == {"start": "2026-11-20T03:22:00Z", "end": None, "peak": 1.0}
    # Missing minutes treated as breaching raise it too; its peak is the one datapoint it saw.
    assert {"start": "2026-11-20T01:42:00Z", "end": "2026-11-20T01:45:00Z", "peak": 3.0} in brokers["episodes"]


def test_incidents_are_caught_sooner_later_or_missed() -> None:
    """A lower threshold catches an incident sooner; a stricter M of N later; a much higher one misses it."""
    spec = SPEC["DLQSpike"]
    values = period_values(spec, _points(_minutes(base=5.0, spikes={100: [80, 90, 120, 130, 150, 150, 150, 3]})))
    end = T0 + timedelta(minutes=300)
    incident = PastIncident(1, T0 + timedelta(minutes=104), T0 + timedelta(minutes=108), "actionable")
    verdict = {label: backtest(with_setting(spec, setting), values, T0, end, [incident])["incidents"][0]["verdict"]
               for label, setting in {"now": Setting(100, 2, 2), "low": Setting(70, 2, 2),
                                      "strict": Setting(100, 5, 5), "high": Setting(1000, 2, 2)}.items()}
    assert verdict == {"now": "caught", "low": "sooner", "strict": "later", "high": "missed"}


def test_propose_uses_the_95th_percentile_of_normal_and_the_5th_for_less_than_alarms() -> None:
    """Incidents are cut out of "normal"; 'less than' alarms mirror the percentile; 2-3 periods."""
    dlq = SPEC["DLQSpike"]
    values = {T0_MS + i * 60_000: float(i % 100) for i in range(1000)}
    values[T0_MS + 500 * 60_000] = 10_000.0  # inside the incident: not normal
    incident = PastIncident(1, T0 + timedelta(minutes=499), T0 + timedelta(minutes=510), "actionable")
    setting = propose(dlq, values, T0, T0 + timedelta(minutes=1000), [incident])
    normal = sorted(v for t, v in values.items() if not T0_MS + 497 * 60_000 <= t < T0_MS + 510 * 60_000)
    assert setting.threshold == normal[math.ceil(0.95 * len(normal)) - 1]
    assert (setting.periods, setting.datapoints) in {(2, 2), (3, 2), (3, 3)}
    window = SPEC["WindowCompletenessLow"]
    complete = {T0_MS + i * 300_000: 90.0 + i % 10 for i in range(200)}
    assert propose(window, complete, T0, T0 + timedelta(minutes=1000)).threshold == 90.0
    zero = SPEC["CheckpointFailure"]  # 1 of 5 today: the guide's 2-3 periods
    assert propose(zero, {}, T0, T0 + timedelta(hours=1)) == Setting(0.0, 3, 2)


def test_with_setting_refuses_more_datapoints_than_periods() -> None:
    with pytest.raises(ValueError, match="between 1 and periods"):
        with_setting(SPEC["DLQSpike"], Setting(1, 2, 3))


def _write_dlq(directory: Path, values: dict[int, float]) -> None:
    docs = [emf.count_document("DLQRecordCount", v, timestamp_ms=T0_MS + m * 60_000) for m, v in values.items()]
    emf.write(docs, directory / "run.jsonl")


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *argv: str) -> Any:
    monkeypatch.setenv("METRICS_BACKEND", "local")
    monkeypatch.setenv("LOCAL_METRICS", str(tmp_path / "metrics"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return CliRunner().invoke(app, list(argv))


def test_cli_backtests_a_local_run_up_to_its_last_minute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """METRICS_BACKEND=local: the run's newest minute is "now"; alarms without a metric have no datapoints."""
    _write_dlq(tmp_path / "metrics", CASES["DLQSpike"])
    result = _cli(monkeypatch, tmp_path, "alarms", "backtest", "--days", "1", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["until"] == "2026-11-20T05:00:00Z"
    rows = {row["alarm"]: row for row in answer["alarms"]}
    assert len(rows) == len(ALARMS)
    assert [e["start"] for e in rows["orders-pipeline-DLQSpike"]["episodes"]] == [
        "2026-11-20T00:12:00Z", "2026-11-20T00:54:00Z"]
    # Five hours of data: two pages in five hours is 67.2 a week (the rate of the span replayed, not of --days).
    assert rows["orders-pipeline-DLQSpike"]["pages_per_week"] == round(2 / (300 / 10080), 2)
    assert rows["orders-pipeline-ConsumerLagHigh"] | {"setting": None} == {
        "alarm": "orders-pipeline-ConsumerLagHigh", "episodes": [], "pages_per_week": 0.0, "datapoints": 0,
        "setting": None}
    text = _cli(monkeypatch, tmp_path, "alarms", "backtest", "--alarm", "DLQSpike", "--threshold", "100",
                "--periods", "3", "--datapoints", "1")
    assert text.exit_code == 0, text.output
    assert "proposed threshold 100, 1 of 3: 3 episodes" in text.output
    assert not (tmp_path / "store.db").exists()  # backtests read a store, never create one


@pytest.mark.parametrize(("argv", "message"), [
    (["--threshold", "5"], "give --alarm NAME"),
    (["--alarm", "Nope"], "unknown alarm 'Nope'"),
    (["--alarm", "DLQSpike", "--periods", "2", "--datapoints", "3"], "between 1 and periods"),
])
def test_cli_refuses_bad_options_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str],
                                            message: str) -> None:
    _write_dlq(tmp_path / "metrics", {0: 1.0})
    result = _cli(monkeypatch, tmp_path, "alarms", "backtest", *argv)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_tune_changes_nothing_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _write_dlq(tmp_path / "metrics", CASES["DLQSpike"])
    before = {spec.name: spec for spec in ALARMS}
    result = _cli(monkeypatch, tmp_path, "alarms", "tune", "--days", "1")
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output and "orders-pipeline-DLQSpike: threshold 100, 2 of 2 →" in result.output
    assert {spec.name: spec for spec in ALARMS} == before

