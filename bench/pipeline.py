"""Local throughput of the Flink job (records/s) without and with instrumentation, in one process.

Runs the same generated input through the job three ways: bare (no metrics, no logs), metrics (Flink metrics and
the DIR/metrics/ stream), and metrics + structured logs (five or six log lines per order). A warm-up run on the
same input first takes the JVM's and Python workers' start-up and JIT warm-up out of the figures; each figure
still includes the mini-cluster's per-job start-up, measured on a 50-order run and reported beside it.
On a shared machine wall time is noisy, so each configuration also reports CPU seconds: this Python process
(the job's Python workers run in it, in Flink's loopback mode) and the mini-cluster's JVM (a child process, read
from /proc); instrumentation cost shows there too.

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
    # Warm up on the full input: after a small run only, the first configuration measured paid the JVM's JIT
    # warm-up (seen: bare 11 s of JVM CPU against 6-8 s for the others, making instrumentation look free).
    run_job(source, work / "warm-up", config=JobConfig(checkpoint_interval_ms=1000))
    overhead = run_job(small, work / "overhead", config=JobConfig(checkpoint_interval_ms=1000)).seconds
    configs = {
        "bare": JobConfig(checkpoint_interval_ms=1000, metrics=False, logs=False),
        "metrics": JobConfig(checkpoint_interval_ms=1000, metrics=True, logs=False),
        "metrics+logs": JobConfig(checkpoint_interval_ms=1000, metrics=True, logs=True),
    }
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in configs}
    load_before = _load()
    # Rounds interleave the configurations so that a shared machine's load drift hits each of them alike.
    for i in range(args.repeat):
        for name, config in configs.items():
            python_cpu, jvm_cpu = _python_cpu(), _children_cpu()
            secs = run_job(source, work / f"{name}-{i}", config=config).seconds
            runs[name].append((secs, _python_cpu() - python_cpu, _children_cpu() - jvm_cpu))
    seconds = {name: statistics.median(r[0] for r in results) for name, results in runs.items()}
    cpu = {name: (statistics.median(r[1] for r in results), statistics.median(r[2] for r in results))
           for name, results in runs.items()}
    print(f"pipeline bench: {args.orders} orders, parallelism 1, per-job start-up ≈ {overhead:.1f} s, "
          f"median of {args.repeat}, load average {load_before} before, {_load()} after, on {os.cpu_count()} CPUs")
    for name, secs in seconds.items():
        net = max(secs - overhead, 1e-9)
        print(f"  {name:13s} {secs:6.1f} s  {args.orders / secs:7.0f} records/s "
              f"({args.orders / net:7.0f} records/s net of start-up)  CPU: python {cpu[name][0]:5.1f} s, "
              f"JVM {cpu[name][1]:5.1f} s")
    for name in ("metrics", "metrics+logs"):
        cost = (seconds[name] - seconds["bare"]) / seconds["bare"] * 100
        net_cost = ((seconds[name] - overhead) - (seconds["bare"] - overhead)) / max(seconds["bare"] - overhead,
                                                                                    1e-9) * 100
        cpu_cost = (sum(cpu[name]) - sum(cpu["bare"])) / sum(cpu["bare"]) * 100
        print(f"  instrumentation cost ({name}): {cost:+.1f} % wall, {net_cost:+.1f} % net of start-up, "
              f"{cpu_cost:+.1f} % CPU")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _python_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _children_cpu() -> float:
    """CPU seconds of this process's live children (the mini-cluster JVM), from /proc; 0 where there is none."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "(comm)": state, ppid, ... utime=11, stime=12
        if int(fields[1]) == os.getpid():
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


if __name__ == "__main__":
    main()
