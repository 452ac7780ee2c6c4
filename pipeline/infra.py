"""The platform around the job, simulated for a local run: what AWS and the Flink REST collector report.

In production Kafka's brokers and consumer lag come from `AWS/Kafka`, Firehose's deliveries from `AWS/Firehose`
(the metrics, namespaces and dimensions of `bot.platform_metrics`), and checkpoint counts from the cluster's REST
API (`pipeline.collector`). A local replay has none of these, so `run_job` writes them from the generator's plan
(`<source>.faults.json`), under those same namespaces, names and dimensions: per event-time minute of the
generated span one `ActiveControllerCount` datum per live broker (1 on the controller, 0 elsewhere), the
`SumOffsetLag` and `DeliveryToS3.Success`, and the checkpoint counts, healthy except where a platform fault says
otherwise. They go to `DIR/metrics/simulated-platform.jsonl` in EMF like every other metric, so the evaluator,
`incident-bot health`, graphs and the alarms treat them alike, and the evaluation runs to the end of the span even
when the source stalls.
To simulate another platform fault, add its kind to `generator.PLATFORM_FAULTS` and a branch in `minute_datums`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import platform_metrics as aws
from pipeline import emf
from pipeline.orders import parse_event_time

BROKERS = 3
CHECKPOINTS_PER_MINUTE = 6  # every 10 s, the job's default interval
LAG_GROWTH_PER_MINUTE = 20_000
LAG_DRAIN_PER_MINUTE = 30_000
BASELINE_LAG = 800
DELIVERY_SUCCESS_DURING_FAILURE = 0.75  # DeliveryToS3.Success: a quarter of the S3 puts fail
FILE_NAME = "simulated-platform.jsonl"


@dataclass(frozen=True, slots=True)
class PlatformFault:
    """A platform fault over [start_ms, end_ms)."""

    kind: str
    start_ms: int
    end_ms: int
    rate: float = 1.0

    def active(self, minute_ms: int) -> bool:
        """Whether the fault covers the minute starting at `minute_ms`."""
        return self.start_ms <= minute_ms < self.end_ms


def load_plan(source: Path) -> tuple[int, int, list[PlatformFault]] | None:
    """(span start ms, span end ms, platform faults) from `<source>.faults.json`, or None without a plan."""
    sidecar = source.with_name(source.name + ".faults.json")
    if not sidecar.is_file():
        return None
    plan: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
    if "span" not in plan:
        return None
    faults = [PlatformFault(f["kind"], parse_event_time(f["start"]), parse_event_time(f["end"]),
                            float(f.get("rate", 1.0))) for f in plan.get("platform", [])]
    return parse_event_time(plan["span"]["start"]), parse_event_time(plan["span"]["end"]), faults


def minute_datums(start_ms: int, end_ms: int, faults: list[PlatformFault]) -> Iterator[dict[str, Any]]:
    """EMF documents for every minute of [start_ms, end_ms): brokers, lag, Firehose (as AWS publishes them),
    checkpoints."""
    lag = float(BASELINE_LAG)
    minute = emf.minute_of(start_ms)
    while minute < end_ms:
        active = {f.kind: f for f in faults if f.active(minute)}
        brokers = BROKERS - 1 if "broker_down" in active else BROKERS
        if "consumer_lag" in active:
            lag += LAG_GROWTH_PER_MINUTE * active["consumer_lag"].rate
        else:
            lag = max(float(BASELINE_LAG), lag - LAG_DRAIN_PER_MINUTE)
        if "stall" in active:
            lag = 0.0  # nothing produced, nothing to consume
        success = DELIVERY_SUCCESS_DURING_FAILURE if "firehose_failure" in active else 1.0
        failing = "checkpoint_failure" in active
        for broker in range(brokers):  # each live broker reports once a minute; broker 0 is the controller
            yield emf.count_document(aws.BROKER_METRIC, 1 if broker == 0 else 0, timestamp_ms=minute,
                                     dims=aws.BROKER_DIMENSIONS, namespace=aws.KAFKA_NAMESPACE)
        yield emf.count_document(aws.CONSUMER_LAG_METRIC, lag, timestamp_ms=minute,
                                 dims=aws.CONSUMER_LAG_DIMENSIONS, namespace=aws.KAFKA_NAMESPACE)
        yield emf.count_document(aws.FIREHOSE_METRIC, success, timestamp_ms=minute, unit="None",
                                 dims=aws.FIREHOSE_DIMENSIONS, namespace=aws.FIREHOSE_NAMESPACE)
        yield emf.count_document("checkpoint_failures_total", CHECKPOINTS_PER_MINUTE if failing else 0,
                                 timestamp_ms=minute)
        yield emf.count_document("checkpoint_completed_total", 0 if failing else CHECKPOINTS_PER_MINUTE,
                                 timestamp_ms=minute)
        minute += 60_000


def write_simulated_metrics(source: Path, metrics_dir: Path) -> int:
    """Write the simulated platform metrics of `source`'s plan under `metrics_dir`; 0 when it has no plan."""
    plan = load_plan(source)
    if plan is None:
        return 0
    start_ms, end_ms, faults = plan
    path = metrics_dir / FILE_NAME
    if path.exists():
        path.unlink()
    return emf.write(minute_datums(start_ms, end_ms, faults), path)
