"""The job's Flink functions: thin wrappers that call the pure modules, emit logs, DLQ records and metrics.

Each function is one logical operator of the guide (`parse`, `validate`, `dedup`, `enrich`, `sink`, `window`).
Per record it: calls `orders`/`enrichment`, yields the record on or sends it to the DLQ side output, writes one
log line through its own `LogWriter` (a file under `DIR/logs/`, or stdout in production: never through Flink),
and counts RecordsIn/Out/Error both as Flink metrics (operator group) and in its `MinuteMetrics`, flushed to
`DIR/metrics/` on close. To add an operator, subclass `Instrumented`.

Records between operators are plain dicts (pickled): the order's fields plus `event_ms` and `lat` (milliseconds
spent so far, including the customer API's reported latency), so the sink can observe end-to-end latency.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyflink.common import Time, Types
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import (
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    ProcessWindowFunction,
    RuntimeContext,
)
from pyflink.datastream.functions import AggregateFunction
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from pipeline.enrichment import CustomerCache, EnrichmentConfig, SimulatedCustomerApi
from pipeline.logs import LogContext, LogWriter, log_line
from pipeline.metrics import Dims, MinuteMetrics
from pipeline.orders import (
    Order,
    RecordError,
    dlq_record,
    event_time_hint,
    iso_ms,
    parse_order,
    validate_order,
)

DLQ = OutputTag("dlq", Types.STRING())
CANARY = OutputTag("canary", Types.STRING())
LATE = OutputTag("late", Types.PICKLED_BYTE_ARRAY())


@dataclass(frozen=True, slots=True)
class Instrumentation:
    """What the operators report: metrics (Flink's and the `metrics_dir` stream) and structured logs.

    Logs go to one file per operator instance under `logs_dir`, or to stdout when `logs_dir` is None; metrics
    (EMF lines) to one file per instance under `metrics_dir`, or to stdout with `metrics_stdout` (production).
    """

    metrics_dir: str | None = None
    metrics_stdout: bool = False
    flink_metrics: bool = True
    logs: bool = True
    logs_dir: str | None = None
    log_context: LogContext = field(default_factory=LogContext)
    flush_interval_s: float = 30.0
    log_flush_lines: int = 1000
    log_flush_interval_s: float = 5.0


class _Null:
    """Stands in for a Flink counter/distribution when metrics are off."""

    def inc(self, n: int = 1) -> None:
        """Do nothing."""

    def update(self, value: int) -> None:
        """Do nothing."""


_NULL = _Null()


class Instrumented:
    """Mixin: counters, the minute metrics buffer and the log writer of one operator instance."""

    operator = ""

    def __init__(self, inst: Instrumentation) -> None:
        self.inst = inst
        self.clock_ms = 0  # the operator's event-time clock: latest event time seen

    def open(self, runtime_context: RuntimeContext) -> None:
        """Register Flink metrics under `operator=<name>`, start the minute buffer and open the log writer."""
        self.subtask = runtime_context.get_index_of_this_subtask()
        self.minutes = MinuteMetrics() if self.inst.metrics_dir or self.inst.metrics_stdout else None
        self.log_writer: LogWriter | None = None
        if self.inst.logs:
            # One file per instance: several instances (and, locally, several operators) share one process.
            path = (Path(self.inst.logs_dir) / f"{self._instance_name()}.jsonl" if self.inst.logs_dir else None)
            self.log_writer = LogWriter(path, max_lines=self.inst.log_flush_lines,
                                        max_seconds=self.inst.log_flush_interval_s)
        self.last_flush = time.monotonic()
        self.dims: Dims = (("Operator", self.operator),)
        if self.inst.flink_metrics:
            group = runtime_context.get_metrics_group().add_group("operator", self.operator)
            self.c_in, self.c_out, self.c_err = (group.counter(n) for n in ("RecordsIn", "RecordsOut",
                                                                             "RecordsError"))
            self.c_dlq = group.counter("DLQRecordCount")
            self.group = group
        else:
            self.c_in = self.c_out = self.c_err = self.c_dlq = _NULL

    def close(self) -> None:
        """Flush what the minute buffer and the log writer still hold (before the job reports done)."""
        self.flush()
        if self.log_writer is not None:
            self.log_writer.close()

    def _instance_name(self) -> str:
        return f"{self.operator}-{self.subtask}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    def flush(self) -> None:
        """Write buffered datapoints to this subtask's file under `metrics_dir` (or stdout in production)."""
        if self.minutes is not None:
            self.minutes.flush(Path(self.inst.metrics_dir) / f"{self._instance_name()}.jsonl"
                               if self.inst.metrics_dir else None)
        self.last_flush = time.monotonic()

    def tick(self, event_ms: int) -> None:
        """Advance the event-time clock; flush now and then so a long job's metrics reach CloudWatch."""
        if event_ms > self.clock_ms:
            self.clock_ms = event_ms
        if self.minutes is not None and time.monotonic() - self.last_flush > self.inst.flush_interval_s:
            self.flush()

    def counted(self, event_ms: int, *, out: bool, error: RecordError | None = None, canary: bool = False) -> None:
        """Count one record in, and out or as an error (DLQ counts go with errors that reach the DLQ).

        Canary orders are not counted: they stay out of the business figures (they have metrics of their own).
        """
        if canary:
            return
        self.c_in.inc()
        if out:
            self.c_out.inc()
        if error is not None:
            self.c_err.inc()
            self.c_dlq.inc()
        m = self.minutes
        if m is not None:
            m.flow(event_ms, self.dims, out=out, error=error is not None)
            if error is not None:
                m.count("DLQRecordCount", event_ms, 1, (("ErrorType", error.error_type),))

    def dead_letter(self, error: RecordError, *, raw: str, event_ms: int, order: dict[str, Any] | None,
                    latency_ms: float, context: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield the DLQ record (a failed canary goes to the canary stream instead); write its log line."""
        order_id = order.get("order_id") if order else None
        record = dlq_record(error, raw=raw, event_ms=event_ms, order_id=order_id)
        if order is not None and "canary" in order:
            # No heartbeat for it at the sink: that is the signal. The business DLQ stays business only.
            yield CANARY, json.dumps({**record, "canary": True, "failed": True}, separators=(",", ":"))
        else:
            yield DLQ, json.dumps(record, separators=(",", ":"))
        if self.log_writer is not None:
            self.log_writer.write(log_line(self.inst.log_context, event_ms=event_ms, operator=self.operator,
                                           message=f"Order sent to DLQ: {error.message}", latency_ms=latency_ms,
                                           order=order, error=error, dlq=True, context=context))

    def logged(self, message: str, *, event_ms: int, order: dict[str, Any], latency_ms: float,
               context: dict[str, Any] | None = None) -> None:
        """Write one success log line (nothing when logs are off)."""
        if self.log_writer is not None:
            self.log_writer.write(log_line(self.inst.log_context, event_ms=event_ms, operator=self.operator,
                                           message=message, latency_ms=latency_ms, order=order, context=context))


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


class ParseOrders(Instrumented, ProcessFunction):  # type: ignore[misc]
    """parse: JSON line → order dict, or DLQ with parse_error."""

    operator = "parse"

    def process_element(self, raw: str, ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Parse one raw line."""
        start = time.perf_counter()
        try:
            order = parse_order(raw)
        except RecordError as error:
            # A record with no readable event time is placed at the operator's clock (or wall clock at start).
            event_ms = event_time_hint(raw) or self.clock_ms or int(time.time() * 1000)
            self.tick(event_ms)
            self.counted(event_ms, out=False, error=error)
            yield from self.dead_letter(error, raw=raw, event_ms=event_ms, order=_ids(raw),
                                        latency_ms=_ms_since(start))
            return
        self.tick(order.event_ms)
        record = {
            "order_id": order.order_id, "customer_id": order.customer_id, "session_id": order.session_id,
            "correlation_id": order.correlation_id, "amount": order.amount, "currency": order.currency,
            "items": order.items, "event_ms": order.event_ms, "raw": raw,
        }
        canary = order.fields.get("canary") is True
        if canary:
            record["canary"] = True
        latency = _ms_since(start)
        record["lat"] = latency
        self.counted(order.event_ms, out=True, canary=canary)
        yield record
        self.logged("Order parsed", event_ms=order.event_ms, order=record, latency_ms=latency)


def _ids(raw: str) -> dict[str, Any] | None:
    """The identifiers a failed record still carries, so its DLQ log line can be traced."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    keys = ("order_id", "customer_id", "session_id", "correlation_id")
    return {k: data[k] for k in keys if isinstance(data.get(k), str)}


class ValidateOrders(Instrumented, ProcessFunction):  # type: ignore[misc]
    """validate: business values, or DLQ with validation_error."""

    operator = "validate"

    def process_element(self, record: dict[str, Any], ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Validate one order."""
        start = time.perf_counter()
        event_ms = record["event_ms"]
        self.tick(event_ms)
        try:
            validate_order(_as_order(record))
        except RecordError as error:
            self.counted(event_ms, out=False, error=error, canary="canary" in record)
            yield from self.dead_letter(error, raw=record["raw"], event_ms=event_ms, order=record,
                                        latency_ms=_ms_since(start))
            return
        latency = _ms_since(start)
        record["lat"] += latency
        self.counted(event_ms, out=True, canary="canary" in record)
        yield record
        self.logged("Order validated", event_ms=event_ms, order=record, latency_ms=latency)


def _as_order(record: dict[str, Any]) -> Order:
    return Order(record["order_id"], record["customer_id"], record["session_id"], record["correlation_id"],
                 record["amount"], record["currency"], record["items"], record["event_ms"], {})


DEDUP_BUCKETS = 128


def dedup_bucket(record: dict[str, Any]) -> int:
    """The dedup key: a stable bucket of `order_id` (see `DeduplicateOrders` for why not the id itself)."""
    return zlib.crc32(record["order_id"].encode()) % DEDUP_BUCKETS


class DeduplicateOrders(Instrumented, KeyedProcessFunction):  # type: ignore[misc]
    """dedup: the first copy of an order_id passes; later copies within the dedup window go to the DLQ.

    Keyed by a bucket of order_id, the state holding {order_id: event time} for the bucket. Keyed by the id
    itself, every new order costs a state read round trip to the JVM (measured: ~1.5 ms, 30 s per 20k orders);
    128 bucket values stay in PyFlink's state cache. The TTL's visibility is ReturnExpiredIfNotCleanedUp
    because NeverReturnExpired turns PyFlink's state cache off; entries expire by event time after the window
    here, and the state's TTL (the same window) drops buckets that went quiet.
    """

    operator = "dedup"

    def __init__(self, inst: Instrumentation, window_ms: int) -> None:
        super().__init__(inst)
        self.window_ms = window_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        """Declare the bucket state with a TTL of the dedup window."""
        super().open(runtime_context)
        descriptor = ValueStateDescriptor("seen", Types.PICKLED_BYTE_ARRAY())
        ttl = (StateTtlConfig.new_builder(Time.milliseconds(self.window_ms))
               .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
               .set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
               .build())
        descriptor.enable_time_to_live(ttl)
        self.seen = runtime_context.get_state(descriptor)
        self.c_dup = self.group.counter("DuplicateRecordDetected") if self.inst.flink_metrics else _NULL

    def process_element(self, record: dict[str, Any], ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        """Pass the first copy of an order_id; send repeats to the DLQ."""
        start = time.perf_counter()
        event_ms = record["event_ms"]
        self.tick(event_ms)
        seen: dict[str, int] = self.seen.value() or {}
        first = seen.get(record["order_id"])
        if first is not None and abs(event_ms - first) < self.window_ms:
            error = RecordError("ERR-301", f"order_id {record['order_id']} already processed", operator="dedup")
            self.counted(event_ms, out=False, error=error, canary="canary" in record)
            self.c_dup.inc()
            if self.minutes is not None:
                self.minutes.count("DuplicateRecordDetected", event_ms)
            yield from self.dead_letter(error, raw=record["raw"], event_ms=event_ms, order=record,
                                        latency_ms=_ms_since(start))
            return
        seen[record["order_id"]] = event_ms
        if len(seen) % 256 == 0:
            horizon = self.clock_ms - self.window_ms
            seen = {k: v for k, v in seen.items() if v >= horizon}
        self.seen.update(seen)
        latency = _ms_since(start)
        record["lat"] += latency
        self.counted(event_ms, out=True, canary="canary" in record)
        if self.minutes is not None:
            self.minutes.count("DuplicateRecordDetected", event_ms, 0)
        yield record
        self.logged("Order is new", event_ms=event_ms, order=record, latency_ms=latency)


class EnrichOrders(Instrumented, ProcessFunction):  # type: ignore[misc]
    """enrich: add the customer profile through the cached lookup; timeouts go to the DLQ."""

    operator = "enrich"

    def __init__(self, inst: Instrumentation, config: EnrichmentConfig) -> None:
        super().__init__(inst)
        self.config = config

    def open(self, runtime_context: RuntimeContext) -> None:
        """Start with an empty cache per subtask, and expose its hit rate as a Flink gauge."""
        super().open(runtime_context)
        self.cache = CustomerCache(SimulatedCustomerApi(self.config), self.config)
        if self.inst.flink_metrics:
            self.c_hit, self.c_miss = self.group.counter("CacheHits"), self.group.counter("CacheMisses")
            self.c_timeout = self.group.counter("Timeouts")
            self.group.gauge("CacheHitRatePercent", self._hit_rate)
        else:
            self.c_hit = self.c_miss = self.c_timeout = _NULL

    def _hit_rate(self) -> int:
        lookups = self.cache.hits + self.cache.misses
        return round(100 * self.cache.hits / lookups) if lookups else 100

    def process_element(self, record: dict[str, Any], ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Enrich one order with its customer."""
        start = time.perf_counter()
        event_ms = record["event_ms"]
        self.tick(event_ms)
        lookup = self.cache.get(record["customer_id"], event_ms)
        (self.c_hit if lookup.cache_hit else self.c_miss).inc()
        m = self.minutes
        if m is not None and "canary" not in record:
            m.sample("EnrichmentCacheHitRate", event_ms, 100.0 if lookup.cache_hit else 0.0)
            m.count("EnrichmentCacheHits", event_ms, 1 if lookup.cache_hit else 0)
            m.count("EnrichmentCacheMisses", event_ms, 0 if lookup.cache_hit else 1)
            m.count("EnrichmentTimeouts", event_ms, 1 if lookup.timed_out else 0)
        latency = _ms_since(start) + lookup.api_latency_ms
        context = {
            "api_endpoint": f"customer-api/v1/customers/{record['customer_id']}",
            "api_latency_ms": lookup.api_latency_ms,
            "cache_hit": lookup.cache_hit,
        }
        if lookup.timed_out:
            self.c_timeout.inc()
            error = RecordError("ERR-401", f"Customer API timeout after {self.config.timeout_ms / 1000:g}s",
                                operator="enrich")
            self.counted(event_ms, out=False, error=error, canary="canary" in record)
            yield from self.dead_letter(error, raw=record["raw"], event_ms=event_ms, order=record,
                                        latency_ms=latency, context=context)
            return
        record["customer"] = lookup.customer
        record["lat"] += latency
        self.counted(event_ms, out=True, canary="canary" in record)
        yield record
        self.logged("Order enriched", event_ms=event_ms, order=record, latency_ms=latency,
                               context=context)


class SinkOrders(Instrumented, ProcessFunction):  # type: ignore[misc]
    """sink: serialize the enriched order (one line per order, what lands in S3), observe its latency."""

    operator = "sink"

    def open(self, runtime_context: RuntimeContext) -> None:
        """Add the latency distribution to the operator's Flink metrics."""
        super().open(runtime_context)
        self.d_latency = self.group.distribution("ProcessingLatencyMs") if self.inst.flink_metrics else _NULL

    def process_element(self, record: dict[str, Any], ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Write one enriched order."""
        start = time.perf_counter()
        event_ms = record["event_ms"]
        self.tick(event_ms)
        line = json.dumps({
            "order_id": record["order_id"], "customer_id": record["customer_id"],
            "session_id": record["session_id"], "correlation_id": record["correlation_id"],
            "amount": record["amount"], "currency": record["currency"], "items": record["items"],
            "event_time": iso_ms(event_ms), "customer": record.get("customer"),
        }, separators=(",", ":"))
        latency = _ms_since(start)
        total = record["lat"] + latency
        if "canary" in record:
            # A canary made it through every operator: its own stream, latency and heartbeat, no business output.
            if self.minutes is not None:
                self.minutes.observe("CanaryLatencyMs", event_ms, total)
                self.minutes.count("CanaryHeartbeat", event_ms)
            yield CANARY, line
            self.logged("Canary order came through", event_ms=event_ms, order=record, latency_ms=latency,
                        context={"pipeline_latency_ms": round(total, 3), "canary": True})
            return
        self.counted(event_ms, out=True)
        self.d_latency.update(int(total))
        if self.minutes is not None:
            self.minutes.observe("ProcessingLatency", event_ms, total)
        yield line
        self.logged("Order processed successfully", event_ms=event_ms, order=record,
                               latency_ms=latency, context={"pipeline_latency_ms": round(total, 3)})


class EventTime(TimestampAssigner):  # type: ignore[misc]
    """Event time is the order's `event_time`, parsed once by `parse`."""

    def extract_timestamp(self, value: dict[str, Any], record_timestamp: int) -> int:
        """The record's event time in epoch ms."""
        return int(value["event_ms"])


class WatermarkProbe(Instrumented, ProcessFunction):  # type: ignore[misc]
    """window (input side): counts records entering the windows and samples WatermarkLagMs."""

    operator = "window"

    def process_element(self, record: dict[str, Any], ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Pass the record on; measure how far the watermark trails the newest event time."""
        event_ms = record["event_ms"]
        self.tick(event_ms)
        if "canary" in record:
            return  # canaries stay out of the business aggregates
        self.c_in.inc()
        if self.minutes is not None:
            self.minutes.count("RecordsIn", event_ms, 1, self.dims)
            watermark = ctx.timer_service().current_watermark()
            if watermark > 0:
                # Locally the newest event time stands in for "now": a replay of old data is not "hours behind".
                self.minutes.sample("WatermarkLagMs", event_ms, max(0, self.clock_ms - watermark))
        yield {k: record[k] for k in ("order_id", "customer_id", "session_id", "correlation_id", "currency",
                                      "amount", "event_ms")}


class OrderTotals(AggregateFunction):  # type: ignore[misc]
    """Running (orders, revenue) of one window."""

    def create_accumulator(self) -> list[float]:
        """Start at zero."""
        return [0, 0.0]

    def add(self, value: dict[str, Any], accumulator: list[float]) -> list[float]:
        """Add one order."""
        return [accumulator[0] + 1, accumulator[1] + float(value["amount"])]

    def get_result(self, accumulator: list[float]) -> list[float]:
        """The totals."""
        return accumulator

    def merge(self, acc_a: list[float], acc_b: list[float]) -> list[float]:
        """Combine two partial totals."""
        return [acc_a[0] + acc_b[0], acc_a[1] + acc_b[1]]


class WindowResult(ProcessWindowFunction):  # type: ignore[misc]
    """Emit each firing with its window bounds, its firing number and how many orders it added."""

    def open(self, runtime_context: RuntimeContext) -> None:
        """Declare the per-window count of orders already emitted (late firings re-emit the window)."""
        self.emitted = ValueStateDescriptor("emitted", Types.LONG())

    def process(self, key: str, context: ProcessWindowFunction.Context, elements: Any) -> Iterator[Any]:
        """One window result; `added` is what this firing adds over the previous one."""
        orders, revenue = next(iter(elements))
        state = context.window_state().get_state(self.emitted)
        before = state.value() or 0
        state.update(int(orders))
        window = context.window()
        yield {"currency": key, "window_start": window.start, "window_end": window.end,
               "orders": int(orders), "revenue": round(revenue, 2), "added": int(orders) - before,
               "firing": "on_time" if before == 0 else "late_update"}

    def clear(self, context: ProcessWindowFunction.Context) -> None:
        """Drop the per-window count with the window."""
        context.window_state().get_state(self.emitted).clear()


class WindowAudit(Instrumented, ProcessFunction):  # type: ignore[misc]
    """window (output side): writes window results, logs them, and samples WindowCompleteness per window."""

    operator = "window"

    def process_element(self, result: dict[str, Any], ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Serialize a window result; every order it added is a 100 % completeness sample of its window."""
        start_ms = result["window_start"]
        self.tick(start_ms)
        self.c_out.inc(result["added"])
        if self.minutes is not None:
            self.minutes.count("RecordsOut", start_ms, result["added"], self.dims)
            self.minutes.count("RecordsError", start_ms, 0, self.dims)
            for _ in range(result["added"]):
                self.minutes.sample("WindowCompleteness", start_ms, 100.0)
        line = dict(result, window_start=iso_ms(start_ms), window_end=iso_ms(result["window_end"]))
        yield json.dumps(line, separators=(",", ":"))
        if self.log_writer is not None:
            self.log_writer.write(log_line(
                self.inst.log_context, event_ms=start_ms, operator="window", message="Window emitted",
                latency_ms=0.0, context={k: line[k] for k in ("currency", "window_start", "window_end",
                                                             "orders", "revenue", "added", "firing")}))


class LateArrivals(Instrumented, ProcessFunction):  # type: ignore[misc]
    """window (late side): counts events later than the allowed lateness; each is a 0 % completeness sample."""

    operator = "window"

    def __init__(self, inst: Instrumentation, window_ms: int) -> None:
        super().__init__(inst)
        self.window_ms = window_ms

    def process_element(self, record: dict[str, Any], ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Count and log one late arrival (it still reached the sink; only the aggregate misses it)."""
        event_ms = record["event_ms"]
        window_start = event_ms - event_ms % self.window_ms
        self.c_err.inc()
        if self.minutes is not None:
            self.minutes.count("LateArrivals", event_ms)
            self.minutes.count("RecordsError", window_start, 1, self.dims)
            self.minutes.sample("WindowCompleteness", window_start, 0.0)
        yield json.dumps({"order_id": record["order_id"], "event_time": iso_ms(event_ms),
                          "window_start": iso_ms(window_start), "currency": record["currency"]},
                         separators=(",", ":"))
        if self.log_writer is not None:
            self.log_writer.write(log_line(
                self.inst.log_context, event_ms=event_ms, operator="window",
                message="Event later than the allowed lateness; left out of its window", latency_ms=0.0,
                order=record, error_type="late_arrival", error_code="ERR-501",
                context={"window_start": iso_ms(window_start)}))
