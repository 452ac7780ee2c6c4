"""`pipeline collect`: checkpoint and restart metrics from a Flink 2.x REST API (a local fake serving its shapes)."""

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
from pipeline import emf
from pipeline.collector import Collector, CollectorError

JOB = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


class FakeFlink(BaseHTTPRequestHandler):
    """`/jobs`, `/jobs/:id/checkpoints` and `/jobs/:id/exceptions` in Flink 2.x's shapes; state set by tests."""

    counts: ClassVar[dict[str, int]] = {}
    failures: ClassVar[int] = 0

    def do_GET(self) -> None:
        routes: dict[str, Any] = {
            "/jobs": {"jobs": [{"id": "0" * 32, "status": "FINISHED"}, {"id": JOB, "status": "RUNNING"}]},
            f"/jobs/{JOB}/checkpoints": {
                "counts": {"restored": 0, "total": sum(self.counts.values()), "in_progress": 0, **self.counts},
                "summary": {"end_to_end_duration": {"min": 40, "max": 900, "avg": 120}},
                "latest": {"completed": {"id": 41, "status": "COMPLETED", "end_to_end_duration": 812,
                                         "checkpointed_size": 52_431, "state_size": 90_112,
                                         "latest_ack_timestamp": 1764583200000},
                           "failed": {"id": 40, "failure_message": "Failed to write checkpoint: AccessDenied"}
                           if self.counts.get("failed") else None,
                           "savepoint": None, "restored": None},
                "history": []},
            f"/jobs/{JOB}/exceptions": {"exceptionHistory": {"entries": [
                {"exceptionName": "java.io.IOException", "stacktrace": "...", "timestamp": 1764583100000 + i,
                 "taskName": "enrich (1/2)", "endpoint": "127.0.0.1:41234", "taskManagerId": "tm-1",
                 "failureLabels": {}, "concurrentExceptions": []} for i in range(self.failures)],
                "truncated": False}},
        }
        if self.path not in routes:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(routes[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flink() -> Iterator[str]:
    FakeFlink.counts = {"completed": 10, "failed": 0}
    FakeFlink.failures = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeFlink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _values(docs: list[dict[str, Any]]) -> dict[str, float]:
    return {d.name: d.stat.statistic("Sum") for doc in docs for d in emf.datums(doc)}


def test_counters_are_emitted_as_differences_between_polls(flink: str) -> None:
    """The first poll sets the baseline; the next emits 2 completed, 3 failed checkpoints and 1 restart."""
    collector = Collector(flink, clock=lambda: 1_764_583_260.0)
    first = _values(collector.poll())
    assert first == {"checkpoint_duration_ms": 812.0, "checkpoint_size_bytes": 52_431.0}
    FakeFlink.counts = {"completed": 12, "failed": 3}
    FakeFlink.failures = 1
    docs = collector.poll()
    assert _values(docs) == {"checkpoint_completed_total": 2.0, "checkpoint_failures_total": 3.0,
                             "job_restarts_total": 1.0, "checkpoint_duration_ms": 812.0,
                             "checkpoint_size_bytes": 52_431.0}
    assert all(doc["_aws"]["Timestamp"] == 1_764_583_260_000 for doc in docs)


def test_an_unreachable_cluster_is_a_one_line_error() -> None:
    """No REST API at the URL: CollectorError naming the URL."""
    with pytest.raises(CollectorError, match=r"GET http://127\.0\.0\.1:9/jobs"):
        Collector("http://127.0.0.1:9", timeout=0.5).poll()


def test_cli_appends_emf_that_raises_checkpoint_failure(flink: str, tmp_path: Path) -> None:
    """Two polls through the command; the failures it writes make the CheckpointFailure alarm fire."""
    from pipeline.alarms import ALARMS
    from pipeline.evaluator import evaluate_series

    out = tmp_path / "metrics" / "collector.jsonl"
    FakeFlink.counts = {"completed": 10, "failed": 0}

    def fail_later() -> None:
        FakeFlink.counts = {"completed": 10, "failed": 4}

    timer = threading.Timer(0.3, fail_later)
    timer.start()
    result = CliRunner().invoke(app, ["pipeline", "collect", "--rest-url", flink, "--count", "2", "--every", "0.6s",
                                      "--out", str(out)])
    timer.join()
    assert result.exit_code == 0, result.output
    series = emf.read_metrics_dir(tmp_path / "metrics")
    assert sum(s.statistic("Sum") for s in series[("checkpoint_failures_total", ())].values()) == 4
    spec = next(a for a in ALARMS if a.name == "CheckpointFailure")
    assert [c.new_state for c in evaluate_series(series, [spec])] == ["ALARM"]
