"""The Flink topology and `run_job`: the only module that builds a job (operators live in `operators`).

    source ─ parse ─ timestamps/watermarks ─ validate ─ dedup(order_id) ─ enrich ─┬─ sink ──────────── output/
       │       │                                │          │        │         │    └ canaries ─── canary/
       │       │                                │          │        │         └─ window 5 min ─── windows/
       │       └──────────── DLQ side outputs ──┴──────────┴────────┴──────────────┘    └ late ── late/
    every operator instance writes its own log lines and EMF metrics (not through Flink) ── logs/, metrics/

Locally sources and sinks are JSON-lines files; in production the source is Kafka (`kafka://BROKERS/TOPIC`) and
the sinks Firehose delivery streams (`firehose://NAME`), which need connector jars in the image (see README).
Log lines go straight from the Python workers to `DIR/logs/*.jsonl` locally and to stdout in production (the
TaskManager log, shipped to CloudWatch Logs); see `pipeline.logs.LogWriter`.
To add a sink, extend `_sink`; to add an operator, chain it in `build_job`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.enrichment import EnrichmentConfig, SlowWindow
from pipeline.infra import write_simulated_metrics
from pipeline.logs import LogContext
from pipeline.orders import is_canary, parse_event_time

WINDOW_MS = 5 * 60_000
OUTPUTS = ("output", "windows", "dlq", "late", "canary", "logs")


@dataclass(frozen=True, slots=True)
class JobConfig:
    """Everything a run can change; defaults suit a local replay."""

    parallelism: int = 1
    checkpoint_interval_ms: int = 10_000
    dedup_window_ms: int = 60 * 60_000
    out_of_orderness_ms: int = 5_000
    allowed_lateness_ms: int = 60_000
    watermark_interval_ms: int = 20
    enrichment: EnrichmentConfig = field(default_factory=EnrichmentConfig)
    metrics: bool = True
    logs: bool = True
    environment: str = "local"
    source_rate: float = 0.0  # records/s per source reader when > 0: replays a file at a steady pace


@dataclass(frozen=True, slots=True)
class JobSummary:
    """What a local run wrote, counted from its output directories."""

    out_dir: Path
    input_records: int
    output_records: int
    dlq_by_type: dict[str, int]
    late_records: int
    window_orders: int
    seconds: float
    canary_records: int = 0

    @property
    def dlq_records(self) -> int:
        """All DLQ records, whatever their error type."""
        return sum(self.dlq_by_type.values())


def run_job(source: Path | str, out_dir: Path | str, *, config: JobConfig | None = None) -> JobSummary:
    """Run the job to completion on Flink's local mini-cluster; returns counts read back from `out_dir`."""
    config = config or JobConfig()
    source_path, out = Path(source).resolve(), Path(out_dir).resolve()
    if not config.enrichment.slow_windows:
        config = with_fault_sidecar(config, source_path)
    for name in (*OUTPUTS, "metrics"):
        (out / name).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    env = build_job(str(source_path), str(out), config)
    env.execute("orders-pipeline")
    seconds = time.perf_counter() - started
    if config.metrics:
        write_simulated_metrics(source_path, out / "metrics")
    with source_path.open(encoding="utf-8") as handle:
        inputs = sum(1 for line in handle if line.strip() and not is_canary(line))
    return summarize(out, input_records=inputs, seconds=seconds)


def summarize(out: Path, *, input_records: int, seconds: float = 0.0) -> JobSummary:
    """Count what a finished run wrote under `out` (window totals take each window's last firing)."""
    dlq: dict[str, int] = {}
    for record in read_lines(out / "dlq"):
        dlq[record["error_type"]] = dlq.get(record["error_type"], 0) + 1
    windows: dict[tuple[str, str], int] = {}
    for result in read_lines(out / "windows"):
        key = (result["currency"], result["window_start"])
        windows[key] = max(windows.get(key, 0), result["orders"])
    return JobSummary(
        out_dir=out,
        input_records=input_records,
        output_records=sum(1 for _ in read_lines(out / "output")),
        dlq_by_type=dlq,
        late_records=sum(1 for _ in read_lines(out / "late")),
        window_orders=sum(windows.values()),
        seconds=seconds,
        canary_records=sum(1 for _ in read_lines(out / "canary")),
    )


def read_lines(directory: Path) -> Any:
    """Every JSON line in the finished part files under `directory` (in-progress `.part` files skipped)."""
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        yield json.loads(line)


def with_fault_sidecar(config: JobConfig, source: Path) -> JobConfig:
    """Apply `<source>.faults.json` (written by the generator) so the simulated customer API is slow then."""
    sidecar = source.with_name(source.name + ".faults.json")
    if not sidecar.is_file():
        return config
    spans = json.loads(sidecar.read_text(encoding="utf-8")).get("slow_enrichment", [])
    windows = tuple(
        SlowWindow(parse_event_time(s["start"]), parse_event_time(s["end"]), tuple(s["latency_ms"]))
        for s in spans
    )
    enrichment = EnrichmentConfig(**{**_fields(config.enrichment), "slow_windows": windows})
    return JobConfig(**{**_fields(config), "enrichment": enrichment})


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def build_job(source: str, out: str, config: JobConfig) -> Any:
    """Build (not run) the job; returns the `StreamExecutionEnvironment`.

    `source` is a file path or `kafka://BROKERS/TOPIC`; `out` a directory or `firehose://PREFIX` (then log lines
    and metrics, as EMF documents, go to the workers' stdout, where the CloudWatch agent picks them up).
    """
    from pyflink.common import Configuration, Duration, Time, Types, WatermarkStrategy
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.datastream.window import TumblingEventTimeWindows

    from pipeline.operators import (
        CANARY,
        DLQ,
        LATE,
        DeduplicateOrders,
        EnrichOrders,
        EventTime,
        Instrumentation,
        LateArrivals,
        OrderTotals,
        ParseOrders,
        SinkOrders,
        ValidateOrders,
        WatermarkProbe,
        WindowAudit,
        WindowResult,
        dedup_bucket,
    )

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_python_executable(sys.executable)  # workers share our interpreter: seconds, not minutes, to start
    env.set_parallelism(config.parallelism)
    env.enable_checkpointing(config.checkpoint_interval_ms)
    env.get_config().set_auto_watermark_interval(config.watermark_interval_ms)

    local = "://" not in out
    inst = Instrumentation(
        metrics_dir=str(Path(out) / "metrics") if config.metrics and local else None,
        metrics_stdout=config.metrics and not local,
        flink_metrics=config.metrics,
        logs=config.logs,
        logs_dir=str(Path(out) / "logs") if local else None,
        log_context=LogContext(environment=config.environment),
    )
    raw = _source(env, source)
    if config.source_rate > 0:
        raw = raw.map(Throttle(config.source_rate), output_type=Types.STRING()).name("throttle")
        # Python operators take up to 100 000 records per bundle by default: the file source would read the whole
        # file into the throttle's first bundle and finish, and the job would run (and checkpoint) as a finishing
        # task. Small bundles hold the source to the throttle's pace, like a live stream (Kafka never finishes).
        bundle = Configuration()
        bundle.set_integer("python.fn-execution.bundle.size", max(1, int(config.source_rate // 4)))
        env.configure(bundle)
    parsed = raw.process(ParseOrders(inst)).name("parse")
    timed = parsed.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(config.out_of_orderness_ms))
        .with_timestamp_assigner(EventTime())
    )
    validated = timed.process(ValidateOrders(inst)).name("validate")
    deduped = (validated.key_by(dedup_bucket, key_type=Types.INT())
               .process(DeduplicateOrders(inst, config.dedup_window_ms)).name("dedup"))
    enriched = deduped.process(EnrichOrders(inst, config.enrichment)).name("enrich")
    sunk = enriched.process(SinkOrders(inst), output_type=Types.STRING()).name("sink")

    probed = enriched.process(WatermarkProbe(inst)).name("window-in")
    windowed = (probed.key_by(lambda r: r["currency"], key_type=Types.STRING())
                .window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS)))
                .allowed_lateness(config.allowed_lateness_ms)
                .side_output_late_data(LATE)
                .aggregate(OrderTotals(), WindowResult()))
    audited = windowed.process(WindowAudit(inst), output_type=Types.STRING()).name("window-out")
    late = windowed.get_side_output(LATE).process(LateArrivals(inst, WINDOW_MS), output_type=Types.STRING())

    _sink(sunk, out, "output")
    # Canaries that came through, and those an operator refused (kept out of the business DLQ).
    _sink(sunk.get_side_output(CANARY).union(validated.get_side_output(CANARY), deduped.get_side_output(CANARY),
                                             enriched.get_side_output(CANARY)), out, "canary")
    _sink(audited, out, "windows")
    _sink(late.name("late"), out, "late")
    dlq = parsed.get_side_output(DLQ).union(
        validated.get_side_output(DLQ), deduped.get_side_output(DLQ), enriched.get_side_output(DLQ))
    _sink(dlq, out, "dlq")
    return env


class Throttle:
    """Identity map that holds a stream to `rate` records/s (per subtask), so a file replays like live traffic."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0

    def __call__(self, line: str) -> str:
        now = time.monotonic()
        self.next_at = max(self.next_at + self.interval, now - 1.0)  # at most 1 s of catch-up after a pause
        if self.next_at > now:
            time.sleep(self.next_at - now)
        return line


def _source(env: Any, source: str) -> Any:
    """JSON-lines file(s) locally; `kafka://BROKERS/TOPIC` in production (needs flink-sql-connector-kafka)."""
    from pyflink.common import WatermarkStrategy
    from pyflink.common.serialization import SimpleStringSchema

    if source.startswith("kafka://"):
        from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource

        brokers, _, topic = source.removeprefix("kafka://").partition("/")
        kafka = (KafkaSource.builder().set_bootstrap_servers(brokers).set_topics(topic or "orders.raw")
                 .set_group_id("orders-pipeline")
                 .set_starting_offsets(KafkaOffsetsInitializer.committed_offsets())
                 .set_value_only_deserializer(SimpleStringSchema()).build())
        return env.from_source(kafka, WatermarkStrategy.no_watermarks(), "kafka-orders")
    from pyflink.datastream.connectors.file_system import FileSource, StreamFormat

    files = FileSource.for_record_stream_format(StreamFormat.text_line_format(), source).build()
    return env.from_source(files, WatermarkStrategy.no_watermarks(), "orders-file")


def _sink(stream: Any, out: str, name: str) -> None:
    """JSON lines under `out/name/` locally; `firehose://PREFIX` sends to delivery stream `PREFIX-name`."""
    target = out
    if target.startswith("firehose://"):
        from pyflink.common.serialization import SimpleStringSchema
        from pyflink.datastream.connectors.kinesis import KinesisFirehoseSink

        firehose = (KinesisFirehoseSink.builder().set_delivery_stream_name(
            f"{target.removeprefix('firehose://')}-{name}")
            .set_serialization_schema(SimpleStringSchema()).build())
        stream.sink_to(firehose).name(f"firehose-{name}")
        return
    from pyflink.common.serialization import Encoder
    from pyflink.datastream.connectors.file_system import (
        BucketAssigner,
        FileSink,
        OutputFileConfig,
        RollingPolicy,
    )

    files = (FileSink.for_row_format(str(Path(target) / name), Encoder.simple_string_encoder())
             .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner())
             .with_output_file_config(OutputFileConfig.builder().with_part_prefix(name)
                                      .with_part_suffix(".jsonl").build())
             .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
             .build())
    stream.sink_to(files).name(f"files-{name}")
