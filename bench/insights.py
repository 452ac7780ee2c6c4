"""Benchmark: the embedded Logs Insights engine's scan rate, and `pattern`, on 1 million log lines.

Writes `bench/out/insights-<N>.jsonl` once (git-ignored), then times the same filter + stats two ways: the local
engine (DuckDB) and a plain-Python `json.loads` loop. Goal: ≥ 1M lines/s and ≥ 10× the plain loop. Then `pattern`:
`pattern message` over `bench/out/patterns-<N>.jsonl` (messages from 24 templates with ids, numbers and words
that vary; the mined counts are checked against the generator's), and `pattern @message` (whole JSON lines) over
the scan file. Goal: < 10 s each. Prints the load average before each measurement and CPU seconds: on a shared
box the engine's threads compete with other jobs.
Usage: `.venv/bin/python bench/insights.py [--lines N] [--repeat R] [--skip-scan]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
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


WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")
# (template with {i} = an id, {n} = a number, {w} = a word, weight)
TEMPLATES = (
    ("Order {i} processed in {n} ms", 40), ("Order {i} sent to sink partition {n}", 20),
    ("Cache hit for customer {i}", 10), ("Cache miss for customer {i} region {w}", 5),
    ("Customer API answered {n} for {i} after {n} ms", 5), ("Window {i} emitted with {n} orders", 3),
    ("Checkpoint {n} completed in {n} ms", 2), ("Order sent to DLQ: Field 'customer_id' not found", 2),
    ("Order sent to DLQ: amount {n} must be a number in (0, 100000]", 1),
    ("Order sent to DLQ: currency {w} is not supported", 1), ("Duplicate order {i} dropped", 2),
    ("Customer API timeout after {n}s for {i}", 1), ("Retrying request {i} attempt {n} of 3", 1),
    ("Connection to {w} reset by peer", 1), ("Late event {i} arrived {n} ms after the watermark", 1),
    ("Rebalancing consumer group {w} generation {n}", 1), ("Committed offsets for partition {n} at {n}", 2),
    ("GC pause of {n} ms in {w} pool", 1), ("Enriched order {i} with segment {w}", 3),
    ("Validation passed for order {i}", 5), ("Deduplicated key {i} within {n} s", 2),
    ("Slow operator {w} took {n} ms", 1), ("Heartbeat from task manager {i}", 1), ("Job {w} restarted", 1),
)


def generate_patterns(path: Path, lines: int) -> dict[int, int]:
    """Write `lines` lines whose `message` comes from TEMPLATES; returns how many lines each template got."""
    rng = random.Random(11)
    weights = [weight for _, weight in TEMPLATES]
    counts: dict[int, int] = defaultdict(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            moment = START + timedelta(milliseconds=i * 3)
            which = rng.choices(range(len(TEMPLATES)), weights)[0]
            counts[which] += 1
            message = TEMPLATES[which][0]
            while "{" in message:
                message = (message.replace("{i}", f"ORD-{rng.randrange(10**7):07d}", 1)
                           .replace("{n}", str(rng.randrange(1, 5000)), 1)
                           .replace("{w}", rng.choice(WORDS), 1))
            record = {"timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
                      "level": "ERROR" if "DLQ" in message else "INFO", "message": message}
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return dict(counts)


def expected_template(text: str) -> str:
    """A TEMPLATES entry as the miner shows it: every variable, and every run holding a digit, is `<*>`."""
    text = text.replace("{i}", "ORD-1").replace("{n}", "1").replace("{w}", "<*>")
    return re.sub(r"""[^\s,;()\[\]{}"'=]*\d[^\s,;()\[\]{}"'=]*""", "<*>", text)


def bench_pattern(lines: int, repeat: int) -> None:
    """Time `pattern message` on the patterns file and `pattern @message` on the scan file; check the counts."""
    path = OUT / f"patterns-{lines}.jsonl"
    counts_path = path.with_suffix(".counts.json")
    if not path.exists() or not counts_path.exists():
        counts = generate_patterns(path, lines)
        counts_path.write_text(json.dumps(counts))
    counts = {int(key): value for key, value in json.loads(counts_path.read_text()).items()}
    end = START + timedelta(days=1)
    for label, source, query in (("pattern message", path, "pattern message"),
                                 ("pattern @message (whole JSON lines)", OUT / f"insights-{lines}.jsonl",
                                  "pattern @message")):
        engine = DuckDBLogSearch(str(source), timeout=600)
        load = load_average()
        timings, cpu_began = [], time.process_time()
        for _ in range(repeat):
            began = time.perf_counter()
            result = asyncio.run(engine.run(query, start=START, end=end))
            timings.append(time.perf_counter() - began)
            assert result.ok, result.message
        cpu = (time.process_time() - cpu_began) / repeat
        best = min(timings)
        print(f"{label}: {best:.2f} s best of {repeat} (runs: {', '.join(f'{t:.2f}' for t in timings)}) "
              f"-> {lines / best / 1e6:.2f} M lines/s; {len(result.rows)} patterns; {cpu:.2f} CPU s per run; "
              f"load before: {load} (goal < 10 s)")
        if source == path:
            mined = {row["@pattern"]: row["@sampleCount"] for row in result.rows}
            for which, count in counts.items():
                template = expected_template(TEMPLATES[which][0])
                assert mined.get(template) == count, (template, mined.get(template), count)
            print(f"  all {len(counts)} generated templates mined with their exact counts")
        for row in result.rows[:3]:
            print(f"  {row['@sampleCount']:>8}  {row['@pattern'][:100]}")


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
    parser.add_argument("--skip-scan", action="store_true", help="Only the pattern measurements.")
    args = parser.parse_args()
    path = OUT / f"insights-{args.lines}.jsonl"
    if not path.exists():
        began = time.perf_counter()
        generate(path, args.lines)
        print(f"generated {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - began:.1f} s: {path}")
    if args.skip_scan:
        bench_pattern(args.lines, args.repeat)
        return
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
    bench_pattern(args.lines, args.repeat)


if __name__ == "__main__":
    main()
