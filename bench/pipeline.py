"""Local throughput of the Flink job (records/s) without and with instrumentation, in one process.

Runs the same generated input through the job three ways: bare (no metrics, no logs), metrics (Flink metrics and
the DIR/metrics/ stream), and metrics + structured logs (five or six log lines per order). A small warm-up run
first takes the JVM and Python worker start-up out of the figures; each figure still includes the mini-cluster's
per-job start-up, measured on a 50-order run and reported beside it.

    .venv/bin/python bench/pipeline.py [--orders 10000] [--repeat 1]

With --repeat N the configurations run in N interleaved rounds and each figure is the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

# This script is bench/pipeline.py: its own folder first on sys.path would shadow the `pipeline` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from pipeline.generator import generate_orders  # noqa: E402
from pipeline.job import JobConfig, run_job  # noqa: E402


def main() -> None:
    """Generate input once, run each configuration, print records/s and the instrumentation cost."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    source = generate_orders(work / "orders.jsonl", orders=args.orders, minutes=60, start=start).path
    small = generate_orders(work / "small.jsonl", orders=50, minutes=1, start=start).path
    run_job(small, work / "warm-up", config=JobConfig(checkpoint_interval_ms=1000))
    overhead = run_job(small, work / "overhead", config=JobConfig(checkpoint_interval_ms=1000)).seconds
    configs = {
        "bare": JobConfig(checkpoint_interval_ms=1000, metrics=False, logs=False),
        "metrics": JobConfig(checkpoint_interval_ms=1000, metrics=True, logs=False),
        "metrics+logs": JobConfig(checkpoint_interval_ms=1000, metrics=True, logs=True),
    }
    runs: dict[str, list[float]] = {name: [] for name in configs}
    # Rounds interleave the configurations so that a shared machine's load drift hits each of them alike.
    for i in range(args.repeat):
        for name, config in configs.items():
            runs[name].append(run_job(source, work / f"{name}-{i}", config=config).seconds)
    seconds = {name: statistics.median(times) for name, times in runs.items()}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"pipeline bench: {args.orders} orders, parallelism 1, per-job start-up ≈ {overhead:.1f} s, "
          f"median of {args.repeat}, load average {load} on {os.cpu_count()} CPUs")
    for name, secs in seconds.items():
        net = max(secs - overhead, 1e-9)
        print(f"  {name:13s} {secs:6.1f} s  {args.orders / secs:7.0f} records/s "
              f"({args.orders / net:7.0f} records/s net of start-up)")
    for name in ("metrics", "metrics+logs"):
        cost = (seconds[name] - seconds["bare"]) / seconds["bare"] * 100
        net_cost = ((seconds[name] - overhead) - (seconds["bare"] - overhead)) / max(seconds["bare"] - overhead,
                                                                                    1e-9) * 100
        print(f"  instrumentation cost ({name}): {cost:+.1f} % wall, {net_cost:+.1f} % net of start-up")


if __name__ == "__main__":
    main()
