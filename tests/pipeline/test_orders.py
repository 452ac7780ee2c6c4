"""Per-record logic, logs, metrics and the generator, without Flink."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.emf import read_files
from pipeline.enrichment import CustomerCache, EnrichmentConfig, SimulatedCustomerApi, SlowWindow
from pipeline.generator import Fault, generate_orders
from pipeline.logs import LogContext, log_line
from pipeline.metrics import MinuteMetrics
from pipeline.orders import RecordError, parse_order, validate_order

GOOD = {"order_id": "ORD-1", "customer_id": "CUST-1", "amount": 12.5, "currency": "USD",
        "event_time": "2026-11-25T10:31:02.123Z", "items": 2}


def test_a_good_order_parses_with_its_event_time() -> None:
    """A complete order parses and keeps its event time in epoch milliseconds."""
    order = parse_order(json.dumps(GOOD))
    assert order.order_id == "ORD-1"
    assert order.event_ms == int(datetime(2026, 11, 25, 10, 31, 2, 123000, tzinfo=UTC).timestamp() * 1000)
    validate_order(order)


def test_a_renamed_customer_field_is_a_parse_error_naming_it() -> None:
    """A source schema change (customer_id → cust_id) is a parse_error that names both fields."""
    raw = dict(GOOD)
    raw["cust_id"] = raw.pop("customer_id")
    with pytest.raises(RecordError) as caught:
        parse_order(json.dumps(raw))
    assert caught.value.error_type == "parse_error"
    assert caught.value.error_code == "ERR-103"
    assert "customer_id" in caught.value.message and "cust_id" in caught.value.message


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", json.dumps({**GOOD, "event_time": "yesterday"})])
def test_unreadable_records_are_parse_errors(raw: str) -> None:
    """Invalid JSON, non-objects and unreadable timestamps are parse errors, not crashes."""
    with pytest.raises(RecordError) as caught:
        parse_order(raw)
    assert caught.value.error_type == "parse_error"


@pytest.mark.parametrize(("field", "value"), [("amount", -3), ("amount", "12,50"), ("amount", 0),
                                         ("currency", "XXX"), ("items", 0)])
def test_bad_values_are_validation_errors(field: str, value: object) -> None:
    """Negative, zero or textual amounts, unknown currencies and empty baskets fail validation."""
    with pytest.raises(RecordError) as caught:
        validate_order(parse_order(json.dumps({**GOOD, field: value})))
    assert caught.value.error_type == "validation_error"


def test_log_lines_follow_the_guide_schema() -> None:
    """A DLQ log line carries every schema key, the event time (+1 ms per stage) as timestamp, and dlq: true."""
    error = RecordError("ERR-201", "amount -3 must be positive", operator="validate")
    line = json.loads(log_line(LogContext("prod", "order-processor-1"), event_ms=1_764_066_662_123,
                               operator="validate", message="Order sent to DLQ", latency_ms=0.5,
                               order={"order_id": "ORD-1", "customer_id": "C", "session_id": "s"}, error=error,
                               dlq=True))
    assert set(line) == {"timestamp", "level", "logger", "message", "correlation_id", "order_id", "customer_id",
                         "session_id", "operator", "latency_ms", "status", "error_type", "error_code",
                         "error_message", "dlq", "environment", "environment_replica", "context"}
    assert line["timestamp"].endswith(".124Z")  # validate is the second stage
    assert (line["status"], line["error_type"], line["dlq"], line["level"]) == ("error", "validation_error",
                                                                                True, "ERROR")


def test_success_log_lines_have_no_dlq_key() -> None:
    """Lines for records that were not dead-lettered leave `dlq` out entirely."""
    line = json.loads(log_line(LogContext(), event_ms=0, operator="parse", message="ok", latency_ms=1,
                               order={"order_id": "ORD-1"}))
    assert "dlq" not in line and line["status"] == "success" and line["correlation_id"] == "ORD-1"


def test_cache_counts_hits_misses_and_timeouts() -> None:
    """A repeat lookup within the TTL hits; a lookup in a slow span beyond the timeout is a timeout."""
    config = EnrichmentConfig(cache_ttl_ms=60_000, timeout_ms=100,
                              slow_windows=(SlowWindow(1_000_000, 2_000_000, (500.0, 600.0)),))
    cache = CustomerCache(SimulatedCustomerApi(config), config)
    assert not cache.get("CUST-1", 0).cache_hit
    assert cache.get("CUST-1", 30_000).cache_hit
    assert not cache.get("CUST-1", 90_000).cache_hit  # expired by event time
    slow = cache.get("CUST-2", 1_500_000)
    assert slow.timed_out and slow.customer is None
    assert (cache.hits, cache.misses, cache.timeouts) == (1, 3, 1)


def test_metric_datums_merge_like_cloudwatch(tmp_path: Path) -> None:
    """Counts add up across flushes, and percentiles survive merging through Values/Counts."""
    metrics = MinuteMetrics()
    for i in range(100):
        metrics.count("DLQRecordCount", 60_000 + i)
        metrics.observe("ProcessingLatency", 60_000 + i, float(i + 1))
    metrics.flush(tmp_path / "a.jsonl")
    metrics.count("DLQRecordCount", 61_000, 5)
    metrics.flush(tmp_path / "b.jsonl")
    series = read_files([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    assert series[("DLQRecordCount", ())][60_000].statistic("Sum") == 105
    assert series[("ProcessingLatency", ())][60_000].statistic("p99") == 99.0
    first = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])
    assert first["_aws"]["Timestamp"] == 60_000
    assert first["_aws"]["CloudWatchMetrics"] == [{"Namespace": "OrdersPipeline", "Dimensions": [[]],
                                                   "Metrics": [{"Name": "DLQRecordCount", "Unit": "Count"}]}]
    assert first["DLQRecordCount"] == 100


def test_generator_is_deterministic_and_injects_faults(tmp_path: Path) -> None:
    """The same seed writes the same file; faults change only their span and are counted."""
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    faults = [Fault.parse("schema_change@2-4"), Fault.parse("duplicates@6-8:0.5"),
              Fault.parse("slow_enrichment@8-9")]
    a = generate_orders(tmp_path / "a.jsonl", orders=300, minutes=10, start=start, faults=faults, seed=3)
    b = generate_orders(tmp_path / "b.jsonl", orders=300, minutes=10, start=start, faults=faults, seed=3)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert sum("cust_id" in r for r in rows) == a.faults["schema_change"] == 60
    assert len(rows) == 300 + a.faults["duplicates"] == b.lines
    sidecar = json.loads((tmp_path / "a.jsonl.faults.json").read_text())
    assert sidecar["slow_enrichment"][0]["start"] == "2026-11-25T10:08:00.000Z"


def test_fault_specs_are_checked() -> None:
    """An unknown fault kind is refused with the accepted syntax."""
    with pytest.raises(ValueError, match="KIND@START-END"):
        Fault.parse("meteor@1-2")
