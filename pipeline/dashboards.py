"""The guide's four dashboards as code (Health, Performance, Errors, Capacity) and their `put_dashboard` calls.

Metric widgets read the `OrdersPipeline` namespace, and `AWS/Kafka` / `AWS/Firehose` for the platform's
brokers, consumer lag and S3 deliveries (`bot.platform_metrics`, as the alarms); Logs Insights widgets take their
query text from `queries/<name>.yaml` (key `query:`), so the dashboards and `/query` show the same thing; when a
file is missing the guide's query in `FALLBACK_QUERIES` is used. CloudWatch dashboards have no refresh setting in
their body (the console's auto-refresh is per viewer): the guide's refresh intervals are noted in each dashboard's
header.
To add a widget, append it to the dashboard's list in `dashboard_bodies`; the grid layout is computed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot import platform_metrics as aws
from pipeline.emf import NAMESPACE

DEFAULT_PREFIX = "orders-pipeline"
DEFAULT_LOG_GROUP = "/orders-pipeline/flink"
# The guide's queries, for when queries/<name>.yaml is not there (yet).
FALLBACK_QUERIES = {
    "dlq-breakdown": "fields error_type\n| filter dlq = true\n| stats count() as count by error_type\n"
                     "| sort count desc",
    "slow-operators": "fields operator, latency_ms\n| stats avg(latency_ms) as avg_latency, "
                      "max(latency_ms) as max_latency by operator\n| sort max_latency desc",
    "latency-percentiles": "fields latency_ms\n| filter latency_ms > 0\n| stats pct(latency_ms, 50) as p50, "
                           "pct(latency_ms, 95) as p95, pct(latency_ms, 99) as p99",
    "dlq-spike-cause": "fields @timestamp, error_type, operator, order_id\n"
                       "| filter error_type in [\"parse_error\", \"duplicate\", \"validation_error\"]\n"
                       "| stats count() as error_count by bin(5m), error_type\n| filter error_count > 100",
    "top-error-orders": "fields order_id\n| filter status = \"error\"\n"
                        "| stats count() as errors by order_id\n| sort errors desc\n| limit 20",
}
_WIDTH = 24


def load_query(queries_dir: Path, name: str) -> str:
    """The Logs Insights text of `queries/<name>.yaml`, or the guide's fallback when absent or unreadable."""
    path = Path(queries_dir) / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("query"), str) and data["query"].strip():
        return str(data["query"]).strip()
    return FALLBACK_QUERIES[name]


def _metric(title: str, metrics: list[list[Any]], *, stat: str = "Sum", view: str = "timeSeries",
            period: int = 60, annotations: list[dict[str, Any]] | None = None, width: int = 12) -> dict[str, Any]:
    props: dict[str, Any] = {"title": title, "metrics": metrics, "stat": stat, "view": view, "period": period}
    if annotations:
        props["annotations"] = {"horizontal": annotations}
    return {"type": "metric", "width": width, "height": 6, "properties": props}


def _m(name: str, *dims: str, **opts: Any) -> list[Any]:
    row: list[Any] = [NAMESPACE, name, *dims]
    if opts:
        row.append(opts)
    return row


def _aws(namespace: str, name: str, dims: aws.Dims, **opts: Any) -> list[Any]:
    """A platform metric row: namespace, name, then each dimension's name and value."""
    row: list[Any] = [namespace, name, *(part for dim in dims for part in dim)]
    if opts:
        row.append(opts)
    return row


def _logs(title: str, query: str, *, view: str = "table", width: int = 12) -> dict[str, Any]:
    return {"type": "log", "width": width, "height": 6, "properties": {"title": title, "query": query,
                                                                         "view": view}}


def _text(markdown: str) -> dict[str, Any]:
    return {"type": "text", "width": _WIDTH, "height": 2, "properties": {"markdown": markdown}}


def dashboard_bodies(*, queries_dir: Path, region: str = "us-east-1",
                     log_group: str = DEFAULT_LOG_GROUP) -> dict[str, dict[str, Any]]:
    """The four dashboards' bodies by short name (Health, Performance, Errors, Capacity)."""

    def q(name: str) -> str:
        return f"SOURCE '{log_group}' | {load_query(queries_dir, name)}"

    ops = ("parse", "validate", "dedup", "enrich", "sink", "window")
    health = [
        _text("# Orders pipeline: health\nIs the pipeline healthy? Four golden signals. Refresh: 60 s."),
        _metric("Consumer lag (records)", [_aws(aws.KAFKA_NAMESPACE, aws.CONSUMER_LAG_METRIC,
                                                    aws.CONSUMER_LAG_DIMENSIONS)], stat="Maximum",
                annotations=[{"label": "HIGH", "value": 50_000}]),
        _metric("DLQ records / min", [_m("DLQRecordCount")], annotations=[{"label": "CRITICAL", "value": 100}]),
        _metric("Latency P99 (ms)", [_m("ProcessingLatency")], stat="p99",
                annotations=[{"label": "SLO", "value": 5000}]),
        _metric("Window completeness (%)", [_m("WindowCompleteness")], stat="Average", period=300,
                annotations=[{"label": "HIGH", "value": 95, "fill": "below"}]),
        _metric("Canary heartbeat (canaries / min)", [_m("CanaryHeartbeat")],
                annotations=[{"label": "CRITICAL: stalled", "value": 1, "fill": "below"}]),
        _metric("Canary latency (ms)", [_m("CanaryLatencyMs", stat="p99"), _m("CanaryLatencyMs", stat="p50")],
                stat="p99"),
        _metric("Checkpoints completed / failed", [_m("checkpoint_completed_total"),
                                                   _m("checkpoint_failures_total")]),
        _metric("Correctness checks failed", [_m("InvariantViolations"), _m("ReconciliationMismatches")],
                period=300),
    ]
    performance = [
        _text("# Orders pipeline: performance\nWhat is slow and why? Refresh: 60 s."),
        _metric("Throughput in vs out", [_m("RecordsIn", "Operator", "parse"), _m("RecordsOut", "Operator", "sink")]),
        _metric("Checkpoint duration (ms)", [_m("checkpoint_duration_ms")], stat="Maximum",
                annotations=[{"label": "healthy", "value": 10_000}]),
        _metric("CPU / memory (%)", [_m("cpu_usage_percentage"), _m("memory_usage_percentage")], stat="Average"),
        _metric("Latency percentiles (ms)", [_m("ProcessingLatency", stat="p50"),
                                             _m("ProcessingLatency", stat="p95"),
                                             _m("ProcessingLatency", stat="p99")], stat="p99"),
        _logs("Per-operator latency", q("slow-operators")),
        _metric("Enrichment cache hit rate (%)", [_m("EnrichmentCacheHitRate")], stat="Average"),
    ]
    errors = [
        _text("# Orders pipeline: errors\nWhy are we getting errors? Refresh: 60 s."),
        _logs("DLQ by error type", q("dlq-breakdown"), view="pie"),
        _metric("Errors by operator", [_m("RecordsError", "Operator", op) for op in ops], view="bar"),
        # Success is a ratio (1 = every S3 put succeeded): on the right axis, beside our throttled puts.
        _metric("Firehose delivery", [_aws(aws.FIREHOSE_NAMESPACE, aws.FIREHOSE_METRIC, aws.FIREHOSE_DIMENSIONS,
                                           stat="Average", yAxis="right", label="DeliveryToS3.Success"),
                                      _m("firehose_throttle_count")],
                annotations=[{"label": "CRITICAL: failed deliveries", "value": 1, "fill": "below",
                              "yAxis": "right"}]),
        _logs("Top 20 orders with most errors", q("top-error-orders")),
        _metric("Enrichment timeouts", [_m("EnrichmentTimeouts")], width=_WIDTH),
    ]
    capacity = [
        _text("# Orders pipeline: capacity\nDo we need to scale? Refresh: 5 min."),
        _metric("CPU / memory trend (%)", [_m("cpu_usage_percentage"), _m("memory_usage_percentage")],
                stat="Average", period=300),
        # Brokers alive = brokers reporting ActiveControllerCount (its SampleCount per minute, as the alarm).
        _metric("Kafka brokers / Flink task managers", [
            _aws(aws.KAFKA_NAMESPACE, aws.BROKER_METRIC, aws.BROKER_DIMENSIONS, stat="SampleCount", period=60,
                 label="Kafka brokers reporting"),
            _m("task_manager_count")], stat="Minimum", period=300),
        _metric("State backend size (bytes)", [_m("state_backend_used_bytes")], stat="Maximum", period=300),
        _metric("Network throughput (msgs/s)", [_m("kafka_message_in_per_second")], stat="Average", period=300),
        _metric("Firehose throttles", [_m("firehose_throttle_count")], period=300, width=_WIDTH),
    ]
    return {name: _layout(widgets, region) for name, widgets in
            (("Health", health), ("Performance", performance), ("Errors", errors), ("Capacity", capacity))}


def _layout(widgets: list[dict[str, Any]], region: str) -> dict[str, Any]:
    """Place widgets left to right, wrapping at 24 columns, and set the region on every widget."""
    x = y = row_height = 0
    placed = []
    for widget in widgets:
        if x + widget["width"] > _WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append({**widget, "x": x, "y": y, "properties": {**widget["properties"], "region": region}})
        x += widget["width"]
        row_height = max(row_height, widget["height"])
    return {"start": "-PT3H", "periodOverride": "inherit", "widgets": placed}


def put_dashboard_requests(*, queries_dir: Path, prefix: str = DEFAULT_PREFIX, region: str = "us-east-1",
                           log_group: str = DEFAULT_LOG_GROUP) -> list[dict[str, Any]]:
    """boto3 `put_dashboard` keyword arguments, one per dashboard, named `{prefix}-{Name}`."""
    bodies = dashboard_bodies(queries_dir=queries_dir, region=region, log_group=log_group)
    return [{"DashboardName": f"{prefix}-{name}", "DashboardBody": json.dumps(body)}
            for name, body in bodies.items()]


class DashboardClient(Protocol):
    """The part of boto3's CloudWatch client `deploy_dashboards` uses."""

    def put_dashboard(self, **kwargs: Any) -> Any: ...


def deploy_dashboards(client: DashboardClient, requests: list[dict[str, Any]]) -> list[str]:
    """Create or replace each dashboard; returns their names."""
    for request in requests:
        client.put_dashboard(**request)
    return [r["DashboardName"] for r in requests]
