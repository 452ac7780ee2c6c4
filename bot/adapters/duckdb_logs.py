"""The embedded Logs Insights engine (`LogSearch` port): query text over local JSON-lines files, via DuckDB.

The query is translated by `bot.logquery.to_duckdb`; this module only owns the connection, the timeout and the
shape of the result. DuckDB is synchronous, so each query runs in a worker thread with its own connection.
"""

from __future__ import annotations

import asyncio
import glob
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import structlog

from bot.errors import QueryError
from bot.incidents.ports import QueryResult
from bot.logquery import MACROS, Translation, to_duckdb
from bot.logquery.functions import IP_UDFS
from bot.logquery.pattern_stage import PATTERN_COLUMNS, PATTERN_TABLE
from bot.logquery.patterns import MaskedLine, mine, table_rows
from bot.logquery.values import format_timestamp, typed_value

log = structlog.get_logger(__name__)


class DuckDBLogSearch:
    """Logs Insights over the JSON-lines files matching `source` (a glob such as `logs/*.jsonl`)."""

    def __init__(self, source: str, *, timeout: float = 60.0, threads: int | None = None) -> None:
        self.source = source
        self.timeout = timeout
        self.threads = threads

    async def run(
        self, query: str, *, start: datetime, end: datetime, limit: int | None = None
    ) -> QueryResult:
        """Run `query` over [start, end]; raises QueryError (or UnsupportedQuery) if it cannot run it."""
        translation = to_duckdb(query, source=self.source, start=start, end=end, limit=limit)
        if not glob.glob(self.source, recursive=True):
            return QueryResult(fields=translation.columns, rows=[], status="Failed",
                               message=f"no log files match {self.source!r} (LOCAL_LOGS)")
        connection = self._connect()
        began = time.perf_counter()
        try:
            raw = await asyncio.wait_for(asyncio.to_thread(_fetch, connection, translation), self.timeout)
        except TimeoutError:
            connection.interrupt()  # the worker thread would otherwise scan on after we gave up
            log.warning("log_query_timed_out", engine="local", timeout_s=self.timeout)
            return QueryResult(fields=translation.columns, rows=[], status="Timeout",
                               elapsed_seconds=time.perf_counter() - began,
                               message=f"the query did not finish within {self.timeout:g} s")
        except duckdb.IOException as exc:
            return QueryResult(fields=translation.columns, rows=[], status="Failed",
                               message=f"cannot read the log files: {_first_line(exc)}")
        except duckdb.Error as exc:
            raise QueryError(f"the local engine could not run the query: {_first_line(exc)}") from None
        rows = [_row(translation.columns, values) for values in raw]
        return QueryResult(fields=translation.columns, rows=rows,
                           elapsed_seconds=time.perf_counter() - began)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(":memory:")
        # Timestamps are compared and printed in UTC whatever the host's zone.
        connection.execute("SET TimeZone = 'UTC'")
        if self.threads:
            connection.execute(f"SET threads = {int(self.threads)}")
        connection.execute(MACROS)
        for name, (function, arity) in IP_UDFS.items():
            connection.create_function(name, function, [duckdb.sqltype("VARCHAR")] * arity,
                                       duckdb.sqltype("BOOLEAN"))
        return connection


def _fetch(connection: duckdb.DuckDBPyConnection, translation: Translation) -> list[tuple[Any, ...]]:
    # The worker thread owns the connection: closing it from the event loop while a query runs would fail.
    try:
        plan = translation.pattern
        if plan is not None:
            # pattern: scan (masked, counted), mine in Python, then the rest of the query over the templates.
            scanned = connection.execute(plan.scan_sql).fetchall()
            templates = mine(MaskedLine.scanned(*row) for row in scanned)
            rows = table_rows(templates, compare=plan.compare, anomalies=plan.anomaly)
            connection.execute(f"CREATE TEMP TABLE {PATTERN_TABLE} ({PATTERN_COLUMNS})")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                connection.executemany(f"INSERT INTO {PATTERN_TABLE} VALUES ({marks})", rows)  # noqa: S608
        return connection.execute(translation.sql).fetchall()
    finally:
        connection.close()


def _row(columns: Sequence[str], values: Sequence[Any]) -> Mapping[str, Any]:
    return {name: _cell(value) for name, value in zip(columns, values, strict=True) if value is not None}


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, str):
        return typed_value(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
