"""A fault-injecting order generator: realistic orders as JSON lines, deterministic for a given seed.

Orders are spread evenly over `minutes` of event time ending now (or starting at `start`), a little out of
order (±2 s). Faults apply to a span of minutes from the start, each with a rate (share of orders hit):

    schema_change    `customer_id` renamed `cust_id`           → parse_error in the DLQ
    duplicates       each hit order re-sent 1–3 times          → duplicate in the DLQ
    invalid_amount   amount negative, zero or a string         → validation_error in the DLQ
    slow_enrichment  the customer API answers in 3–9 s         → latency P99 up, timeouts in the DLQ
    late_events      event time pushed back by `late_by_min`   → late arrivals, WindowCompleteness down
    stall            the source produces nothing (canaries too) → no heartbeat: PipelineStalled

Faults of the platform around the job are not in the records either: they go to `<file>.faults.json`, with the
span, and `run_job` turns them into the metrics AWS and the Flink REST collector report in production
(`pipeline.infra`): `checkpoint_failure` (every checkpoint fails), `broker_down` (2 of 3 Kafka brokers alive),
`firehose_failure` (Firehose rejects puts), `consumer_lag` (the consumer falls behind by 20K records a minute
× rate). `slow_enrichment` goes there too: the API is slow, not the data; `run_job` configures the simulated
customer API with it.

Canaries (`canary_every`): a marked test order (`"canary": true`, order id `CANARY-…`) every N seconds of
event time, valid in every respect, so it passes every operator; the job keeps it out of the business output.

To add a record fault, add a kind to `RECORD_FAULTS` and a branch in `_apply`; a platform fault goes to
`PLATFORM_FAULTS` and `pipeline.infra`.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.orders import iso_ms

RECORD_FAULTS = ("schema_change", "duplicates", "invalid_amount", "slow_enrichment", "late_events")
PLATFORM_FAULTS = ("checkpoint_failure", "broker_down", "firehose_failure", "consumer_lag")
FAULT_KINDS = (*RECORD_FAULTS, "stall", *PLATFORM_FAULTS)
CURRENCY_WEIGHTS = {"USD": 0.6, "EUR": 0.25, "GBP": 0.15}
_FAULT = re.compile(r"^(?P<kind>[a-z_]+)@(?P<start>\d+(?:\.\d+)?)m?-(?P<end>\d+(?:\.\d+)?)m?(?::(?P<rate>[0-9.]+))?$")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault over minutes [start_min, end_min) of the generated span, hitting `rate` of the orders."""

    kind: str
    start_min: float
    end_min: float
    rate: float = 1.0

    @classmethod
    def parse(cls, text: str) -> Fault:
        """`kind@START-END[:rate]` in minutes from the start, e.g. `schema_change@10-14:0.8`."""
        match = _FAULT.match(text.strip())
        if not match or match["kind"] not in FAULT_KINDS:
            raise ValueError(f"fault must be KIND@START-END[:RATE] with KIND in {', '.join(FAULT_KINDS)}: {text!r}")
        rate = float(match["rate"]) if match["rate"] else 1.0
        return cls(match["kind"], float(match["start"]), float(match["end"]), rate)


@dataclass(slots=True)
class GeneratedOrders:
    """What was written: the file, the span of event time, and how many orders each fault touched."""

    path: Path
    start: datetime
    end: datetime
    lines: int
    faults: Counter[str] = field(default_factory=Counter)
    canaries: int = 0


def generate_orders(
    out: Path | str,
    *,
    orders: int = 1000,
    minutes: float = 30.0,
    start: datetime | None = None,
    faults: list[Fault] | None = None,
    seed: int = 7,
    customers: int = 3000,
    late_by_min: float = 15.0,
    canary_every_s: float | None = None,
) -> GeneratedOrders:
    """Write `orders` orders (plus duplicates and canaries) to `out` as JSON lines; returns what was written."""
    rng = random.Random(seed)
    faults = faults or []
    begin = (start or datetime.now(UTC) - timedelta(minutes=minutes)).astimezone(UTC).replace(microsecond=0)
    begin_ms = int(begin.timestamp() * 1000)
    span_ms = minutes * 60_000
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = GeneratedOrders(path, begin, begin + timedelta(minutes=minutes), 0)
    record_faults = [f for f in faults if f.kind in RECORD_FAULTS]
    stalls = [f for f in faults if f.kind == "stall"]
    canary_ms = int(canary_every_s * 1000) if canary_every_s else 0
    next_canary = begin_ms if canary_ms else None

    def stalled(at_ms: int) -> bool:
        return any(f.start_min <= (at_ms - begin_ms) / 60_000 < f.end_min for f in stalls)

    def canaries_until(limit_ms: float, handle: Any) -> None:
        nonlocal next_canary
        while next_canary is not None and next_canary < limit_ms:
            if not stalled(next_canary):
                handle.write(json.dumps(canary_order(next_canary), separators=(",", ":")) + "\n")
                result.canaries += 1
                result.lines += 1
            next_canary += canary_ms

    with path.open("w", encoding="utf-8") as handle:
        for i in range(orders):
            at_ms = begin_ms + int(span_ms * i / max(orders, 1))
            canaries_until(at_ms, handle)
            minute = (at_ms - begin_ms) / 60_000
            order = _order(rng, i, seed, at_ms + rng.randint(-2000, 2000), customers)
            copies = 1
            for fault in record_faults:
                if fault.start_min <= minute < fault.end_min and rng.random() < fault.rate:
                    copies += _apply(fault, order, rng, late_by_min, result.faults)
            if stalled(at_ms):
                result.faults["stall"] += copies
                continue
            for _ in range(copies):
                handle.write(json.dumps(order, separators=(",", ":")) + "\n")
                result.lines += 1
        canaries_until(begin_ms + span_ms, handle)
    write_sidecar(path, begin_ms=begin_ms, span_ms=int(span_ms), faults=faults, canary_every_s=canary_every_s)
    return result


def canary_order(at_ms: int) -> dict[str, Any]:
    """A synthetic test order at `at_ms`: valid in every field, marked `canary: true`."""
    return {
        "order_id": f"CANARY-{at_ms}",
        "customer_id": "CUST-CANARY",
        "session_id": "canary",
        "correlation_id": f"canary-{at_ms}",
        "amount": 1.0,
        "currency": "USD",
        "items": 1,
        "event_time": iso_ms(at_ms),
        "canary": True,
    }


def write_sidecar(path: Path, *, begin_ms: int, span_ms: int, faults: list[Fault],
                  canary_every_s: float | None) -> Path:
    """`<file>.faults.json`: the span and the faults `run_job` applies outside the records."""

    def span(fault: Fault) -> dict[str, Any]:
        return {"start": iso_ms(begin_ms + int(fault.start_min * 60_000)),
                "end": iso_ms(begin_ms + int(fault.end_min * 60_000)), "rate": fault.rate}

    plan: dict[str, Any] = {
        "span": {"start": iso_ms(begin_ms), "end": iso_ms(begin_ms + span_ms)},
        "canary_every_s": canary_every_s,
        "slow_enrichment": [{**span(f), "latency_ms": [3000.0, 9000.0]}
                            for f in faults if f.kind == "slow_enrichment"],
        "platform": [{"kind": f.kind, **span(f)} for f in faults if f.kind in (*PLATFORM_FAULTS, "stall")],
    }
    sidecar = path.with_name(path.name + ".faults.json")
    sidecar.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    return sidecar


def _order(rng: random.Random, index: int, seed: int, event_ms: int, customers: int) -> dict[str, Any]:
    # Customers follow a skewed popularity (a few buy often), which is what makes a cache worth having.
    customer = min(int(rng.paretovariate(1.2)), customers)
    customer = customer if rng.random() < 0.5 else rng.randint(1, customers)
    currency = rng.choices(list(CURRENCY_WEIGHTS), weights=list(CURRENCY_WEIGHTS.values()))[0]
    return {
        "order_id": f"ORD-{seed:03d}-{index:07d}",
        "customer_id": f"CUST-{customer:05d}",
        "session_id": f"sess-{rng.getrandbits(32):08x}",
        "correlation_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "amount": round(rng.lognormvariate(3.6, 0.8), 2),
        "currency": currency,
        "items": rng.randint(1, 6),
        "event_time": iso_ms(event_ms),
    }


def _apply(fault: Fault, order: dict[str, Any], rng: random.Random, late_by_min: float,
           counts: Counter[str]) -> int:
    """Apply one fault to `order` in place; returns how many extra copies to write."""
    if fault.kind == "schema_change":
        if "customer_id" in order:
            order["cust_id"] = order.pop("customer_id")
            counts[fault.kind] += 1
    elif fault.kind == "invalid_amount":
        order["amount"] = rng.choice([-abs(order["amount"]), 0, "12,50"])
        counts[fault.kind] += 1
    elif fault.kind == "late_events":
        moment = datetime.fromisoformat(order["event_time"].replace("Z", "+00:00"))
        order["event_time"] = iso_ms(int((moment - timedelta(minutes=late_by_min)).timestamp() * 1000))
        counts[fault.kind] += 1
    elif fault.kind == "duplicates":
        extra = rng.randint(1, 3)
        counts[fault.kind] += extra
        return extra
    elif fault.kind == "slow_enrichment":
        counts[fault.kind] += 1
    return 0
