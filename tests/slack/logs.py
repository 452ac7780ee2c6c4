"""Pipeline log lines in the seed schema (OBSERVABILITY_GUIDE §3), written where the bot's LOCAL_LOGS points."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def log_line(at: datetime, *, order_id: str, operator: str, status: str = "success", latency_ms: int = 40,
             error_type: str | None = None, dlq: bool = False, message: str = "") -> dict[str, Any]:
    """One JSON log line as the Flink job writes it."""
    line: dict[str, Any] = {
        "timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
        "level": "ERROR" if status == "error" else "INFO", "logger": "order_processor",
        "message": message or f"{operator} {status}", "correlation_id": f"corr-{order_id}",
        "order_id": order_id, "customer_id": "CUST-789", "operator": operator, "latency_ms": latency_ms,
        "status": status, "environment": "prod", "dlq": dlq,
    }
    if error_type:
        line["error_type"] = error_type
    return line


def write_logs(directory: Path, lines: Iterable[dict[str, Any]], name: str = "pipeline.jsonl") -> Path:
    """Write `lines` as JSON lines into `directory/name`."""
    path = directory / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
