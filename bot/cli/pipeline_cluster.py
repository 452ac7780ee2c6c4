"""`incident-bot pipeline cluster start|stop|status` and `pipeline submit`: the job on a standalone Flink cluster.

Thin: the cluster is `pipeline.cluster.Cluster` (started from the apache-flink wheel), submission is
`pipeline.submit` (the `pipeline` image's own command, detached).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.pipeline import pipeline_app

cluster_app = typer.Typer(help="A standalone Flink cluster from the apache-flink wheel (1 JobManager, TaskManagers).",
                          no_args_is_help=True)
pipeline_app.add_typer(cluster_app, name="cluster")

ClusterDir = Annotated[Path, typer.Option("--dir", envvar="FLINK_CLUSTER_DIR",
                                          help="The cluster's own directory: conf/, log/, pids/, checkpoints/.")]
DEFAULT_DIR = Path(".flink-cluster")


@cluster_app.command("start")
def start(
    directory: ClusterDir = DEFAULT_DIR,
    taskmanagers: Annotated[int, typer.Option(help="How many TaskManagers.")] = 2,
    slots: Annotated[int, typer.Option(help="Task slots per TaskManager.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Start one JobManager and the TaskManagers on loopback ports; returns once every TaskManager registered."""
    from pipeline.cluster import Cluster, ClusterError, ClusterSpec

    try:
        status = Cluster(directory).start(ClusterSpec(taskmanagers=taskmanagers, slots=slots))
    except ClusterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_status(status, as_json)


@cluster_app.command("stop")
def stop(directory: ClusterDir = DEFAULT_DIR) -> None:
    """Stop the cluster's daemons and everything they started (Python workers), then forget its ports."""
    from pipeline.cluster import Cluster

    stopped = Cluster(directory).stop()
    typer.echo(f"stopped {len(stopped)} processes" + (f": {' '.join(map(str, stopped))}" if stopped else ""))


@cluster_app.command("status")
def status(
    directory: ClusterDir = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The JobManager and each TaskManager with its pid, and the REST URL; exit 1 when the cluster is not up."""
    from pipeline.cluster import Cluster

    result = Cluster(directory).status()
    _print_status(result, as_json)
    if not result["running"]:
        raise typer.Exit(1)


def _print_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(status, indent=2))
        return
    if status["jobmanager"] is None:
        typer.echo(f"no cluster in {status['dir']}")
        return
    overview = status["overview"] or {}
    typer.echo(f"REST {status['rest_url']} ({'up' if status['running'] else 'not answering'}; "
               f"{overview.get('slots-available', '?')}/{overview.get('slots-total', '?')} slots free, "
               f"{overview.get('jobs-running', '?')} jobs running)")
    jm = status["jobmanager"]
    typer.echo(f"  jobmanager  pid {jm['pid']}  {'alive' if jm['alive'] else 'dead'}")
    for tm in status["taskmanagers"]:
        typer.echo(f"  {tm['id']:10s}  pid {tm['pid']}  {'alive' if tm['alive'] else 'dead'}"
                   f"{', registered' if tm['registered'] else ''}")


@pipeline_app.command("submit")
def submit(
    source: Annotated[Path, typer.Option(help="Orders as JSON lines.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Directory for output/, windows/, dlq/, late/, logs/, metrics/.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the job to end and print what it wrote.")] = False,
    directory: ClusterDir = DEFAULT_DIR,
    parallelism: Annotated[int, typer.Option(help="Flink parallelism.")] = 2,
    checkpoint_interval: Annotated[int, typer.Option(help="Checkpoint interval in ms.")] = 10_000,
    rate: Annotated[float, typer.Option(help="Replay at most this many records/s (0: as fast as possible).")] = 0,
    timeout: Annotated[float, typer.Option(help="With --wait: give up after this many seconds.")] = 1800,
) -> None:
    """Run the job on the standalone cluster (`flink run -py`, as the pipeline image does); same output as `run`."""
    from pipeline.cluster import Cluster, ClusterError
    from pipeline.job import summarize
    from pipeline.submit import submit_job

    cluster = Cluster(directory)
    started = time.monotonic()
    try:
        cluster.rest("/overview", timeout=3)
        job_id = submit_job(cluster, source, out, parallelism=parallelism,
                            checkpoint_interval_ms=checkpoint_interval, source_rate=rate)
    except (ClusterError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if not wait:
        typer.echo(json.dumps({"job_id": job_id, "rest_url": cluster.rest_url, "out": str(out.resolve())}, indent=2))
        return
    try:
        job = cluster.wait_for_job(job_id, timeout_s=timeout)
        recovery = cluster.recovery(job_id)
    except ClusterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    seconds = time.monotonic() - started
    with source.open(encoding="utf-8") as handle:
        inputs = sum(1 for line in handle if line.strip())
    summary = summarize(out.resolve(), input_records=inputs, seconds=seconds)
    typer.echo(json.dumps({
        "job_id": job_id, "state": job["state"], "input": summary.input_records, "output": summary.output_records,
        "dlq": summary.dlq_by_type, "late": summary.late_records, "window_orders": summary.window_orders,
        "seconds": round(seconds, 1), "job_seconds": round(job.get("duration", 0) / 1000, 1),
        "records_per_second": round(inputs / seconds) if seconds else None,
        "restarts": len(recovery["failures"]), "restored_checkpoint": recovery["restored_checkpoint"],
    }, indent=2))
    if job["state"] != "FINISHED":
        raise typer.Exit(1)
