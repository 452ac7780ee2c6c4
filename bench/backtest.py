"""Backtesting 14 days × 8 alarms at 1-minute resolution (goal: < 5 s), from a local EMF metrics stream.

Writes 14 days of per-minute EMF lines for the metrics of 8 alarms (DLQ, checkpoint failures, brokers, Firehose,
lag, P99 latency as a histogram, canary heartbeat, window completeness) with a spike now and then, then times:
reading the stream (`pipeline.emf`), the replay alone (`pipeline.backtest` over every alarm), and the whole
`incident-bot alarms backtest --days 14 --json` and `alarms tune --days 14 --json` as a user runs them
(METRICS_BACKEND=local). Each figure is the median of --repeat runs.

    .venv/bin/python bench/backtest.py [--days 14] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Import this checkout's packages (not an installed copy), and not bench/ itself.
sys.path[:] = [str(Path(__file__).resolve().parent.parent),
               *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

from typer.testing import CliRunner  # noqa: E402

from bot import platform_metrics as aws  # noqa: E402
from bot.cli import app  # noqa: E402
from pipeline import emf  # noqa: E402
from pipeline.alarms import ALARMS  # noqa: E402
from pipeline.backtest import backtest, to_values  # noqa: E402

METRICS = ("DLQRecordCount", "checkpoint_failures_total", aws.BROKER_METRIC, aws.FIREHOSE_METRIC,
           aws.CONSUMER_LAG_METRIC, "ProcessingLatency", "CanaryHeartbeat", "WindowCompleteness")


def write_history(directory: Path, *, end: datetime, days: float, seed: int = 7) -> int:
    """Per-minute EMF documents for every metric in METRICS over `days` before `end`; returns how many lines."""
    rng = random.Random(seed)
    minutes = int(days * 1440)
    start = end - timedelta(minutes=minutes)
    lines = 0
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "history.jsonl").open("w", encoding="utf-8") as out:
        for i in range(minutes):
            ms = int((start + timedelta(minutes=i)).timestamp() * 1000)
            spike = rng.random() < 0.002
            values = {
                "DLQRecordCount": rng.uniform(0, 60) + (400 if spike else 0),
                "checkpoint_failures_total": 1.0 if rng.random() < 0.0005 else 0.0,
                "CanaryHeartbeat": 1.0,
                "WindowCompleteness": rng.uniform(97, 100),
            }
            docs = [emf.count_document(name, value, timestamp_ms=ms) for name, value in values.items()]
            # The platform's metrics as AWS publishes them (pipeline.infra): one ActiveControllerCount per broker.
            docs += [emf.count_document(aws.BROKER_METRIC, 1 if b == 0 else 0, timestamp_ms=ms,
                                        dims=aws.BROKER_DIMENSIONS, namespace=aws.KAFKA_NAMESPACE)
                     for b in range(2 if spike else 3)]
            docs += [emf.count_document(aws.CONSUMER_LAG_METRIC, rng.uniform(1_000, 30_000) + (60_000 if spike else 0),
                                        timestamp_ms=ms, dims=aws.CONSUMER_LAG_DIMENSIONS,
                                        namespace=aws.KAFKA_NAMESPACE),
                     emf.count_document(aws.FIREHOSE_METRIC, 1.0, timestamp_ms=ms, dims=aws.FIREHOSE_DIMENSIONS,
                                        namespace=aws.FIREHOSE_NAMESPACE)]
            for doc in docs:
                out.write(emf.encode(doc) + "\n")
            latency = emf.Stat()
            for _ in range(5):
                latency.add(float(round(rng.uniform(50, 900) + (6000 if spike else 0))))
                latency.values[latency.maximum] += 1
            for doc in emf.stat_documents("ProcessingLatency", latency, timestamp_ms=ms, unit="Milliseconds"):
                out.write(emf.encode(doc) + "\n")
            lines += len(docs) + 1
    return lines


def timed(work: object) -> tuple[float, float]:
    """Wall and CPU seconds (this process) of one call of `work`."""
    started, cpu = time.perf_counter(), time.process_time()
    work()  # type: ignore[operator]
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    """Write the history once, then time reading, replaying and the two commands."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    end = datetime(2026, 12, 1, tzinfo=UTC)
    lines = write_history(work / "metrics", end=end, days=args.days)
    specs = [spec for spec in ALARMS if spec.metric in METRICS]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {lines:,} EMF lines, "
          f"{len(specs)} alarms, {args.days:g} days")

    stream = emf.MetricStream.load(work / "metrics")
    start = end - timedelta(days=args.days)
    values = {spec.name: to_values(stream.series(spec.metric, spec.dimensions, start=start - timedelta(minutes=10),
                                                 end=end, period=spec.period, statistic=spec.statistic))
              for spec in specs}
    episodes = sum(len(backtest(spec, values[spec.name], start, end)["episodes"]) for spec in specs)

    os.environ.update(METRICS_BACKEND="local", LOCAL_METRICS=str(work / "metrics"),
                      DATABASE_URL=f"sqlite:///{work / 'empty.db'}")
    runner = CliRunner()

    def command(*argv: str) -> None:
        result = runner.invoke(app, list(argv))
        if result.exit_code != 0:
            raise SystemExit(result.output)
        json.loads(result.output)

    figures = {
        "read EMF stream": [timed(lambda: emf.MetricStream.load(work / "metrics")) for _ in range(args.repeat)],
        "replay only (all alarms)": [timed(lambda: [backtest(s, values[s.name], start, end) for s in specs])
                                     for _ in range(args.repeat)],
        "alarms backtest --json": [timed(lambda: command("alarms", "backtest", "--days", str(args.days), "--json"))
                                   for _ in range(args.repeat)],
        "alarms tune --json": [timed(lambda: command("alarms", "tune", "--days", str(args.days), "--json"))
                               for _ in range(args.repeat)],
    }
    for name, runs in figures.items():
        wall, cpu = [w for w, _ in runs], [c for _, c in runs]
        print(f"{name:<28} wall median {statistics.median(wall):6.2f} s, CPU median {statistics.median(cpu):6.2f} s"
              f"  (wall runs: {', '.join(f'{w:.2f}' for w in wall)})")
    print(f"{episodes} would-be ALARM episodes; goal: backtest < 5 s")


if __name__ == "__main__":
    main()
