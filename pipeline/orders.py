"""Per-record order logic: parse JSON into an order, validate its values, and classify failures.

Pure Python (no pyflink), so every rule is unit-testable. A failure is a `RecordError` carrying the DLQ fields
(`error_type`, `error_code`, message, operator). To add a rule, raise `RecordError` with a new code from the
table below in `parse_order` (schema: fields present, right types) or `validate_order` (business values).

A missing required field is a `parse_error`, as in the observability guide: it is what a source schema change
(`customer_id` renamed `cust_id`) looks like, and the DLQ runbook reads "parse_error > 80 % → schema change".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

REQUIRED_FIELDS = ("order_id", "customer_id", "amount", "currency", "event_time")
CURRENCIES = frozenset({"USD", "EUR", "GBP", "CAD", "AUD", "JPY"})
MAX_AMOUNT = 100_000.0

# error_code → (error_type, what it means); codes are stable, runbooks and dashboards quote them.
ERROR_CODES: dict[str, tuple[str, str]] = {
    "ERR-101": ("parse_error", "record is not valid JSON"),
    "ERR-102": ("parse_error", "record is not a JSON object"),
    "ERR-103": ("parse_error", "required field missing"),
    "ERR-104": ("parse_error", "field has the wrong type"),
    "ERR-105": ("parse_error", "event_time is not an ISO-8601 timestamp"),
    "ERR-201": ("validation_error", "amount is not a positive number within limits"),
    "ERR-202": ("validation_error", "currency is not supported"),
    "ERR-203": ("validation_error", "item count is not a positive integer"),
    "ERR-301": ("duplicate", "order_id already seen within the dedup window"),
    "ERR-401": ("timeout", "customer API did not answer within the timeout"),
}

class RecordError(Exception):
    """A record that goes to the dead-letter output; fields match the DLQ record and the log schema."""

    def __init__(self, error_code: str, message: str, *, operator: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.error_type = ERROR_CODES[error_code][0]
        self.message = message
        self.operator = operator

@dataclass(frozen=True, slots=True)
class Order:
    """A parsed order; `event_ms` is the event time in epoch milliseconds."""

    order_id: str
    customer_id: str
    session_id: str
    correlation_id: str
    amount: Any
    currency: Any
    items: Any
    event_ms: int
    fields: dict[str, Any]

def parse_order(raw: str) -> Order:
    """Decode one JSON line into an `Order`; raises RecordError (parse_error) on bad JSON or schema."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise RecordError("ERR-101", f"JSON parse failed: {exc}", operator="parse") from None
    if not isinstance(data, dict):
        raise RecordError("ERR-102", f"expected a JSON object, got {type(data).__name__}", operator="parse")
    for name in REQUIRED_FIELDS:
        if name not in data or data[name] is None:
            extra = sorted(set(data) - set(REQUIRED_FIELDS) - {"session_id", "correlation_id", "items"})
            hint = f" (unexpected fields: {', '.join(extra)})" if extra else ""
            raise RecordError("ERR-103", f"Field '{name}' not found{hint}", operator="parse")
    for name in ("order_id", "customer_id", "event_time"):
        if not isinstance(data[name], str) or not data[name]:
            raise RecordError("ERR-104", f"Field '{name}' must be a non-empty string", operator="parse")
    try:
        event_ms = parse_event_time(data["event_time"])
    except ValueError:
        raise RecordError("ERR-105", f"event_time {data['event_time'][:40]!r} is not ISO-8601",
                          operator="parse") from None
    order_id = data["order_id"]
    return Order(
        order_id=order_id,
        customer_id=data["customer_id"],
        session_id=str(data.get("session_id") or ""),
        correlation_id=str(data.get("correlation_id") or order_id),
        amount=data["amount"],
        currency=data["currency"],
        items=data.get("items", 1),
        event_ms=event_ms,
        fields=data,
    )

def validate_order(order: Order) -> None:
    """Check business values (amount, currency, items); raises RecordError (validation_error)."""
    amount = order.amount
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount <= MAX_AMOUNT:
        raise RecordError("ERR-201", f"amount {amount!r} must be a number in (0, {MAX_AMOUNT:.0f}]",
                          operator="validate")
    if order.currency not in CURRENCIES:
        raise RecordError("ERR-202", f"currency {order.currency!r} is not supported", operator="validate")
    items = order.items
    if isinstance(items, bool) or not isinstance(items, int) or items < 1:
        raise RecordError("ERR-203", f"items {items!r} must be a positive integer", operator="validate")

def parse_event_time(text: str) -> int:
    """ISO-8601 text (`Z` or offset) → epoch milliseconds; raises ValueError."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)

def event_time_hint(raw: str) -> int | None:
    """Best-effort event time of a record that failed to parse (so its log line and metric land in time)."""
    try:
        data = json.loads(raw)
        return parse_event_time(data["event_time"]) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None

def is_canary(raw: str) -> bool:
    """Whether a raw input line is a synthetic canary order (its producer marks it `"canary": true`)."""
    return '"canary":true' in raw or '"canary": true' in raw


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds → `2025-01-13T10:30:45.123Z`."""
    return f"{_iso_second(epoch_ms // 1000)}{epoch_ms % 1000:03d}Z"


@lru_cache(maxsize=4096)
def _iso_second(epoch_s: int) -> str:
    # Every log line and datum formats a timestamp; records arrive in near time order, so seconds repeat.
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")

def dlq_record(error: RecordError, *, raw: str, event_ms: int | None, order_id: str | None) -> dict[str, Any]:
    """The dead-letter record: why it failed, where, and the raw input so it can be replayed after a fix."""
    return {
        "error_type": error.error_type,
        "error_code": error.error_code,
        "error_message": error.message,
        "operator": error.operator,
        "order_id": order_id,
        "event_time": iso_ms(event_ms) if event_ms is not None else None,
        "raw": raw,
    }
