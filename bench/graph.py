"""The incident graph: how long drawing it takes, per backend-independent step.

Run: `.venv/bin/python bench/graph.py [--rounds 20]`. Writes 70 minutes of one metric (one datapoint a minute, as
the job's EMF stream) to a temporary directory, then `--rounds` times: reads the stream and draws the PNG with
matplotlib (Agg) exactly as `LocalMetricGraphs` does for a new CRITICAL incident. Prints a Markdown table of
latencies (p50/p95/max, ms) and the PNG size. The draw runs in a worker thread in the bot, so the event loop never
waits for it; this is the wall time a graph adds before the upload starts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.harness import ms, percentile
from bot.adapters.metric_graphs import LocalMetricGraphs
from bot.incidents.ports import GraphRequest
from pipeline.emf import document, write


def main() -> None:
    """Time the local graph `--rounds` times and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    at = datetime.now(UTC).replace(second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        write([document("DLQRecordCount", 5.0 if m < 68 else 300.0,
                        timestamp_ms=int((at - timedelta(minutes=70 - m)).timestamp() * 1000)) for m in range(71)],
              Path(tmp) / "job.jsonl")
        request = GraphRequest(
            title="orders-pipeline-DLQSpike: DLQRecordCount", namespace="OrdersPipeline", metric="DLQRecordCount",
            dimensions=(), statistic="Sum", period=60, threshold=100.0, start=at - timedelta(minutes=62),
            end=at + timedelta(minutes=1), alarm_start=at - timedelta(minutes=2), alarm_end=at + timedelta(minutes=1))
        graphs = LocalMetricGraphs(tmp)
        times: list[float] = []
        size = 0
        for _ in range(args.rounds):
            started = time.perf_counter()
            png = asyncio.run(graphs.render(request))
            times.append(time.perf_counter() - started)
            size = len(png or b"")
    times.sort()
    print("| step | p50 | p95 | max | PNG |")
    print("|---|---|---|---|---|")
    print(f"| read EMF + draw PNG (matplotlib, Agg) | {ms(percentile(times, 50))} | {ms(percentile(times, 95))} "
          f"| {ms(times[-1])} | {size / 1024:.0f} KiB |")


if __name__ == "__main__":
    main()
