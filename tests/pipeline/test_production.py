"""The pipeline as on-call sees it: every alarm fires from a local run and opens its incident; health; checks.

Two runs of the real job on Flink's mini-cluster, shared by every test here: one with a fault for each alarm at
its own time (and canaries, and a source that stops for the last 5 minutes), one clean with canaries.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from pipeline.evaluator import StateChange, evaluate
from pipeline.job import read_lines
from tests.support.app import BotFactory

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
START = "2026-11-25T10:00:00Z"
# One fault per alarm, each at its own time; 150 orders a minute, a canary a minute.
FAULTS = {
    "DLQSpike": "schema_change@2-5",
    "KafkaBrokerDown": "broker_down@6-9",
    "CheckpointFailure": "checkpoint_failure@10-11",
    "FirehoseDeliveryFailed": "firehose_failure@12-13",
    "LatencyP99High": "slow_enrichment@14-17",
    "ConsumerLagHigh": "consumer_lag@14-18",
    "WindowCompletenessLow": "late_events@19-24:0.25",
    "PipelineStalled": "stall@25-30",
}


@dataclass
class Run:
    source: Path
    out: Path
    summary: dict[str, Any]


def _run(base: Path, *extra: str) -> Run:
    runner = CliRunner()
    source = base / "orders.jsonl"
    generated = runner.invoke(app, ["pipeline", "generate", "--orders", "4500", "--minutes", "30", "--start", START,
                                    "--seed", "13", "--canary-every", "60s", "--out", str(source), *extra])
    assert generated.exit_code == 0, generated.output
    result = runner.invoke(app, ["pipeline", "run", "--source", str(source), "--out", str(base / "out")])
    assert result.exit_code == 0, result.output
    return Run(source, base / "out", json.loads(result.output[result.output.index("{"):]))


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Run:
    args = [part for fault in FAULTS.values() for part in ("--fault", fault)]
    return _run(tmp_path_factory.mktemp("faulty"), *args)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def changes(faulty: Run) -> list[StateChange]:
    return evaluate(faulty.out)


def test_each_fault_raises_its_alarm(changes: list[StateChange]) -> None:
    """Every alarm of the catalog's pipeline faults goes to ALARM, and only those."""
    raised = {c.alarm_name for c in changes if c.new_state == "ALARM"}
    assert raised == {f"orders-pipeline-{name}" for name in FAULTS}


def test_a_stopped_source_raises_pipeline_stalled_within_two_minutes(changes: list[StateChange]) -> None:
    """The source stops at 10:25; with no canary through the sink, PipelineStalled fires by 10:27."""
    [stalled] = [c for c in changes if c.alarm_name == "orders-pipeline-PipelineStalled"]
    assert stalled.new_state == "ALARM" and stalled.at.strftime("%H:%M") <= "10:27"
    assert stalled.body["Trigger"]["TreatMissingData"] == "breaching"
    assert "treated as [Breaching]" in stalled.body["NewStateReason"]


async def test_every_alarm_opens_its_incident(changes: list[StateChange], make_bot: BotFactory) -> None:
    """The evaluator's changes, delivered as signed SNS, put every alarm in an incident: its own, or the one of its
    cause when they are correlated (the catalog's `caused_by`); each incident as severe as its worst alarm."""
    async with make_bot() as bot:
        for change in changes:
            answer = await bot.deliver(change.body, topic=change.topic_arn, subject=change.subject)
            assert answer.status_code == 200, answer.text
        details = [await bot.incident(i["id"]) for i in await bot.incidents()]
    expected = {name: "HIGH" if name in ("LatencyP99High", "ConsumerLagHigh", "WindowCompletenessLow") else "CRITICAL"
                for name in FAULTS}
    held = {a["alarm_name"].removeprefix("orders-pipeline-"): d for d in details for a in d["alarms"]}
    assert sorted(held) == sorted(FAULTS)
    for name, detail in held.items():
        worst = "CRITICAL" if any(expected[a["alarm_name"].removeprefix("orders-pipeline-")] == "CRITICAL"
                                  for a in detail["alarms"]) else "HIGH"
        assert detail["severity"] == worst, (name, detail["severity"], detail["alarms"])
    # Alarms that stand alone in the catalog open incidents of their own.
    for alone in ("DLQSpike", "PipelineStalled"):
        assert [a["alarm_name"] for a in held[alone]["alarms"]] == [f"orders-pipeline-{alone}"]


def test_canaries_stay_out_of_the_business_output(clean: Run) -> None:
    """Canaries land in their own stream, never in output/ or the windows; the invariants still reconcile."""
    s = clean.summary
    assert s["canary"] == 30
    assert s["output"] == s["input"] - sum(s["dlq"].values()) == s["window_orders"]
    assert not [o for o in read_lines(clean.out / "output") if o["order_id"].startswith("CANARY-")]
    canaries = list(read_lines(clean.out / "canary"))
    assert all(c["order_id"].startswith("CANARY-") for c in canaries)


def _health(out: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict[str, Any]:
    monkeypatch.setenv("METRICS_BACKEND", "local")
    monkeypatch.setenv("LOCAL_METRICS", str(out / "metrics"))
    result = CliRunner().invoke(app, ["health", "--json", *extra])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_health_is_green_for_a_clean_run(clean: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """All five signals of a clean run are green, each with its value, threshold and trend."""
    health = _health(clean.out, monkeypatch)
    assert health["status"] == "green", health
    assert [s["name"] for s in health["signals"]] == ["lag", "dlq_rate", "checkpoint_success", "latency_p99",
                                                      "window_completeness"]
    assert all(s["status"] == "green" and s["value"] is not None and s["threshold"] for s in health["signals"])
    assert {s["trend"] for s in health["signals"]} <= {"rising", "falling", "flat", "unknown"}


def test_health_is_red_during_the_dlq_spike_naming_the_signal(faulty: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 10:04, in the schema change, the DLQ rate is red and the summary says so."""
    health = _health(faulty.out, monkeypatch, "--at", "2026-11-25T10:04:00Z")
    assert health["status"] == "red"
    dlq = next(s for s in health["signals"] if s["name"] == "dlq_rate")
    assert dlq["status"] == "red" and dlq["value"] > 100 and dlq["trend"] == "rising"
    assert health["summary"].startswith("red: dlq_rate")


def test_checks_pass_on_a_clean_run(clean: Run) -> None:
    """The four checks hold on a clean run's output (a replay's watermark lag is an artefact: see checks.py)."""
    result = CliRunner().invoke(app, ["pipeline", "check", "--out", str(clean.out), "--json", "--seed", "1",
                                      "--max-watermark-lag", "1h"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == ["output_covers_input", "no_duplicate_orders", "watermark_lag",
                                                     "sample_validation"]


async def test_a_planted_duplicate_fails_the_check_and_opens_an_incident(
        clean: Run, tmp_path: Path, make_bot: BotFactory) -> None:
    """One order written twice to the sink fails `no_duplicate_orders` (exit 1) and raises InvariantViolated."""
    out = Path(shutil.copytree(clean.out, tmp_path / "out"))
    part = next(p for p in sorted((out / "output").rglob("*")) if p.is_file() and not p.name.startswith("."))
    first = part.read_text().splitlines()[0]
    with part.open("a") as handle:
        handle.write(first + "\n")
    result = CliRunner().invoke(app, ["pipeline", "check", "--out", str(out), "--json", "--seed", "1",
                                      "--max-watermark-lag", "1h"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["no_duplicate_orders"]
    assert json.loads(first)["order_id"] in failed[0]["detail"]
    raised = {c.alarm_name: c for c in evaluate(out) if c.new_state == "ALARM"}
    assert "orders-pipeline-InvariantViolated" in raised
    change = raised["orders-pipeline-InvariantViolated"]
    async with make_bot() as bot:
        answer = await bot.deliver(change.body, topic=change.topic_arn, subject=change.subject)
        assert answer.status_code == 200
        [incident] = await bot.incidents()
    assert incident["severity"] == "CRITICAL" and "invariant" in incident["title"].lower()
