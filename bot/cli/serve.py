"""`incident-bot serve` and `incident-bot migrate`."""

from __future__ import annotations

import typer
import uvicorn

from bot.cli.app import app
from bot.errors import ConfigError
from bot.logconfig import configure_logging
from bot.settings import Settings, load_settings


def settings_or_exit() -> Settings:
    """Settings, or exit 2 with the one-line reason."""
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"incident-bot: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 in a container)."),
    port: int = typer.Option(8080, help="TCP port."),
) -> None:
    """Run the bot: SNS intake, Slack app, incidents API; upgrades the database first."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    from sqlalchemy.exc import SQLAlchemyError

    from bot.app import NoTracebacks, build_playbook, create_app
    from bot.store import upgrade

    # Fail before binding the port, in one line, when the database or the runbooks are not usable; the app's
    # own start-up then finds the schema already current.
    try:
        upgrade(settings.database_url)
        build_playbook(settings)
        asgi = NoTracebacks(create_app(settings))
    except ConfigError as exc:
        typer.echo(f"incident-bot: {exc}", err=True)
        raise typer.Exit(2) from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"incident-bot: database {settings.database_url.split('@')[-1]} is not usable: {reason}", err=True)
        raise typer.Exit(2) from None
    uvicorn.run(asgi, host=host, port=port, log_config=None, access_log=False, lifespan="on")


@app.command()
def migrate() -> None:
    """Upgrade the database to the current schema (serve does this by itself at start)."""
    from bot.store import current_revision, upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url)
    typer.echo(f"database at revision {current_revision(settings.database_url)}")
