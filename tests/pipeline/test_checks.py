"""`pipeline check` on a small hand-made run: each invariant named when it fails, metrics, and the SNS path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.sns.envelope import parse_envelope
from bot.sns.signing import generate_identity
from pipeline import emf
from pipeline.checks import run_checks

T0 = 1_795_600_800_000  # 2026-11-25T10:00:00Z


def _order(n: int, **changes: Any) -> dict[str, Any]:
    order = {"order_id": f"ORD-1-{n:05d}", "customer_id": f"CUST-{n:05d}", "session_id": "s", "correlation_id": "c",
             "amount": 12.5, "currency": "USD", "items": 2, "event_time": "2026-11-25T10:00:05.000Z",
             "customer": {"customer_id": f"CUST-{n:05d}", "tier": "gold"}}
    return {**order, **changes}


def make_run(out: Path, orders: list[dict[str, Any]], *, records_in: int, dlq: int = 0,
             watermark_lag_ms: float = 4000.0) -> Path:
    """A run directory as the job leaves it: output/, dlq/, late/ and metrics/."""
    for name in ("output", "dlq", "late", "metrics"):
        (out / name).mkdir(parents=True, exist_ok=True)
    (out / "output" / "part-0.jsonl").write_text("".join(json.dumps(o) + "\n" for o in orders))
    (out / "dlq" / "part-0.jsonl").write_text("".join(json.dumps({"error_type": "parse_error"}) + "\n"
                                                      for _ in range(dlq)))
    lag = emf.Stat()
    lag.add(watermark_lag_ms)
    emf.write([emf.count_document("RecordsIn", records_in, timestamp_ms=T0, dims=(("Operator", "parse"),)),
               *emf.stat_documents("WatermarkLagMs", lag, timestamp_ms=T0, unit="Milliseconds")],
              out / "metrics" / "job.jsonl")
    return out


def test_a_clean_run_passes_every_check(tmp_path: Path) -> None:
    """10 in, 2 to the DLQ, 8 out, each once, all valid, watermark 4 s behind: every check holds."""
    report = run_checks(make_run(tmp_path, [_order(i) for i in range(8)], records_in=10, dlq=2), seed=1)
    assert report.ok, report.as_dict()
    assert report.checks[0].detail == "output 8 ≥ input 10 − DLQ 2 − late 0 = 8"


@pytest.mark.parametrize(("kwargs", "orders", "failed", "detail"), [
    ({"records_in": 12}, [_order(i) for i in range(8)], "output_covers_input", "4 records missing"),
    ({"records_in": 9}, [_order(i) for i in range(8)] + [_order(3)], "no_duplicate_orders", "ORD-1-00003"),
    ({"records_in": 8, "watermark_lag_ms": 95_000}, [_order(i) for i in range(8)], "watermark_lag", "95.0 s ≥ 60 s"),
    ({"records_in": 8}, [_order(i) for i in range(7)] + [_order(7, currency="XXX")], "sample_validation",
     "ORD-1-00007: currency 'XXX' is not supported"),
    ({"records_in": 8}, [_order(i) for i in range(7)] + [_order(7, customer=None)], "sample_validation",
     "missing customer"),
])
def test_each_failure_names_its_check(tmp_path: Path, kwargs: dict[str, Any], orders: list[dict[str, Any]],
                                      failed: str, detail: str) -> None:
    """Lost records, a duplicate, a late watermark and a bad record each fail exactly their own check."""
    report = run_checks(make_run(tmp_path, orders, **kwargs), seed=1)
    assert [c.name for c in report.checks if not c.ok] == [failed]
    assert detail in next(c for c in report.checks if not c.ok).detail


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sns_url() -> Iterator[str]:
    _Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/sns"
    server.shutdown()
    server.server_close()


def test_cli_fails_emits_metrics_and_delivers_the_alarm(tmp_path: Path, sns_url: str) -> None:
    """A duplicate: exit 1, JSON naming the check, InvariantViolations = 1 in metrics/, InvariantViolated sent."""
    out = make_run(tmp_path / "run", [_order(i) for i in range(8)] + [_order(3)], records_in=9)
    key, _ = generate_identity(tmp_path / "sns")
    result = CliRunner().invoke(app, ["pipeline", "check", "--out", str(out), "--json", "--seed", "1",
                                      "--deliver", sns_url, "--signing-key", str(key)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert {c["name"]: c["ok"] for c in report["checks"]} == {
        "output_covers_input": True, "no_duplicate_orders": False, "watermark_lag": True, "sample_validation": True}
    stream = emf.MetricStream.load(out / "metrics")
    violations = stream.aggregate("InvariantViolations")
    duplicate = stream.aggregate("CheckFailed", (("Check", "no_duplicate_orders"),))
    assert violations is not None and violations.statistic("Sum") == 1
    assert duplicate is not None and duplicate.statistic("Sum") == 1
    [raw] = _Recorder.received
    body = json.loads(parse_envelope(raw).message)
    assert body["AlarmName"] == "orders-pipeline-InvariantViolated" and body["NewStateValue"] == "ALARM"


def test_an_invalid_sampled_record_raises_reconciliation_mismatch(tmp_path: Path, sns_url: str) -> None:
    """A record with an unsupported currency fails sample_validation and sends ReconciliationMismatch (HIGH)."""
    orders = [_order(i) for i in range(7)] + [_order(7, currency="XXX")]
    out = make_run(tmp_path / "run", orders, records_in=8)
    key, _ = generate_identity(tmp_path / "sns")
    result = CliRunner().invoke(app, ["pipeline", "check", "--out", str(out), "--deliver", sns_url,
                                      "--signing-key", str(key)])
    assert result.exit_code == 1
    assert "FAIL sample_validation: 1 of 8 sampled records invalid" in result.output
    [raw] = _Recorder.received
    envelope = parse_envelope(raw)
    assert json.loads(envelope.message)["AlarmName"] == "orders-pipeline-ReconciliationMismatch"
    assert envelope.topic_arn.endswith(":orders-pipeline-high")
