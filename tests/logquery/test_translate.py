"""The parser and the DuckDB generator: golden query→SQL pairs, syntax errors and unsupported constructs."""

from __future__ import annotations

import duckdb
import pytest

from bot.errors import QueryError, UnsupportedQuery
from bot.logquery import MACROS, parse, to_duckdb

# Queries that need @message (the whole line) read objects and extract every field from them at once.
RAW_BASE = ("WITH s0 AS (\n  SELECT CASE WHEN ends_with(v[1], 'Z') THEN TRY_CAST(v[1] AS TIMESTAMP) "
        "ELSE CAST(TRY_CAST(v[1] AS TIMESTAMPTZ) AS TIMESTAMP) END AS t, CAST(json AS VARCHAR) AS m, v[2] AS f1\n"
        "  FROM (SELECT *, json_extract_string(json, ['$.\"timestamp\"', '{path}']) AS v "
        "FROM read_ndjson_objects('logs/*.jsonl', ignore_errors = true))\n)")
# The others project only the top-level keys they use: VARCHAR, or JSON for keys they walk into.
BASE = ("WITH s0 AS (\n  SELECT CASE WHEN ends_with(\"timestamp\", 'Z') THEN TRY_CAST(\"timestamp\" AS TIMESTAMP) "
        "ELSE CAST(TRY_CAST(\"timestamp\" AS TIMESTAMPTZ) AS TIMESTAMP) END AS t, {column} AS f1\n"
        "  FROM read_json('logs/*.jsonl', format = 'newline_delimited', records = true, "
        "columns = {{'timestamp': 'VARCHAR', {key}}}, ignore_errors = true)\n)")

GOLDEN = [
    (
        'filter order_id = "ORD-1" | sort @timestamp asc',
        RAW_BASE.format(path='$."order_id"')
        + ",\ns1 AS (\n  SELECT * FROM s0 WHERE (f1 = 'ORD-1')\n)\n"
        'SELECT t AS "@timestamp", m AS "@message"\nFROM s1\nORDER BY t ASC NULLS LAST\nLIMIT 10000',
    ),
    (
        "stats count() as n by error_type | sort n desc",
        BASE.format(column='"error_type"', key="'error_type': 'VARCHAR'")
        + ",\ns1 AS (\n  SELECT f1 AS c1, count(*) AS c2 FROM s0 GROUP BY ALL\n)\n"
        'SELECT c1 AS "error_type", c2 AS "n"\nFROM s1\nORDER BY c2 DESC NULLS LAST, '
        # ties fall back to the group key, in natural order
        "li_sort_class(c1) ASC NULLS LAST, TRY_CAST(c1 AS DOUBLE) ASC NULLS LAST, li_natural(c1) ASC NULLS LAST"
        "\nLIMIT 10000",
    ),
    (
        "filter latency_ms > 0 | stats pct(latency_ms, 95) by bin(5m)",
        BASE.format(column='"latency_ms"', key="'latency_ms': 'VARCHAR'")
        + ",\ns1 AS (\n  SELECT * FROM s0 WHERE (li_num(f1) > 0)\n),\n"
        "s2 AS (\n  SELECT make_timestamp(CAST(floor(epoch_us(t) / 300000000) * 300000000 AS BIGINT)) AS c1, "
        "quantile_disc(li_num(f1), 0.95) AS c2 FROM s1 GROUP BY ALL\n)\n"
        'SELECT c1 AS "bin(5m)", c2 AS "pct(latency_ms, 95)"\nFROM s2\nORDER BY c1 ASC NULLS LAST\nLIMIT 10000',
    ),
    (
        "fields context.cache_hit as hit | filter hit = true | limit 5",
        BASE.format(column="json_extract_string(\"context\", '$.\"cache_hit\"')", key="'context': 'JSON'")
        + ",\ns1 AS (\n  SELECT * FROM s0 WHERE (li_bool(f1) = true)\n),\n"
        "s2 AS (\n  SELECT * FROM s1 ORDER BY t DESC NULLS LAST LIMIT 5\n)\n"
        'SELECT f1 AS "hit"\nFROM s2\nORDER BY t DESC NULLS LAST\nLIMIT 10000',
    ),
]


@pytest.mark.parametrize(("query", "sql"), GOLDEN)
def test_golden_sql(query: str, sql: str) -> None:
    """Each golden query translates to exactly the expected SQL, which DuckDB then accepts."""
    assert to_duckdb(query, source="logs/*.jsonl").sql == sql
    connection = duckdb.connect()
    connection.execute(MACROS)
    connection.execute("EXPLAIN " + sql.replace("'logs/*.jsonl'", "'/dev/null'"))


def test_string_values_are_escaped() -> None:
    """A quote inside a string literal stays inside the SQL string."""
    sql = to_duckdb("filter message = \"it's\"", source="logs/*.jsonl").sql
    assert "(f1 = 'it''s')" in sql


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("lookup users user_id", "command 'lookup' is not supported by the local engine at line 1, column 1"),
        ("stats histogram(latency_ms, 5)", "function 'histogram' is not supported by the local engine at line 1, "
                                           "column 7"),
        ("fields @ingestionTime", "field '@ingestionTime' (local files have no ingestion time) is not supported"),
        ("fields @ptr", "field '@ptr' (local events have no CloudWatch pointer) is not supported"),
        ("stats count() by bin(1mo)", "duration unit 'mo' is not supported"),
        ("filter x = 1\n| unmask @message", "command 'unmask' is not supported by the local engine at line 2"),
    ],
)
def test_unsupported_constructs_name_themselves(query: str, named: str) -> None:
    """A construct the local engine lacks raises UnsupportedQuery naming it and where it is."""
    with pytest.raises(UnsupportedQuery) as caught:
        to_duckdb(query, source="logs/*.jsonl")
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("filter order_id = ", "expected a field, value or function at line 1, column 19"),
        ("fields a b", "expected '|' between commands at line 1, column 10"),
        ("frobnicate x", "unknown command 'frobnicate'"),
        ('filter a = "open', "unterminated string at line 1, column 12"),
        ("fields a |", "expected a command after '|'"),
        ("limit 0", "limit must be a positive whole number"),
        ("stats count() as n | filter order_id = 'x'", "field 'order_id' is not a stats result (known: n)"),
        ("filter count() > 1", "aggregate 'count' is only allowed in stats"),
        ('parse @message "a=* b=*" as a', "the pattern has 2 '*' but 1 field names follow 'as'"),
        ("sort a | dedup a | filter a = 1", "only limit may follow dedup"),
        ("", "empty query"),
        ("fields a | diff", "diff has to be used after pattern at line 1, column 12"),
        ("stats count() as n | pattern n", "pattern clusters events; it cannot follow stats"),
        ("limit 5 | pattern @message | diff", "stats, limit or dedup before pattern mix them"),
    ],
)
def test_syntax_errors_say_where(query: str, message: str) -> None:
    """Invalid queries raise QueryError quoting the problem and its position."""
    with pytest.raises(QueryError) as caught:
        to_duckdb(query, source="logs/*.jsonl")
    assert not isinstance(caught.value, UnsupportedQuery)
    assert message in str(caught.value)


def test_parser_builds_the_guide_query() -> None:
    """The guide's DLQ spike query parses into fields, filter, stats (with bin) and filter commands."""
    query = parse('fields @timestamp, error_type | filter error_type in ["parse_error", "duplicate"] '
                  "| stats count() as error_count by bin(5m), error_type | filter error_count > 100")
    assert [type(c).__name__ for c in query.commands] == ["Fields", "Filter", "Stats", "Filter"]
    stats = query.commands[2]
    assert [p.name for p in stats.by] == ["bin(5m)", "error_type"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("modifier", "earlier", "later"), [
    ("", "2025-03-31 09:00:00", "2025-03-31 10:00:00"),
    ("previousDay", "2025-03-30 10:00:00", "2025-03-30 11:00:00"),
    ("previousWeek", "2025-03-24 10:00:00", "2025-03-24 11:00:00"),
    ("previousMonth", "2025-02-28 10:00:00", "2025-02-28 11:00:00"),
])
def test_diff_reads_its_comparison_period(modifier: str, earlier: str, later: str) -> None:
    """`diff` compares with the period just before, of equal length, or the same time a day, a week or a
    (calendar) month earlier: the scan reads that period too."""
    from datetime import UTC, datetime

    translation = to_duckdb(f"pattern message | diff {modifier}", source="logs/*.jsonl",
                            start=datetime(2025, 3, 31, 10, tzinfo=UTC), end=datetime(2025, 3, 31, 11, tzinfo=UTC))
    assert translation.pattern is not None and translation.pattern.compare
    assert f"t >= TIMESTAMP '{earlier}.000000' AND t < TIMESTAMP '{later}.000000'" in translation.pattern.scan_sql
