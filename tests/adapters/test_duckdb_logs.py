"""The embedded DuckDB engine as a LogSearch: results, timeout, missing files and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.duckdb_logs import DuckDBLogSearch
from bot.errors import QueryError, UnsupportedQuery
from tests.logquery import sample_logs
from tests.logquery.sample_logs import END, START


async def test_rows_are_typed_records(tmp_path: Path) -> None:
    """Numbers come back as numbers, timestamps as Logs Insights text, missing fields are left out."""
    engine = DuckDBLogSearch(sample_logs.write(tmp_path))
    result = await engine.run("fields @timestamp, order_id, latency_ms | filter operator = 'window' or "
                              "order_id = 'ORD-9'", start=START, end=END)
    assert result.ok and result.status == "Complete"
    assert list(result.fields) == ["@timestamp", "order_id", "latency_ms"]
    assert [dict(r) for r in result.rows] == [
        {"@timestamp": "2025-01-13 10:09:00.000", "latency_ms": 100},
        {"@timestamp": "2025-01-13 10:07:00.000", "order_id": "ORD-9", "latency_ms": 5000},
    ]
    assert result.elapsed_seconds is not None


async def test_no_matching_files_is_a_failed_result(tmp_path: Path) -> None:
    """A LOCAL_LOGS glob that matches nothing gives a Failed result naming the glob."""
    engine = DuckDBLogSearch(str(tmp_path / "nothing-*.jsonl"))
    result = await engine.run("fields @message", start=START, end=END)
    assert result.status == "Failed"
    assert "no log files match" in result.message and "nothing-*.jsonl" in result.message


async def test_timeout_interrupts_the_query(tmp_path: Path) -> None:
    """A query slower than the timeout stops and reports Timeout."""
    engine = DuckDBLogSearch(sample_logs.write(tmp_path), timeout=1e-6)
    result = await engine.run("stats count() as n by operator", start=START, end=END)
    assert result.status == "Timeout"
    assert "did not finish within" in result.message


async def test_bad_regex_is_a_query_error(tmp_path: Path) -> None:
    """A regex DuckDB cannot compile raises QueryError with DuckDB's reason, not a DuckDB exception."""
    engine = DuckDBLogSearch(sample_logs.write(tmp_path))
    with pytest.raises(QueryError, match="could not run the query"):
        await engine.run("filter message like /(unclosed/", start=START, end=END)


async def test_unsupported_query_is_raised_before_reading(tmp_path: Path) -> None:
    """Unsupported constructs raise UnsupportedQuery even when no file exists."""
    engine = DuckDBLogSearch(str(tmp_path / "none.jsonl"))
    with pytest.raises(UnsupportedQuery, match="unmask"):
        await engine.run("unmask @message", start=START, end=END)
