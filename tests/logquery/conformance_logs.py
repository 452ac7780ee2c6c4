"""Generated logs for the conformance suite: two hours of events, every value known to the test that checks it.

The first hour is the comparison period of `diff`; the query period is the second hour (`START`..`END`). Each
message comes from one of `TEMPLATES` (its index is kept in `template`), so the expected patterns are known
without mining; one template appears only in the query period, one only in the comparison period.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)
END = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
PREVIOUS = START - timedelta(hours=1)
WORDS = ("alpha", "bravo", "charlie", "delta")
# (message template, its pattern as the miner shows it, periods it occurs in: "both", "current", "previous")
TEMPLATES = (
    ("Order {id} processed in {n} ms", "Order <*> processed in <*> ms", "both"),
    ("Cache miss for customer {id} region {w}", "Cache miss for customer <*> region <*>", "both"),
    ("Order sent to DLQ: Field 'customer_id' not found", "Order sent to DLQ: Field 'customer_id' not found",
     "current"),
    ("Connection to {w} reset by peer", "Connection to <*> reset by peer", "previous"),
    ("Customer API timeout after {n}s", "Customer API timeout after <*>", "both"),
)
OPERATORS = ("parse", "validate", "enrich", "sink")


@dataclass(frozen=True)
class Event:
    """One generated log line and what the generator knows about it."""

    at: datetime
    template: int
    line: dict[str, Any]

    @property
    def current(self) -> bool:
        """In the query period [START, END]."""
        return START <= self.at <= END


def generate(count: int = 2400, seed: int = 5) -> list[Event]:
    """`count` events spread over two hours, deterministic for a seed."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        at = PREVIOUS + timedelta(milliseconds=rng.randrange(7_200_000))
        current = at >= START
        choices = [k for k, (_, _, when) in enumerate(TEMPLATES)
                   if when == "both" or (when == "current") == current]
        template = rng.choices(choices, [8 if TEMPLATES[k][2] == "both" else 1 for k in choices])[0]
        message = TEMPLATES[template][0]
        while "{" in message:
            message = (message.replace("{id}", f"ORD-{rng.randrange(10**6)}", 1)
                       .replace("{n}", str(rng.randrange(1, 9000)), 1).replace("{w}", rng.choice(WORDS), 1))
        level = "ERROR" if "DLQ" in message else "WARN" if "timeout" in message else "INFO"
        octets = [rng.choice((10, 172, 192, 8)), rng.randrange(256), rng.randrange(256), rng.randrange(256)]
        line: dict[str, Any] = {
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "level": level, "message": message, "operator": OPERATORS[i % 4], "order_id": f"ORD-{i}",
            "latency_ms": round(rng.lognormvariate(3, 1), 2), "status": "error" if level != "INFO" else "ok",
            "ip": ".".join(map(str, octets)) if i % 7 else f"2001:db8::{i:x}",
            "items": [f"sku-{rng.randrange(5)}" for _ in range(i % 3)],
            "user": f"  {rng.choice(WORDS).title()}  ",
        }
        if i % 11 == 0:
            del line["latency_ms"]  # some events lack the field
        events.append(Event(at, template, line))
    return sorted(events, key=lambda event: event.at)


def write(directory: Path, events: list[Event]) -> str:
    """Write the events as JSON lines to `directory/app.jsonl`; returns the glob."""
    (directory / "app.jsonl").write_text("".join(json.dumps(e.line) + "\n" for e in events), encoding="utf-8")
    return str(directory / "*.jsonl")
