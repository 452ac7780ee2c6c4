"""The operators' own outputs: the buffered log writer and the per-minute record flow counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.emf import read_files
from pipeline.logs import LogContext, LogWriter, log_line
from pipeline.metrics import MinuteMetrics

MINUTE = 1_795_000_020_000  # an event time inside some minute
DIMS = (("Operator", "parse"),)


def test_log_writer_writes_whole_batches_and_the_rest_on_close(tmp_path: Path) -> None:
    """Lines reach the file a full batch at a time, and close() writes what is left."""
    path = tmp_path / "logs" / "parse-0.jsonl"
    writer = LogWriter(path, max_lines=3, max_seconds=3600)
    for n in range(4):
        writer.write(json.dumps({"n": n}))
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [0, 1, 2]
    writer.close()
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [0, 1, 2, 3]
    assert writer.written == 4


def test_log_writer_without_a_path_writes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """In production (no directory) the lines go to the worker's stdout, one JSON object per line."""
    writer = LogWriter(None)
    line = log_line(LogContext(environment="prod"), event_ms=MINUTE, operator="enrich", message="Order enriched",
                    latency_ms=1.23456, order={"order_id": "o-1"})
    writer.write(line)
    assert capsys.readouterr().out == ""
    writer.close()
    printed = json.loads(capsys.readouterr().out)
    assert printed["order_id"] == "o-1" and printed["environment"] == "prod" and printed["latency_ms"] == 1.235
    assert "dlq" not in printed


def test_flow_counts_match_separate_counts(tmp_path: Path) -> None:
    """One `flow` per record reads back as RecordsIn/Out/Error and DLQRecordCount, as four counts would."""
    metrics = MinuteMetrics()
    for out, error in [(True, False), (True, False), (False, True)]:
        metrics.flow(MINUTE, DIMS, out=out, error=error)
    metrics.flush(tmp_path / "m.jsonl")
    series = read_files([tmp_path / "m.jsonl"])
    sums = {name: sum(s.statistic("Sum") for s in series[(name, dims)].values())
            for name, dims in [("RecordsIn", DIMS), ("RecordsOut", DIMS), ("RecordsError", DIMS),
                               ("DLQRecordCount", ())]}
    assert sums == {"RecordsIn": 3, "RecordsOut": 2, "RecordsError": 1, "DLQRecordCount": 1}
