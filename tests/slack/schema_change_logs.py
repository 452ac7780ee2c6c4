"""A schema-change run's parse-operator logs, made by the pipeline's own code without starting Flink.

`pipeline.generator` writes orders with the `schema_change` fault; each order goes through `parse_order`, and
the line the parse operator would log (`Order sent to DLQ: ...` or a success) is written with `log_line`, as
`pipeline.operators` does; parsed orders then pass `validate_order` (the validate operator). Two hours of
orders: the schema change is only in the last 20 minutes, a few invalid amounts all along.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.generator import Fault, generate_orders
from pipeline.logs import LogContext, log_line
from pipeline.orders import RecordError, parse_event_time, parse_order, validate_order


def write_schema_change_logs(directory: Path, *, end: datetime, orders: int = 3000) -> int:
    """Write the logs to `directory/pipeline.jsonl`; returns how many parse errors the schema change caused.

    The run ends half a minute before `end`: the generator jitters event times by ±2 s, and a query window
    ending at `end` must hold every line.
    """
    end -= timedelta(seconds=30)
    source = directory / "orders.in"
    result = generate_orders(source, orders=orders, minutes=120, start=end - timedelta(minutes=120),
                             faults=[Fault.parse("schema_change@100-119:0.5"),
                                     Fault.parse("invalid_amount@0-119:0.02")], seed=11)
    context, lines, parse_errors = LogContext(environment="prod"), [], 0
    for raw in source.read_text(encoding="utf-8").splitlines():
        data = json.loads(raw)
        event_ms = parse_event_time(data["event_time"])
        try:
            order = parse_order(raw)
        except RecordError as error:
            parse_errors += 1
            lines.append(log_line(context, event_ms=event_ms, operator="parse", latency_ms=0.2, order=data,
                                  message=f"Order sent to DLQ: {error.message}", error=error, dlq=True))
            continue
        lines.append(log_line(context, event_ms=event_ms, operator="parse", latency_ms=0.1, order=order.fields,
                              message="Order parsed"))
        try:
            validate_order(order)
        except RecordError as error:
            lines.append(log_line(context, event_ms=event_ms + 1, operator="validate", latency_ms=0.1,
                                  order=order.fields, message=f"Order sent to DLQ: {error.message}", error=error,
                                  dlq=True))
    source.unlink()
    (directory / "pipeline.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert result.faults["schema_change"] == parse_errors
    return parse_errors
