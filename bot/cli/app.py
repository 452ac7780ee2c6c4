"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="incident-bot",
    help="Incident-response ChatOps for the orders pipeline: alarms in, channels, pages and answers out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
