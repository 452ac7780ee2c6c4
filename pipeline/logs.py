"""Structured log lines in the observability guide's schema, one per record per operator decision.

Queries elsewhere depend on these names exactly (`order-trace` filters `order_id`, `dlq-breakdown` filters `dlq`
and groups by `error_type`, `slow-operators` groups by `operator` over `latency_ms`): add keys under `context`,
never at the top level. `timestamp` is the record's event time, so a replay's logs line up with its metrics,
stepped by one millisecond per operator so that a trace sorted by `@timestamp` reads in pipeline order.

Lines leave the job the way a deployed service's logs do: each operator instance hands them to a `LogWriter`,
which appends them, buffered, to its own `DIR/logs/<operator>-<subtask>-<pid>-<id>.jsonl` locally, or to the
worker's stdout in production (the TaskManager log, which the Flink log config / CloudWatch agent ships to the
log group). They never cross into the JVM as records: that round trip and Flink's file sink cost 2-3x the job.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pipeline.orders import RecordError, iso_ms

_encode: Callable[[Any], str]
try:
    # orjson comes with apache-flink (through apache-beam): ~10x json.dumps, which was half a line's cost.
    import orjson

    def _encode(line: Any) -> str:
        return orjson.dumps(line).decode()
except ImportError:  # pragma: no cover - the pure modules also run without pyflink installed
    _encode = json.JSONEncoder(separators=(",", ":")).encode

OPERATORS = ("parse", "validate", "dedup", "enrich", "sink", "window")
LOGGER = "order_processor"
_STAGE = {name: index for index, name in enumerate(OPERATORS)}


@dataclass(frozen=True, slots=True)
class LogContext:
    """What every line of one job carries: `environment` (prod, local) and the replica writing it."""

    environment: str = "local"
    replica: str = "order-processor-0"


def log_line(
    ctx: LogContext,
    *,
    event_ms: int,
    operator: str,
    message: str,
    latency_ms: float,
    order: dict[str, Any] | None = None,
    error: RecordError | None = None,
    dlq: bool = False,
    level: str | None = None,
    error_type: str | None = None,
    error_code: str | None = None,
    context: dict[str, Any] | None = None,
) -> str:
    """One JSON log line; an `error` (or an explicit `error_type`) makes it an error line, `dlq` marks DLQ."""
    order = order or {}
    failed = error is not None or error_type is not None
    line: dict[str, Any] = {
        "timestamp": iso_ms(event_ms + _STAGE.get(operator, 0)),
        "level": level or ("ERROR" if dlq else "WARN" if failed else "INFO"),
        "logger": LOGGER,
        "message": message,
        "correlation_id": order.get("correlation_id") or order.get("order_id"),
        "order_id": order.get("order_id"),
        "customer_id": order.get("customer_id"),
        "session_id": order.get("session_id"),
        "operator": operator,
        "latency_ms": round(latency_ms, 3),
        "status": "error" if failed else "success",
        "error_type": error.error_type if error else error_type,
        "error_code": error.error_code if error else error_code,
        "error_message": error.message if error else None,
        "environment": ctx.environment,
        "environment_replica": ctx.replica,
        "context": context or {},
    }
    if dlq:
        line["dlq"] = True
    return _encode(line)


class LogWriter:
    """Buffered JSON-lines output of one operator instance: a file of its own, or stdout when `path` is None.

    Lines are written in whole batches (every `max_lines` lines, or on the first line after `max_seconds`), so
    a reader never sees half a line from a finished batch and stdout lines of two operators do not interleave.
    `close()` writes what is left; the operator calls it from its own `close()`, before the job reports done.
    """

    def __init__(self, path: Path | None, *, max_lines: int = 1000, max_seconds: float = 5.0) -> None:
        self.path = path
        self.max_lines = max_lines
        self.max_seconds = max_seconds
        self.written = 0
        self._buffer: list[str] = []
        self._handle: TextIO | None = None
        self._last_flush = time.monotonic()

    def write(self, line: str) -> None:
        """Buffer one line (no trailing newline); flushes when the batch is full or old."""
        buffer = self._buffer
        buffer.append(line)
        if len(buffer) >= self.max_lines or time.monotonic() - self._last_flush > self.max_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines now."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        text = "\n".join(self._buffer) + "\n"
        self.written += len(self._buffer)
        self._buffer.clear()
        if self.path is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(text)
        self._handle.flush()

    def close(self) -> None:
        """Write what is left and release the file."""
        self.flush()
        if self._handle is not None:
            self._handle.close()
            self._handle = None
