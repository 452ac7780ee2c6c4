"""`incident-bot pipeline check|collect|canary`: the pipeline as it runs in production, watched.

- `check`: the guide's invariants and sample reconciliation over a run's output (`pipeline.checks`); emits their
  metrics (EMF) and, with `--deliver`, raises InvariantViolated / ReconciliationMismatch through signed SNS like
  any alarm; exits 1 when a check fails.
- `collect`: checkpoint and restart metrics from a Flink cluster's REST API (`pipeline.collector`), as EMF.
- `canary`: the canary producer: one marked test order every `CANARY_EVERY` on stdout (pipe it to Kafka).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.pipeline import pipeline_app

if TYPE_CHECKING:
    from pipeline.emf import SeriesKey, Stat


@pipeline_app.command("check")
def check(
    out: Annotated[str, typer.Option(help="A run's output directory (output/, dlq/, late/, metrics/), or "
                                          "s3://BUCKET/PREFIX in production (metrics from CloudWatch).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    source: Annotated[Path | None, typer.Option(help="Count input from this file instead of the metrics.",
                                                exists=True, dir_okay=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the 100-record sample (default: random).")] = None,
    since: Annotated[str, typer.Option(help="With s3://: the span of CloudWatch metrics to count (ending now).")]
    = "1h",
    max_watermark_lag: Annotated[str, typer.Option(
        help="Watermark lag limit (the guide: 60s; a fast local replay needs more, see pipeline.checks).")] = "60s",
    metrics_out: Annotated[str | None, typer.Option(
        help="Where the checks' EMF lines go: a file, '-' for stdout (default OUT/metrics/checks.jsonl).")] = None,
    deliver_to: Annotated[str | None, typer.Option("--deliver", help="POST the alarms a failure raises as signed "
                                                   "SNS to this URL, e.g. http://127.0.0.1:8080/sns.")] = None,
    signing_key: Annotated[Path | None, typer.Option(help="PEM private key to sign SNS messages with.")] = None,
    account: Annotated[str, typer.Option(help="AWS account id in ARNs.")] = "123456789012",
) -> None:
    """Check output ≥ input − DLQ − late, no duplicate order_id, watermark lag < 60 s, 100 sampled records."""
    from bot.settings import load_settings, parse_duration
    from bot.sns.signing import SnsSigner
    from pipeline import emf
    from pipeline.alarms import ALARMS
    from pipeline.checks import documents, run_checks
    from pipeline.evaluator import deliver, evaluate_series

    if deliver_to and signing_key is None:
        raise typer.BadParameter("--deliver needs --signing-key")
    try:
        lag_limit, span = parse_duration(max_watermark_lag), parse_duration(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    local = not out.startswith("s3://")
    if local and not Path(out).is_dir():
        raise typer.BadParameter(f"--out {out!r} is not a directory")
    run = Path(out) if local else _s3_run(out, span)
    report = run_checks(run, source=source, seed=seed, max_watermark_lag_ms=int(lag_limit.total_seconds() * 1000))
    newest = emf.MetricStream.load(Path(out) / "metrics").last_timestamp() if local else None
    # A finished local run is checked as of its newest minute, so the metric lands inside its timeline.
    stamp = int((newest or datetime.now(UTC)).timestamp() * 1000)
    docs = list(documents(report, timestamp_ms=stamp))
    if metrics_out == "-" or (metrics_out is None and not local):
        emf.write(docs, None)  # production: stdout, where the agent ships EMF lines from
    else:
        emf.write(docs, Path(metrics_out) if metrics_out else Path(out) / "metrics" / "checks.jsonl")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for result in report.checks:
            typer.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
    if deliver_to and signing_key is not None and not report.ok:
        settings = load_settings()
        specs = [s for s in ALARMS if s.name in ("InvariantViolated", "ReconciliationMismatch")]
        changes = [c for c in evaluate_series(_series(docs), specs,
                                              prefix=settings.alarm_prefix, region=settings.aws_region,
                                              account=account) if c.new_state == "ALARM"]
        statuses = deliver(changes, deliver_to, SnsSigner.from_file(signing_key))
        typer.echo(f"delivered {len(statuses)} alarm notifications to {deliver_to}: statuses {statuses}",
                   err=as_json)
    if not report.ok:
        raise typer.Exit(1)


def _s3_run(url: str, since: timedelta) -> Any:
    import boto3

    from bot.settings import load_settings
    from pipeline.s3run import S3Run, parse_s3_url

    try:
        bucket, prefix = parse_s3_url(url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    region = load_settings().aws_region
    end = datetime.now(UTC)
    return S3Run(boto3.client("s3", region_name=region), boto3.client("cloudwatch", region_name=region), bucket,
                 prefix, end - since, end)


def _series(docs: list[dict[str, Any]]) -> dict[SeriesKey, dict[int, Stat]]:
    """The check's own documents merged like a metrics directory (the alarms read only these)."""
    from pipeline import emf

    series: dict[SeriesKey, dict[int, Stat]] = {}
    for doc in docs:
        for datum in emf.datums(doc):
            series.setdefault((datum.name, datum.dims), {})[emf.minute_of(datum.timestamp_ms)] = datum.stat
    return series


@pipeline_app.command("collect")
def collect(
    rest_url: Annotated[str, typer.Option(help="The Flink REST API, e.g. http://127.0.0.1:8081.")],
    job: Annotated[str | None, typer.Option(help="Job id (default: the running job).")] = None,
    every: Annotated[str, typer.Option(help="Poll interval, e.g. 15s.")] = "15s",
    count: Annotated[int, typer.Option(help="Polls before exiting (0: until stopped).")] = 0,
    out: Annotated[Path | None, typer.Option(help="Append EMF lines to this file (default: stdout).")] = None,
) -> None:
    """Emit checkpoint counts, failures, duration, size and restarts from the REST API as EMF lines."""
    from bot.settings import parse_duration
    from pipeline import emf
    from pipeline.collector import Collector, CollectorError

    try:
        interval = parse_duration(every).total_seconds()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    collector = Collector(rest_url, job_id=job)
    polls = 0
    while True:
        try:
            emf.write(collector.poll(), out)
        except CollectorError as exc:
            typer.echo(f"incident-bot: {exc}", err=True)  # keep polling: the JobManager may be restarting
        polls += 1
        if count and polls >= count:
            return
        time.sleep(interval)


@pipeline_app.command("canary")
def canary(
    every: Annotated[str | None, typer.Option(help="Interval between canaries (default CANARY_EVERY, 60s).")]
    = None,
    count: Annotated[int, typer.Option(help="Canaries before exiting (0: until stopped).")] = 0,
) -> None:
    """Write one canary order a period to stdout, e.g. `| kafka-console-producer.sh --topic orders.raw`."""
    from bot.settings import load_settings, parse_duration
    from pipeline.generator import canary_order

    try:
        interval = (parse_duration(every) if every else load_settings().canary_every).total_seconds()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    sent = 0
    while True:
        typer.echo(json.dumps(canary_order(int(time.time() * 1000)), separators=(",", ":")))
        sys.stdout.flush()
        sent += 1
        if count and sent >= count:
            return
        time.sleep(interval)
