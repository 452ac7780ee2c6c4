"""The two ways the engine reads lines (projected keys, or whole objects for @message) give the same answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.duckdb_logs import DuckDBLogSearch
from bot.logquery import to_duckdb
from tests.logquery.sample_logs import END, START

# Lines whose keys change type from line to line, plus lines that are not JSON objects at all.
AWKWARD = [
    {"timestamp": "2025-01-13T10:00:00.000Z", "ctx": {"hit": True, "n": 5}, "v": 1, "dlq": True, "s": "a"},
    "this line is not JSON",
    {"timestamp": "2025-01-13T10:00:01.000Z", "ctx": "plain text", "v": "two", "dlq": False, "s": 3},
    [1, 2, 3],
    '"a JSON string"',
    {"timestamp": "2025-01-13T10:00:02.000Z", "ctx": {"hit": "yes", "n": {"deep": 1}}, "v": {"k": [1, 2]},
     "dlq": 1, "s": None, "S": "upper"},
    {"timestamp": "2025-01-13T10:00:03.000Z", "ctx": 7, "v": [1, {"a": None}], "dlq": "true", "s": 'quo"te'},
    {},
    {"timestamp": "2025-01-13T10:00:04+02:00", "ctx": {"hit": False}, "v": 2.5, "s": "late offset"},
    {"timestamp": 12345, "ctx": None, "v": 1e3, "dlq": None, "s": "numeric timestamp"},
    {"timestamp": "2025-01-13T10:00:05.000Z", "ctx": {}, "v": "20.085", "dlq": 0, "s": "zero"},
]
DUPLICATE_KEYS = '{"timestamp": "2025-01-13T10:00:06.000Z", "v": "first", "v": "second", "s": "dup"}'

QUERIES = [
    "fields v, s, dlq, ctx, ctx.hit, ctx.n | sort @timestamp asc",
    "fields ctx.n.deep, ctx.missing, missing, missing.x | sort @timestamp asc",
    "filter dlq = true | fields s",
    "filter dlq = 1 | fields s",
    "filter v > 1 | fields v, s | sort v desc",
    "filter ctx.hit = true or ctx.hit = false | fields s",
    "filter ispresent(ctx) and not ispresent(ctx.hit) | fields s, ctx",
    "stats count() as n, count(v) as nv, sum(v) as total, count_distinct(ctx) as kinds",
    "stats count() as n by bin(1m)",
    "fields @logStream, s | filter s like /o/ | sort s",
    "fields timestamp, s | sort timestamp asc",
]


@pytest.fixture
def awkward(tmp_path: Path) -> DuckDBLogSearch:
    """An engine over the awkward lines."""
    lines = [line if isinstance(line, str) else json.dumps(line) for line in AWKWARD]  # strings as written
    (tmp_path / "awkward.jsonl").write_text("\n".join([*lines, DUPLICATE_KEYS]) + "\n")
    return DuckDBLogSearch(str(tmp_path / "*.jsonl"))


async def _rows(engine: DuckDBLogSearch, query: str) -> list[dict[str, Any]]:
    result = await engine.run(query, start=START, end=END)
    assert result.ok, result.message
    return [dict(row) for row in result.rows]


@pytest.mark.parametrize("query", QUERIES)
async def test_projected_and_whole_line_reads_agree(awkward: DuckDBLogSearch, query: str) -> None:
    """A query gives the same rows whether it reads projected keys or whole lines (forced by using @message)."""
    assert "read_json(" in to_duckdb(query, source="x").sql
    whole = "filter ispresent(@message) | " + query
    assert "read_ndjson_objects(" in to_duckdb(whole, source="x").sql
    assert await _rows(awkward, query) == await _rows(awkward, whole)


async def test_mistyped_and_missing_fields_read_as_null_or_text(awkward: DuckDBLogSearch) -> None:
    """Objects read as JSON text, JSON null and missing keys as absent, non-JSON lines not at all."""
    got = await _rows(awkward, "fields s, v, ctx.hit | sort @timestamp asc")
    # 10:00:04+02:00 is 08:00:04 UTC and 12345 is no timestamp: both fall outside the window.
    assert got == [
        {"s": "a", "v": 1, "ctx.hit": "true"},
        {"s": 3, "v": "two"},  # ctx is a string here: ctx.hit is absent, not an error
        {"v": '{"k":[1,2]}', "ctx.hit": "yes"},  # s is JSON null
        {"s": 'quo"te', "v": '[1,{"a":null}]'},
        {"s": "zero", "v": 20.085},
        {"s": "dup", "v": "first"},  # the first of duplicate keys wins
    ]

async def test_field_names_are_case_sensitive(awkward: DuckDBLogSearch) -> None:
    """`S` and `s` are different fields, whether a query uses one of them or both."""
    assert await _rows(awkward, "filter S = 'upper' | fields S") == [{"S": "upper"}]
    assert await _rows(awkward, "filter s = 'upper' | fields S") == []
    assert await _rows(awkward, "filter S = 'upper' or s = 'a' | fields s, S | sort s") == [
        {"s": "a"}, {"S": "upper"}]


def test_key_names_read_json_cannot_project_fall_back_to_whole_lines() -> None:
    """Keys differing only in case, or `filename` next to @logStream, read whole lines instead."""
    assert "read_ndjson_objects(" in to_duckdb("fields Level, level", source="x").sql
    assert "read_ndjson_objects(" in to_duckdb("fields filename, @logStream", source="x").sql
    assert "read_json(" in to_duckdb("fields filename, level", source="x").sql
    sql = to_duckdb("fields context, context.cache_hit", source="x").sql
    assert "'context': 'JSON'" in sql and "json_extract_string(\"context\", '$') AS f1" in sql


async def test_a_file_opening_with_non_objects_still_reads_fields(tmp_path: Path) -> None:
    """Array or scalar lines before the first object do not make the reader mistake the file's shape."""
    event = {"timestamp": "2025-01-13T10:00:00.000Z", "s": "found"}
    (tmp_path / "odd.jsonl").write_text('[1, 2]\n"text"\n3\n' * 200 + json.dumps(event) + "\n")
    engine = DuckDBLogSearch(str(tmp_path / "odd.jsonl"))
    assert await _rows(engine, "fields s") == [{"s": "found"}]
    # With one projected key, DuckDB's auto-detection would read each whole line into it.
    assert await _rows(engine, "stats count() as n by bin(1h)") == [{"bin(1h)": "2025-01-13 10:00:00.000", "n": 1}]
