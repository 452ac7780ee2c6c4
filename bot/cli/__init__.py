"""The `incident-bot` command line: one Typer app, one module per group of commands."""

from __future__ import annotations

from bot.cli import demo, deploy, lint, pipeline, pipeline_cluster, queries, serve  # noqa: F401 - importing registers the commands
from bot.cli.app import app


def main() -> None:
    """Entry point of the `incident-bot` console script."""
    app()
