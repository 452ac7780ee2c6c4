"""The job on a standalone Flink cluster next to the mini-cluster, and recovery after a TaskManager loss.

Starts a cluster from the wheel (`pipeline.cluster`: one JobManager, two TaskManagers with two slots each) and
runs the same generated input:
  1. on the mini-cluster (`run_job`, in this process), parallelism 2, after a warm-up run;
  2. on the cluster (`pipeline.submit`, i.e. `flink run -py pipeline/main.py`), parallelism 2, after a warm-up;
  3. on the cluster again, replayed at half the throughput of 2 (`--rate`: the source then moves like a live
     stream instead of being read at once into the first Python bundle), `kill -9` of one TaskManager as soon as
     a checkpoint has completed.
For 1 and 2: wall time from submission to the last record committed and records/s; for 2 also Flink's own job
runtime (without the client's start-up). For 3: when Flink noticed (first exception), when it restored the last
checkpoint, when every task ran again, when the first checkpoint after the restart completed, and the run's time
against the replay's own length; then the output is reconciled (output = input − DLQ, no duplicate order, every
window fired once with all its orders but the late ones).

    .venv/bin/python bench/cluster.py [--orders 20000] [--checkpoint-interval 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

# This script lives in bench/, next to bench/pipeline.py: that folder first on sys.path would shadow `pipeline`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from pipeline.cluster import Cluster  # noqa: E402
from pipeline.generator import generate_orders  # noqa: E402
from pipeline.job import JobConfig, read_lines, run_job, summarize  # noqa: E402
from pipeline.submit import submit_job  # noqa: E402


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--checkpoint-interval", type=int, default=2000, help="ms, for every run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    source = generate_orders(work / "orders.jsonl", orders=args.orders, minutes=60, start=start,
                             faults=[], seed=3).path
    lines = sum(1 for _ in source.open(encoding="utf-8"))
    load_before = _load()
    config = JobConfig(parallelism=2, checkpoint_interval_ms=args.checkpoint_interval)

    run_job(source, work / "mini-warm-up", config=config)
    mini = run_job(source, work / "mini", config=config).seconds

    cluster = Cluster(work / "cluster")
    try:
        began = time.monotonic()
        cluster.start()
        startup = time.monotonic() - began
        _run(cluster, source, work / "cluster-warm-up", args.checkpoint_interval)
        clean_wall, clean_job, _ = _run(cluster, source, work / "cluster", args.checkpoint_interval)
        rate = round(lines / clean_job / 2)
        failed_wall, failed_job, recovery = _run(cluster, source, work / "cluster-kill", args.checkpoint_interval,
                                                 kill="tm-1", rate=rate)
    finally:
        cluster.stop()
    summary = summarize(work / "cluster-kill", input_records=lines)
    ids = Counter(o["order_id"] for o in read_lines(work / "cluster-kill" / "output"))
    on_time = Counter((w["currency"], w["window_start"]) for w in read_lines(work / "cluster-kill" / "windows")
                      if w["firing"] == "on_time")

    print(f"cluster bench: {lines} input lines, parallelism 2, checkpoints every {args.checkpoint_interval} ms, "
          f"load average {load_before} before, {_load()} after, on {os.cpu_count()} CPUs")
    print(f"  cluster start-up (JobManager + 2 TaskManagers registered): {startup:.1f} s")
    print(f"  mini-cluster        {mini:6.1f} s  {lines / mini:6.0f} records/s (wall, in-process)")
    print(f"  standalone cluster  {clean_wall:6.1f} s  {lines / clean_wall:6.0f} records/s (wall, submit to end); "
          f"job runtime {clean_job:.1f} s: {lines / clean_job:.0f} records/s")
    print(f"  TaskManager killed  {failed_wall:6.1f} s  replaying at {rate} records/s ({lines / rate:.1f} s of "
          f"input); job runtime {failed_job:.1f} s")
    for name, value in recovery.items():
        print(f"    {name:42s} {value}")
    print(f"    reconciliation: output {summary.output_records} = input {lines} - DLQ {summary.dlq_records}: "
          f"{summary.output_records == lines - summary.dlq_records}; duplicate order_ids: "
          f"{sum(1 for n in ids.values() if n > 1)}; windows fired on time twice: "
          f"{sum(1 for n in on_time.values() if n > 1)}; window orders = input - DLQ - late: "
          f"{summary.window_orders == lines - summary.dlq_records - summary.late_records}")


def _run(cluster: Cluster, source: Path, out: Path, interval_ms: int, kill: str | None = None,
         rate: float = 0) -> tuple[float, float, dict[str, str]]:
    """Submit, optionally kill a TaskManager once a checkpoint completed; (wall s, job runtime s, recovery)."""
    began = time.monotonic()
    job_id = submit_job(cluster, source, out, checkpoint_interval_ms=interval_ms, source_rate=rate)
    recovery: dict[str, str] = {}
    if kill:
        while True:
            job = cluster.job(job_id)
            counts = job["status-counts"]
            if job["state"] == "RUNNING" and counts["RUNNING"] == sum(counts.values()) and (
                    cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"] >= 1):
                break
            time.sleep(0.1)
        killed_at = time.time()
        cluster.kill_taskmanager(kill)
        recovery.update(_watch_recovery(cluster, job_id, killed_at))
    job = cluster.wait_for_job(job_id)
    wall = time.monotonic() - began
    if kill:
        info = cluster.recovery(job_id)
        detected = min((f["timestamp"] for f in info["failures"]), default=None)
        restored = (info["restored_checkpoint"] or {}).get("restore_timestamp")
        recovery = {
            "failure noticed (first exception) after": _since(detected, killed_at),
            "last checkpoint restored after": _since(restored, killed_at),
            **recovery,
            "restarts / restored checkpoint id": f"{len(info['failures'])} / "
                                                 f"{(info['restored_checkpoint'] or {}).get('id')}",
        }
    return wall, job["duration"] / 1000, recovery


def _watch_recovery(cluster: Cluster, job_id: str, killed_at: float) -> dict[str, str]:
    """Poll until every task runs again after the restart, then until a checkpoint completes after that."""
    restarted = False
    running_at: float | None = None
    baseline = 0
    while True:
        job = cluster.job(job_id)
        counts = job["status-counts"]
        restarted = restarted or job["state"] != "RUNNING" or counts["RUNNING"] != sum(counts.values())
        if job["state"] in ("FINISHED", "FAILED", "CANCELED"):
            return {"all tasks running again after": "job ended first"}
        if restarted and running_at is None and job["state"] == "RUNNING" and counts["RUNNING"] == sum(
                counts.values()):
            running_at = time.time()
            baseline = cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
        if running_at is not None and cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"] > baseline:
            return {"all tasks running again after": f"{running_at - killed_at:.1f} s",
                    "first checkpoint after the restart after": f"{time.time() - killed_at:.1f} s"}
        time.sleep(0.1)


def _since(epoch_ms: int | None, t0: float) -> str:
    return "-" if epoch_ms is None else f"{epoch_ms / 1000 - t0:.1f} s"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
