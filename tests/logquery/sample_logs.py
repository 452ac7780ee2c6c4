"""A small, hand-checked set of pipeline log lines (seed schema) with known answers, for engine and catalog tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)
END = datetime(2025, 1, 13, 11, 0, tzinfo=UTC)


def _line(ts: str, operator: str, order: str | None, latency: Any, *, error: str | None = None, dlq: bool = False,
          message: str = "Order processed", context: dict[str, Any] | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "timestamp": f"2025-01-13T{ts}Z", "level": "ERROR" if dlq else "WARN" if error else "INFO",
        "logger": "order_processor", "message": message, "correlation_id": f"corr-{order}",
        "order_id": order, "customer_id": "CUST-789", "session_id": "sess-1", "operator": operator,
        "latency_ms": latency, "status": "error" if error else "success", "error_type": error,
        "environment": "test", "environment_replica": "order-processor-0", "context": context or {},
    }
    if order is None:
        del line["order_id"]
    if dlq:
        line["dlq"] = True
    return line


LINES: list[dict[str, Any]] = [
    _line("10:00:00.100", "parse", "ORD-1", 10),
    _line("10:00:00.200", "validate", "ORD-1", 20),
    _line("10:00:01.000", "enrich", "ORD-1", 300, context={"cache_hit": False, "api_latency_ms": 250}),
    _line("10:00:02.000", "sink", "ORD-1", 40),
    _line("10:02:00.000", "parse", "ORD-2", 5, error="parse_error", dlq=True,
          message="Parse failed: Field 'cust_id' not found"),
    _line("10:03:00.000", "parse", "ORD-3", 7, error="parse_error", dlq=True,
          message="Parse failed: Field 'amount' not found"),
    _line("10:04:00.000", "dedup", "ORD-1", 2, error="duplicate", dlq=True, message="duplicate order"),
    _line("10:06:00.000", "validate", "ORD-10", 15, error="validation_error", dlq=True,
          message="validation failed: amount < 0"),
    _line("10:07:00.000", "enrich", "ORD-9", 5000, error="timeout", message="Customer API timeout after 5s",
          context={"cache_hit": False, "api_latency_ms": 5000}),
    _line("10:08:00.000", "enrich", "ORD-11", "n/a", context={"cache_hit": True}),
    _line("10:09:00.000", "window", None, 100, message="window closed"),
    _line("11:30:00.000", "parse", "ORD-99", 1, error="parse_error", dlq=True, message="outside the window"),
]


def write(directory: Path) -> str:
    """Write the lines (plus one line that is not JSON) to `directory/app.jsonl`; returns a glob for them."""
    path = directory / "app.jsonl"
    text = "\n".join(json.dumps(line) for line in LINES[:6]) + "\nthis line is not JSON\n"
    text += "\n".join(json.dumps(line) for line in LINES[6:]) + "\n"
    path.write_text(text)
    return str(directory / "*.jsonl")
