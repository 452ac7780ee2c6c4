"""The real job on Flink's local mini-cluster: one run on generated faulty input, shared by every test here."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.sns.signing import generate_identity
from pipeline.emf import read_metrics_dir
from pipeline.evaluator import evaluate
from pipeline.job import read_lines
from pipeline.logs import OPERATORS
from pipeline.orders import iso_ms

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
START = "2026-11-25T10:00:00Z"
FAULTS = ["schema_change@3-6", "duplicates@9-11:0.4", "invalid_amount@12-13:0.5", "slow_enrichment@15-19",
          "late_events@22-28:0.25"]
LOG_KEYS = {"timestamp", "level", "logger", "message", "correlation_id", "order_id", "customer_id", "session_id",
            "operator", "latency_ms", "status", "error_type", "error_code", "error_message", "environment",
            "environment_replica", "context"}


@dataclass
class Run:
    out: Path
    summary: dict[str, Any]
    faults: Counter[str]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("job")
    runner = CliRunner()
    args = ["pipeline", "generate", "--orders", "4500", "--minutes", "30", "--start", START, "--seed", "11",
            "--out", str(base / "orders.jsonl")]
    for fault in FAULTS:
        args += ["--fault", fault]
    generated = runner.invoke(app, args)
    assert generated.exit_code == 0, generated.output
    faults: Counter[str] = Counter()
    for part in generated.output.strip().split("; ")[1:]:
        kind, count = part.split(": ")
        faults[kind] = int(count)
    result = runner.invoke(app, ["pipeline", "run", "--source", str(base / "orders.jsonl"), "--out",
                                 str(base / "out"), "--checkpoint-interval", "1000"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    return Run(base / "out", summary, faults)


def test_reconciliation_invariant_holds(run: Run) -> None:
    """Enriched output = input − DLQ, and windowed orders = input − DLQ − late arrivals."""
    s = run.summary
    dlq = sum(s["dlq"].values())
    assert s["output"] == s["input"] - dlq
    assert s["window_orders"] == s["input"] - dlq - s["late"]
    assert s["late"] > 0


def test_dlq_counts_match_the_injected_faults(run: Run) -> None:
    """Each fault lands in the DLQ under its error_type, as many times as it was injected."""
    dlq = run.summary["dlq"]
    assert dlq["parse_error"] == run.faults["schema_change"]
    assert dlq["duplicate"] == run.faults["duplicates"]
    assert dlq["validation_error"] == run.faults["invalid_amount"]
    assert dlq["timeout"] > 0
    records = list(read_lines(run.out / "dlq"))
    assert {r["operator"] for r in records} == {"parse", "validate", "dedup", "enrich"}
    assert all(r["raw"] and r["error_code"].startswith("ERR-") for r in records)


def test_output_has_one_record_per_order(run: Run) -> None:
    """Duplicates are removed: every order_id appears once in the enriched output, with its customer."""
    orders = list(read_lines(run.out / "output"))
    assert len({o["order_id"] for o in orders}) == len(orders) == run.summary["output"]
    assert all(o["customer"]["customer_id"] == o["customer_id"] for o in orders)


def test_window_completeness_matches_late_arrivals(run: Run) -> None:
    """Each window's WindowCompleteness is its aggregated orders over aggregated plus late ones."""
    completeness = read_metrics_dir(run.out / "metrics")[("WindowCompleteness", ())]
    windows: Counter[str] = Counter()
    for result in read_lines(run.out / "windows"):
        windows[result["window_start"]] += result["added"]
    late = Counter(r["window_start"] for r in read_lines(run.out / "late"))
    assert late, "the late_events fault should make some windows incomplete"
    for start, stat in completeness.items():
        key = next(k for k in windows if k.startswith(_iso_minute(start)))
        expected = 100 * windows[key] / (windows[key] + late[key])
        assert stat.statistic("Average") == pytest.approx(expected)
    assert min(s.statistic("Average") for s in completeness.values()) < 95


def _iso_minute(epoch_ms: int) -> str:
    return iso_ms(epoch_ms)[:16]


def test_logs_follow_the_schema_one_line_per_operator_decision(run: Run) -> None:
    """Every log line has the schema's keys; a clean order leaves one line per operator, DLQ lines say dlq."""
    lines = list(read_lines(run.out / "logs"))
    assert all(set(line) >= LOG_KEYS for line in lines)
    assert {line["operator"] for line in lines} == set(OPERATORS)
    assert all(line["timestamp"].endswith("Z") and len(line["timestamp"]) == 24 for line in lines)
    dlq_lines = [line for line in lines if line.get("dlq") is True]
    assert len(dlq_lines) == sum(run.summary["dlq"].values())
    assert Counter(line["error_type"] for line in dlq_lines) == Counter(run.summary["dlq"])
    first = next(iter(read_lines(run.out / "output")))["order_id"]
    # Files are read in no particular order; the trace query sorts by @timestamp, and so does this.
    in_time_order = sorted(lines, key=lambda line: line["timestamp"])
    trace = [line["operator"] for line in in_time_order if line["order_id"] == first]
    assert trace == ["parse", "validate", "dedup", "enrich", "sink"]
    enrich = next(line for line in lines if line["operator"] == "enrich" and line["order_id"] == first)
    assert {"api_endpoint", "api_latency_ms", "cache_hit"} <= set(enrich["context"])


def test_metrics_stream_has_the_guide_metrics(run: Run) -> None:
    """The metrics stream carries per-operator counts and the pipeline metrics the alarms read."""
    series = read_metrics_dir(run.out / "metrics")
    names = {name for name, _ in series}
    assert {"RecordsIn", "RecordsOut", "RecordsError", "DLQRecordCount", "DuplicateRecordDetected",
            "ProcessingLatency", "WindowCompleteness", "WatermarkLagMs", "EnrichmentCacheHitRate"} <= names
    parse_in = sum(s.statistic("Sum") for s in series[("RecordsIn", (("Operator", "parse"),))].values())
    assert parse_in == run.summary["input"]
    dlq = sum(s.statistic("Sum") for s in series[("DLQRecordCount", ())].values())
    assert dlq == sum(run.summary["dlq"].values())


def test_faults_raise_the_matching_alarms(run: Run) -> None:
    """Schema change, slow enrichment and late events raise DLQSpike, LatencyP99High, WindowCompletenessLow."""
    raised = {c.alarm_name for c in evaluate(run.out) if c.new_state == "ALARM"}
    assert raised == {"orders-pipeline-DLQSpike", "orders-pipeline-LatencyP99High",
                      "orders-pipeline-WindowCompletenessLow"}


def test_evaluate_cli_delivers_to_the_bot(run: Run, tmp_path: Path) -> None:
    """`pipeline evaluate --deliver` posts every change and reports the bot's answers."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        key, _ = generate_identity(tmp_path)
        result = CliRunner().invoke(app, ["pipeline", "evaluate", "--out", str(run.out), "--deliver",
                                          f"http://127.0.0.1:{server.server_port}/sns", "--signing-key", str(key)])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert "orders-pipeline-DLQSpike: OK -> ALARM" in result.output
    assert received and all(m["Type"] == "Notification" for m in received)
    assert {json.loads(m["Message"])["NewStateValue"] for m in received} == {"ALARM", "OK"}
