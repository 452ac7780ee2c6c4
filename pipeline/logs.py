"""Structured log lines in the observability guide's schema, one per record per operator decision.

Queries elsewhere depend on these names exactly (`order-trace` filters `order_id`, `dlq-breakdown` filters `dlq`
and groups by `error_type`, `slow-operators` groups by `operator` over `latency_ms`): add keys under `context`,
never at the top level. `timestamp` is the record's event time, so a replay's logs line up with its metrics,
stepped by one millisecond per operator so that a trace sorted by `@timestamp` reads in pipeline order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipeline.orders import RecordError, iso_ms

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
    return json.dumps(line, separators=(",", ":"))
