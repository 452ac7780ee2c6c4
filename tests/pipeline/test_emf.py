"""The metrics format: EMF documents written by the job, read back by the one reader."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from pipeline import emf
from pipeline.metrics import MinuteMetrics

T0 = int(datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp() * 1000)


def test_documents_follow_the_embedded_metric_format(tmp_path: Path) -> None:
    """Each line is an EMF document: `_aws` metadata naming namespace, dimensions and unit, then the value."""
    metrics = MinuteMetrics()
    metrics.flow(T0 + 5, (("Operator", "parse"),), out=True, error=False)
    metrics.flush(tmp_path / "m.jsonl")
    docs = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    records_in = next(d for d in docs if "RecordsIn" in d)
    assert records_in == {"_aws": {"Timestamp": T0, "CloudWatchMetrics": [{
        "Namespace": "OrdersPipeline", "Dimensions": [["Operator"]],
        "Metrics": [{"Name": "RecordsIn", "Unit": "Count"}]}]}, "Operator": "parse", "RecordsIn": 1.0}


def test_production_metrics_go_to_stdout_with_the_logs() -> None:
    """Without a path the documents go to the stream (the worker's stdout), one JSON object per line."""
    metrics = MinuteMetrics()
    metrics.count("DLQRecordCount", T0, 3)
    out = io.StringIO()
    assert emf.write(metrics.datums(), None, stream=out) == 1
    assert out.getvalue().startswith('{"_aws":') and out.getvalue().endswith("}\n")


def test_histograms_split_at_100_values_and_keep_their_percentiles(tmp_path: Path) -> None:
    """250 distinct latencies take three documents; p99 and the average read back exactly."""
    metrics = MinuteMetrics()
    for value in range(1, 251):
        metrics.observe("ProcessingLatency", T0, float(value))
    metrics.flush(tmp_path / "m.jsonl")
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(len(json.loads(x)["ProcessingLatency"]["Values"]) <= 100 for x in lines)
    stream = emf.MetricStream.load(tmp_path)
    [(at, p99)] = stream.series("ProcessingLatency", statistic="p99")
    assert at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC) and p99 == 248.0
    assert stream.series("ProcessingLatency", statistic="Average") == [(at, 125.5)]


def test_read_series_buckets_by_period_and_skips_log_lines(tmp_path: Path) -> None:
    """Counts in several files add up per period; stdout's log lines among the documents are ignored."""
    docs = [emf.count_document("DLQRecordCount", n, timestamp_ms=T0 + i * 60_000) for i, n in enumerate([5, 7, 9])]
    emf.write(docs[:2], tmp_path / "a.jsonl")
    emf.write(docs[2:], tmp_path / "b.jsonl")
    with (tmp_path / "b.jsonl").open("a") as handle:
        handle.write('{"timestamp":"2026-11-25T10:00:00.000Z","message":"not a metric"}\n')
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert [v for _, v in emf.read_series(tmp_path, "DLQRecordCount", (), start, None, 60, "Sum")] == [5, 7, 9]
    assert emf.read_series(tmp_path, "DLQRecordCount", period=300) == [(start, 21.0)]
    assert emf.read_series(tmp_path, "DLQRecordCount", start=T0 + 60_000, end=T0 + 120_000) == [
        (datetime(2026, 11, 25, 10, 1, tzinfo=UTC), 7.0)]
