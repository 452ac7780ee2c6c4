"""Benchmark: the embedded Logs Insights engine's scan rate on 1 million seed-schema log lines.

Writes `bench/out/insights-1m.jsonl` once (git-ignored), then times the same filter + stats two ways: the local
engine (DuckDB) and a plain-Python `json.loads` loop. Goal: ≥ 1M lines/s and ≥ 10× the plain loop. Prints the load
average before each measurement and CPU seconds: on a shared box the engine's threads compete with other jobs.
Usage: `.venv/bin/python bench/insights.py [--lines N] [--repeat R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.duckdb_logs import DuckDBLogSearch

OUT = Path(__file__).resolve().parent / "out"
START = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)
OPERATORS = ("parse", "validate", "dedup", "enrich", "sink", "window")
ERRORS = (("parse_error", "ERR-001"), ("validation_error", "ERR-002"), ("duplicate", "ERR-003"),
          ("timeout", "ERR-004"))
QUERY = """filter status = "error"
| stats count() as n, avg(latency_ms) as avg_latency, max(latency_ms) as max_latency by error_type
| sort n desc"""


def generate(path: Path, lines: int) -> None:
    """Write `lines` log lines in the pipeline's schema: ~5% errors, a quarter of those to the DLQ."""
    rng = random.Random(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            moment = START + timedelta(milliseconds=i * 3)
            failed = rng.random() < 0.05
            error_type, code = rng.choice(ERRORS) if failed else (None, None)
            record = {
                "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
                "level": "ERROR" if failed else "INFO", "logger": "order_processor",
                "message": "Order failed" if failed else "Order processed successfully",
                "correlation_id": f"corr-{i:08d}", "order_id": f"ORD-{i // 6:07d}",
                "customer_id": f"CUST-{rng.randrange(10_000):05d}", "session_id": f"sess-{rng.randrange(99_999)}",
                "operator": OPERATORS[i % 6], "latency_ms": round(rng.lognormvariate(3, 1), 3),
                "status": "error" if failed else "success", "error_type": error_type, "error_code": code,
                "error_message": "Customer API timeout after 30s" if error_type == "timeout" else None,
                "environment": "prod", "environment_replica": f"order-processor-{i % 4}",
                "context": {"cache_hit": rng.random() < 0.8, "api_latency_ms": rng.randrange(5, 500)},
            }
            if failed and rng.random() < 0.25:
                record["dlq"] = True
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def plain_loop(path: Path) -> dict[str, tuple[int, float, float]]:
    """The same filter + stats with json.loads, line by line."""
    count: dict[str, int] = defaultdict(int)
    total: dict[str, float] = defaultdict(float)
    peak: dict[str, float] = defaultdict(float)
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("status") != "error":
                continue
            key = record.get("error_type")
            latency = float(record.get("latency_ms") or 0)
            count[key] += 1
            total[key] += latency
            peak[key] = max(peak[key], latency)
    return {key: (count[key], total[key] / count[key], peak[key]) for key in count}


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages (the box may be shared), or "n/a" off Linux."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3]) + f" on {os.cpu_count()} CPUs"
    except OSError:
        return "n/a"


def main() -> None:
    """Generate the file if needed, time both ways, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = OUT / f"insights-{args.lines}.jsonl"
    if not path.exists():
        began = time.perf_counter()
        generate(path, args.lines)
        print(f"generated {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - began:.1f} s: {path}")
    engine = DuckDBLogSearch(str(path), timeout=600)
    end = START + timedelta(days=1)
    timings = []
    engine_load = load_average()
    cpu_began = time.process_time()  # all threads of this process: DuckDB's workers included
    for _ in range(args.repeat):
        began = time.perf_counter()
        result = asyncio.run(engine.run(QUERY, start=START, end=end))
        timings.append(time.perf_counter() - began)
        assert result.ok, result.message
    engine_cpu = (time.process_time() - cpu_began) / args.repeat
    engine_s = min(timings)
    loop_load = load_average()
    began, cpu_began = time.perf_counter(), time.process_time()
    expected = plain_loop(path)
    loop_s, loop_cpu = time.perf_counter() - began, time.process_time() - cpu_began
    got = {row["error_type"]: (row["n"], row["avg_latency"], row["max_latency"]) for row in result.rows}
    assert got.keys() == expected.keys(), (got, expected)
    for key, (n, mean, peak) in expected.items():  # the same answers, not just the same speed
        assert got[key][0] == n and math.isclose(got[key][1], mean) and math.isclose(got[key][2], peak), key
    engine_rate, loop_rate = args.lines / engine_s, args.lines / loop_s
    print(f"query: {' '.join(QUERY.split())}")
    print(f"local engine (DuckDB): {engine_s:.3f} s best of {args.repeat} "
          f"(runs: {', '.join(f'{t:.3f}' for t in timings)}) -> {engine_rate / 1e6:.2f} M lines/s; "
          f"{engine_cpu:.2f} CPU s per run; load before: {engine_load}")
    print(f"plain json.loads loop: {loop_s:.3f} s -> {loop_rate / 1e6:.3f} M lines/s; {loop_cpu:.2f} CPU s; "
          f"load before: {loop_load}")
    print(f"speed-up: {engine_rate / loop_rate:.1f}x (goal >= 1M lines/s and >= 10x)")
    for row in result.rows:
        print(f"  {row['error_type']:<17} n={row['n']:<6} avg={row['avg_latency']:.1f} ms "
              f"max={row['max_latency']:.1f} ms")


if __name__ == "__main__":
    main()
