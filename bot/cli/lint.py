"""`incident-bot lint`: check the runbooks (and whatever else registers a check) before they reach on-call.

A check is a callable `(Settings) -> list[str]` returning one line per problem, each naming its file. To add
one (queries, alarm definitions), append `("name", function)` to `CHECKS`; the command runs them all, prints
every problem and exits 1 when there is any, 0 with a one-line summary otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from bot.alarms.catalog import AlarmCatalog
from bot.alarms.severity import Severity
from bot.cli.app import app
from bot.errors import ConfigError
from bot.runbooks import RunbookLibrary
from bot.runbooks.samples import sample_events
from bot.settings import Settings, load_settings

Check = Callable[[Settings], list[str]]


def runbook_problems(settings: Settings) -> list[str]:
    """Front matter, missing runbooks, templates that fail to render, unknown query names."""
    library = RunbookLibrary(
        settings.runbooks_dir, prefix=settings.alarm_prefix, queries_dir=settings.queries_dir
    )
    return library.lint()


def query_problems(settings: Settings) -> list[str]:
    """Query files that do not load, render or translate for the local engine."""
    from bot.queries.lint import lint_queries

    return lint_queries(settings.queries_dir)


def alarm_problems(settings: Settings) -> list[str]:
    """Alarms as code without a runbook, or with another severity than their runbook."""
    from pipeline.alarms import lint_alarms

    return lint_alarms(settings.runbooks_dir)


CHECKS: list[tuple[str, Check]] = [
    ("runbooks", runbook_problems), ("queries", query_problems), ("alarms", alarm_problems),
]


@app.command()
def lint(
    runbooks_dir: Annotated[
        Path | None, typer.Option(help="Runbooks to check instead of RUNBOOKS_DIR.", file_okay=False)
    ] = None,
    queries_dir: Annotated[
        Path | None, typer.Option(help="Query names to accept instead of QUERIES_DIR.", file_okay=False)
    ] = None,
) -> None:
    """Check runbooks and configuration; exit 1 and print one line per problem if any."""
    overrides: dict[str, object] = {}
    if runbooks_dir is not None:
        overrides["runbooks_dir"] = runbooks_dir
    if queries_dir is not None:
        overrides["queries_dir"] = queries_dir
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    problems = [problem for _, check in CHECKS for problem in check(settings)]
    for problem in problems:
        typer.echo(problem)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found", err=True)
        raise typer.Exit(1)
    typer.echo(_summary(settings))


def _summary(settings: Settings) -> str:
    catalog, _ = AlarmCatalog.scan(settings.runbooks_dir, prefix=settings.alarm_prefix)
    by_severity = ", ".join(
        f"{n} {s.value}" for s in Severity if (n := sum(e.severity is s for e in catalog.entries))
    )
    checks = ", ".join(name for name, _ in CHECKS)
    return (
        f"OK ({checks}): {len(catalog)} alarm runbooks ({by_severity or 'none'}) in {settings.runbooks_dir}, "
        f"each rendered for {len(sample_events('x'))} alarm shapes; generic and post-incident render too"
    )
