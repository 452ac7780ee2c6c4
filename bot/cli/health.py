"""`incident-bot health [--json]`: the pipeline's Green / Yellow / Red verdict from its five signals.

The work is in `bot.health.verdict`; the metrics come from `METRICS_BACKEND` (a run's `LOCAL_METRICS` directory or
CloudWatch). A local run is judged as of its newest minute unless `--at` says otherwise.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.adapters.metric_sources import metric_source_from_settings
from bot.cli.app import app
from bot.clock import wall_clock
from bot.errors import ConfigError, MetricsUnavailable
from bot.health.verdict import assess
from bot.settings import load_settings


@app.command("health")
def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    at: Annotated[str | None, typer.Option(help="ISO-8601 time to judge at (default: now, or a local run's end).")]
    = None,
) -> None:
    """Green / Yellow / Red from lag, DLQ rate, checkpoint success, P99 latency and window completeness."""
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC) if at else None
    except ValueError:
        raise typer.BadParameter(f"--at must be an ISO-8601 time, got {at!r}") from None
    try:
        verdict = asyncio.run(assess(metric_source_from_settings(load_settings()), at=moment, now=wall_clock))
    except (ConfigError, MetricsUnavailable) as exc:
        typer.echo(f"incident-bot: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(f"pipeline health: {str(verdict.status).upper()} as of {verdict.at:%Y-%m-%d %H:%M} UTC")
    for signal in verdict.signals:
        typer.echo(f"  {signal.status!s:<7} {signal.text}")
