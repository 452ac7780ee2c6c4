"""The `incident-bot` command line: one Typer app, one module per group of commands."""

from __future__ import annotations

from bot.cli import (  # noqa: F401 - importing registers the commands
    aws,
    demo,
    deploy,
    health,
    lint,
    pagerduty,
    pipeline,
    pipeline_checks,
    pipeline_cluster,
    quality,
    queries,
    serve,
)
from bot.cli.app import app


def main() -> None:
    """Entry point of the `incident-bot` console script."""
    app()
