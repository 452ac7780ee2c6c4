"""`incident-bot query|trace|dlq-breakdown|slow-operators|log-patterns`: the catalog's queries in a terminal.

The engine is the one the bot uses (`LOGS_BACKEND`, `LOCAL_LOGS` or `LOG_GROUPS`). Output is a table, or with
`--json` a JSON array of row objects. Bad input exits 2 with one line; a failed or timed-out query exits 1.
To add a shortcut for a catalog query, write a command that calls `_run_named`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn

import typer

from bot.adapters.logs import log_search_from_settings
from bot.cli.app import app
from bot.cli.serve import settings_or_exit
from bot.errors import BadInput, ConfigError, QueryError
from bot.incidents.ports import QueryResult
from bot.queries.catalog import QueryCatalog, QueryDef
from bot.queries.patterns import LOG_PATTERNS, log_patterns_text, pattern_rows
from bot.queries.shares import triage_hints, with_shares
from bot.queries.table import table_lines
from bot.settings import Settings, parse_duration

SinceOption = Annotated[
    str | None, typer.Option("--since", help="How far back to look, e.g. 30m, 2h, 1d (default: the query's).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON array of row objects.")]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, max=10_000, help="At most this many rows.")
]


@app.command("query")
def query_command(
    name: Annotated[str | None, typer.Argument(help="A query of the catalog (see --list).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="A parameter as key=value.")
    ] = None,
    text: Annotated[str | None, typer.Option("--text", help="Run this Logs Insights text instead.")] = None,
    since: SinceOption = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
    list_queries: Annotated[bool, typer.Option("--list", help="List the catalog's queries.")] = False,
) -> None:
    """Run a catalog query by name, or any Logs Insights text with --text."""
    settings = settings_or_exit()
    catalog = _catalog(settings)
    if list_queries:
        for query in catalog:
            params = " ".join(f"--param {p}=…" for p in query.params)
            typer.echo(f"{query.name:<22} {query.title}{'  ' + params if params else ''}")
        return
    if (name is None) == (text is None):
        _refuse("give a query name or --text '<query>', not both (names: " + ", ".join(catalog.names) + ")")
    if text is not None:
        if param:
            _refuse("--param applies to named queries, not to --text")
        _execute(settings, None, text, since=since or "1h", limit=limit, as_json=as_json)
        return
    assert name is not None
    _run_named(settings, catalog, name, _params(param or []), since=since, limit=limit, as_json=as_json)


@app.command("trace")
def trace_command(
    order_id: Annotated[str, typer.Argument(help="The order id, e.g. ORD-12345.")],
    since: SinceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every log line of one order, oldest first (the order-trace query)."""
    settings = settings_or_exit()
    _run_named(settings, _catalog(settings), "order-trace", {"order_id": order_id}, since=since, limit=None,
               as_json=as_json)


@app.command("dlq-breakdown")
def dlq_breakdown_command(since: SinceOption = None, as_json: JsonOption = False) -> None:
    """DLQ records by error type with counts, share and triage hints."""
    settings = settings_or_exit()
    _run_named(settings, _catalog(settings), "dlq-breakdown", {}, since=since, limit=None, as_json=as_json)


@app.command("slow-operators")
def slow_operators_command(since: SinceOption = None, as_json: JsonOption = False) -> None:
    """Average and maximum latency per operator, slowest first."""
    settings = settings_or_exit()
    _run_named(settings, _catalog(settings), "slow-operators", {}, since=since, limit=None, as_json=as_json)


@app.command("log-patterns")
def log_patterns_command(
    since: SinceOption = None,
    condition: Annotated[str | None, typer.Option(
        "--filter", help='Only events matching this condition, e.g. operator = "parse".')] = None,
    as_json: JsonOption = False,
) -> None:
    """Message templates of error lines, most frequent first, with a sample; new ones (not in the previous
    period of the same length) marked."""
    settings = settings_or_exit()
    try:
        query = _catalog(settings).get(LOG_PATTERNS)
        text = log_patterns_text(query, condition)
    except BadInput as exc:
        _refuse(exc.reason)
    result, start, end = _run(settings, text, since=since or _duration_text(query.default_window), limit=None)
    rows = pattern_rows(result)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{query.title} · {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC · {len(rows)} patterns")
    for row in rows:
        marker = "NEW " if row["new"] else "    "
        typer.echo(f"{marker}{row['count']:>8}  {row['pattern']}")
        if row["sample"]:
            typer.echo(f"{'':>14}e.g. {row['sample'][:200]}")


def _run_named(settings: Settings, catalog: QueryCatalog, name: str, params: dict[str, str], *,
               since: str | None, limit: int | None, as_json: bool) -> None:
    try:
        query = catalog.get(name)
        text = query.render(params)
    except BadInput as exc:
        _refuse(exc.reason)
    window = since or _duration_text(query.default_window)
    _execute(settings, query, text, since=window, limit=limit, as_json=as_json)


def _execute(settings: Settings, query: QueryDef | None, text: str, *, since: str, limit: int | None,
             as_json: bool) -> None:
    result, start, end = _run(settings, text, since=since, limit=limit)
    if query is not None:
        result = with_shares(query, result)
    if as_json:
        typer.echo(json.dumps([dict(row) for row in result.rows], indent=2, default=str))
        return
    _print_table(query, result, start=start, end=end)


def _run(settings: Settings, text: str, *, since: str, limit: int | None) -> tuple[QueryResult, datetime, datetime]:
    """Run `text` over the last `since`; bad input exits 2, a failed or timed-out query exits 1."""
    try:
        span = parse_duration(since)
    except ValueError as exc:
        _refuse(f"--since: {exc}")
    if span <= timedelta(0):
        _refuse("--since must be longer than zero")
    end = datetime.now(UTC)
    start = end - span
    try:
        engine = log_search_from_settings(settings)
        result = asyncio.run(engine.run(text, start=start, end=end, limit=limit))
    except (QueryError, ConfigError, ValueError) as exc:
        _refuse(str(exc))
    if not result.ok:
        typer.echo(f"incident-bot: query {result.status.lower()}: {result.message}", err=True)
        raise typer.Exit(1)
    return result, start, end


def _print_table(query: QueryDef | None, result: QueryResult, *, start: datetime, end: datetime) -> None:
    title = query.title if query else "Logs Insights query"
    typer.echo(f"{title} · {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC · {len(result.rows)} rows")
    if not result.rows:
        typer.echo("No matching log events in this window.")
        return
    fields = list(result.fields) or list(dict.fromkeys(key for row in result.rows for key in row))
    for line in table_lines(fields, result.rows, query=query, width=100):
        typer.echo(line)
    if query is not None:
        for hint in triage_hints(query, result):
            typer.echo(f"hint: {hint}")


def _catalog(settings: Settings) -> QueryCatalog:
    try:
        return QueryCatalog.load(settings.queries_dir)
    except ConfigError as exc:
        _refuse(str(exc))


def _params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _refuse(f"--param wants key=value, got {pair!r}")
        params[key.strip()] = value
    return params


def _duration_text(span: timedelta) -> str:
    return f"{int(span.total_seconds())}s"


def _refuse(reason: str) -> NoReturn:
    """Print one line to stderr and exit 2 (bad input)."""
    typer.echo(f"incident-bot: {reason}", err=True)
    raise typer.Exit(2)
