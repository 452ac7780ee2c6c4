"""`incident-bot pipeline ...`: generate orders, run the Flink job locally, evaluate alarms on its metrics.

The commands are thin: the work is in `pipeline.generator`, `pipeline.job` and `pipeline.evaluator`. pyflink is
imported only by `pipeline run`, so the other commands start fast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.app import app

pipeline_app = typer.Typer(help="The orders pipeline, locally: generate input, run the job, evaluate alarms.",
                           no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command("generate")
def generate(
    orders: Annotated[int, typer.Option(help="How many orders (duplicates come on top).")] = 1000,
    out: Annotated[Path, typer.Option(help="JSON-lines file to write.")] = Path("orders.jsonl"),
    minutes: Annotated[float, typer.Option(help="Span of event time the orders cover.")] = 30.0,
    start: Annotated[str | None, typer.Option(help="ISO-8601 start of the span (default: now - minutes).")] = None,
    fault: Annotated[list[str] | None, typer.Option(
        help="KIND@START-END[:RATE] in minutes from the start; KIND: schema_change, duplicates, "
             "invalid_amount, slow_enrichment, late_events, stall, checkpoint_failure, broker_down, "
             "firehose_failure, consumer_lag. Repeatable.")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 7,
    canary_every: Annotated[str | None, typer.Option(
        help="Add a marked canary order every so often of event time, e.g. 60s (CANARY_EVERY is the "
             "production producer's default).")] = None,
) -> None:
    """Write realistic orders, optionally with faults at chosen times and canary orders."""
    from bot.settings import parse_duration
    from pipeline.generator import Fault, generate_orders

    try:
        faults = [Fault.parse(f) for f in fault or []]
        begin = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC) if start else None
        every = parse_duration(canary_every).total_seconds() if canary_every else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if every is not None and every <= 0:
        raise typer.BadParameter("--canary-every must be more than 0")
    result = generate_orders(out, orders=orders, minutes=minutes, start=begin, faults=faults, seed=seed,
                             canary_every_s=every)
    canaries = f"; canaries: {result.canaries}" if result.canaries else ""
    typer.echo(f"wrote {result.lines} lines to {result.path} ({result.start:%Y-%m-%dT%H:%M}Z to "
               f"{result.end:%H:%M}Z)" + "".join(f"; {k}: {v}" for k, v in sorted(result.faults.items()))
               + canaries)


@pipeline_app.command("run")
def run(
    source: Annotated[Path, typer.Option(help="Orders as JSON lines.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Directory for output/, windows/, dlq/, late/, logs/, metrics/.")],
    parallelism: Annotated[int, typer.Option(help="Flink parallelism.")] = 1,
    checkpoint_interval: Annotated[int, typer.Option(help="Checkpoint interval in ms.")] = 10_000,
    dedup_window: Annotated[int, typer.Option(help="Dedup window in seconds (keyed state TTL).")] = 3600,
    allowed_lateness: Annotated[int, typer.Option(help="Window allowed lateness in seconds.")] = 60,
    no_metrics: Annotated[bool, typer.Option("--no-metrics", help="Skip metrics.")] = False,
    no_logs: Annotated[bool, typer.Option("--no-logs", help="Skip structured logs.")] = False,
) -> None:
    """Run the job on Flink's local mini-cluster and print what it wrote."""
    from pipeline.job import JobConfig, run_job

    config = JobConfig(parallelism=parallelism, checkpoint_interval_ms=checkpoint_interval,
                       dedup_window_ms=dedup_window * 1000, allowed_lateness_ms=allowed_lateness * 1000,
                       metrics=not no_metrics, logs=not no_logs)
    summary = run_job(source, out, config=config)
    typer.echo(json.dumps({
        "input": summary.input_records, "output": summary.output_records, "dlq": summary.dlq_by_type,
        "late": summary.late_records, "window_orders": summary.window_orders, "canary": summary.canary_records,
        "seconds": round(summary.seconds, 1),
        "records_per_second": round(summary.input_records / summary.seconds) if summary.seconds else None,
    }, indent=2))


@pipeline_app.command("evaluate")
def evaluate(
    out: Annotated[Path, typer.Option(help="A job's output directory (reads metrics/).", exists=True,
                                      file_okay=False)],
    deliver_to: Annotated[str | None, typer.Option("--deliver", help="POST changes as signed SNS to this URL, "
                                                   "e.g. http://127.0.0.1:8080/sns.")] = None,
    signing_key: Annotated[Path | None, typer.Option(help="PEM private key to sign SNS messages with.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region in ARNs (default AWS_REGION).")] = None,
    account: Annotated[str, typer.Option(help="AWS account id in ARNs.")] = "123456789012",
) -> None:
    """Replay the alarms on the job's metrics; print each state change, optionally deliver it to the bot."""
    from bot.settings import load_settings
    from bot.sns.signing import SnsSigner
    from pipeline.evaluator import deliver
    from pipeline.evaluator import evaluate as run_evaluation

    settings = load_settings()
    changes = run_evaluation(out, prefix=settings.alarm_prefix, region=region or settings.aws_region,
                             account=account)
    for change in changes:
        typer.echo(f"{change.at:%Y-%m-%dT%H:%M}Z {change.alarm_name}: {change.old_state} -> {change.new_state}"
                   f"  {change.body['NewStateReason']}")
    if not changes:
        typer.echo("no alarm changed state")
    if deliver_to:
        if signing_key is None:
            raise typer.BadParameter("--deliver needs --signing-key")
        statuses = deliver(changes, deliver_to, SnsSigner.from_file(signing_key))
        typer.echo(f"delivered {len(statuses)} notifications to {deliver_to}: statuses {statuses}")
        if any(not 200 <= s < 300 for s in statuses):
            raise typer.Exit(1)
