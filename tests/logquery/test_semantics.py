"""The local engine on the sample logs: every supported construct against hand-computed answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters.duckdb_logs import DuckDBLogSearch
from tests.logquery.sample_logs import END, START


async def rows(engine: DuckDBLogSearch, query: str, **kwargs: Any) -> list[dict[str, Any]]:
    result = await engine.run(query, start=START, end=END, **kwargs)
    assert result.ok, result.message
    return [dict(row) for row in result.rows]


async def test_fields_filter_sort_limit(engine: DuckDBLogSearch) -> None:
    """Numeric filters, descending sort and limit give the slowest events first, numbers as numbers."""
    got = await rows(engine, "fields order_id, latency_ms | filter latency_ms > 100 | sort latency_ms desc")
    assert got == [{"order_id": "ORD-9", "latency_ms": 5000}, {"order_id": "ORD-1", "latency_ms": 300}]
    got = await rows(engine, "fields order_id | sort latency_ms desc | limit 1")
    assert got == [{"order_id": "ORD-9"}]


async def test_default_output_is_timestamp_and_message_newest_first(engine: DuckDBLogSearch) -> None:
    """Without fields, rows show @timestamp and the raw line, newest first; the window excludes 11:30."""
    got = await rows(engine, "filter operator = 'parse'")
    assert [row["@timestamp"] for row in got] == [
        "2025-01-13 10:03:00.000", "2025-01-13 10:02:00.000", "2025-01-13 10:00:00.100"]
    assert '"order_id": "ORD-3"' in got[0]["@message"]


async def test_time_window_limits_events(engine: DuckDBLogSearch) -> None:
    """Only events within [start, end] count; the non-JSON line is skipped, not fatal."""
    result = await engine.run("stats count() as n", start=START, end=datetime(2025, 1, 13, 10, 5, tzinfo=UTC))
    assert [dict(r) for r in result.rows] == [{"n": 7}]
    assert await rows(engine, "stats count(*) as n") == [{"n": 11}]


async def test_like_is_case_sensitive_substring(engine: DuckDBLogSearch) -> None:
    """`like "x"` matches a substring with case; `like /re/` and `=~ /re/` are regex tests."""
    assert await rows(engine, 'filter message like "Parse failed" | stats count() as n') == [{"n": 2}]
    assert await rows(engine, 'filter message like "parse failed" | stats count() as n') == [{"n": 0}]
    assert await rows(engine, "filter message like /(?i)parse FAILED/ | stats count() as n") == [{"n": 2}]
    got = await rows(engine, r"filter order_id =~ /ORD-1\d/ | fields order_id | sort order_id")
    assert got == [{"order_id": "ORD-10"}, {"order_id": "ORD-11"}]
    got = await rows(engine, 'filter message not like "Order" | stats count() as n')
    assert got == [{"n": 6}]  # 11 events, 5 of them "Order processed"


async def test_in_not_in_and_boolean_precedence(engine: DuckDBLogSearch) -> None:
    """`in` lists, `not in`, and `and` binding tighter than `or` behave as in Logs Insights."""
    got = await rows(engine, 'filter error_type in ["parse_error", "timeout"] | stats count() as n')
    assert got == [{"n": 3}]
    got = await rows(engine, 'filter operator not in ["parse", "enrich"] | stats count() as n')
    assert got == [{"n": 5}]  # 11 events, 3 parse and 3 enrich
    got = await rows(engine, 'filter operator = "sink" or operator = "dedup" and latency_ms > 100 '
                             "| stats count() as n")
    assert got == [{"n": 1}]
    got = await rows(engine, 'filter not (operator = "parse" or operator = "enrich") | stats count() as n')
    assert got == [{"n": 5}]


async def test_dlq_true_and_one_match_json_booleans(engine: DuckDBLogSearch) -> None:
    """`dlq = true` and `dlq = 1` both match lines whose JSON has "dlq": true."""
    assert await rows(engine, "filter dlq = true | stats count() as n") == [{"n": 4}]
    assert await rows(engine, "filter dlq = 1 | stats count() as n") == [{"n": 4}]
    assert await rows(engine, "filter context.cache_hit = true | fields order_id") == [{"order_id": "ORD-11"}]


async def test_ispresent_and_isempty(engine: DuckDBLogSearch) -> None:
    """ispresent is true where a field exists; isempty where it is missing or empty."""
    assert await rows(engine, "filter ispresent(dlq) | stats count() as n") == [{"n": 4}]
    assert await rows(engine, "filter isempty(order_id) | fields operator") == [{"operator": "window"}]
    assert await rows(engine, "filter not ispresent(dlq) | stats count() as n") == [{"n": 7}]


async def test_nested_fields(engine: DuckDBLogSearch) -> None:
    """Dotted names read nested JSON objects, such as context.api_latency_ms."""
    got = await rows(engine, "filter context.api_latency_ms >= 250 | fields order_id, context.api_latency_ms "
                             "| sort @timestamp asc")
    assert got == [{"order_id": "ORD-1", "context.api_latency_ms": 250},
                   {"order_id": "ORD-9", "context.api_latency_ms": 5000}]


async def test_aggregates(engine: DuckDBLogSearch) -> None:
    """count, count_distinct, sum, avg, min, max, earliest and latest over the window; "n/a" is skipped."""
    got = await rows(engine, "stats count() as n, count(latency_ms) as with_latency, "
                             "count_distinct(order_id) as orders, sum(latency_ms) as total, "
                             "min(latency_ms) as fastest, max(latency_ms) as slowest, "
                             "earliest(operator) as first_op, latest(operator) as last_op")
    assert got == [{"n": 11, "with_latency": 11, "orders": 6, "total": 5499, "fastest": 2, "slowest": 5000,
                    "first_op": "parse", "last_op": "window"}]
    got = await rows(engine, "filter operator = 'parse' | stats avg(latency_ms) as mean")
    assert got[0]["mean"] == pytest.approx(22 / 3)


async def test_pct_is_nearest_rank(engine: DuckDBLogSearch) -> None:
    """pct(f, p) is the ceil(p% × n)-th smallest value (values 2,5,7,10,15,20,40,100,300,5000)."""
    got = await rows(engine, "filter latency_ms > 0 | stats pct(latency_ms, 50) as p50, pct(latency_ms, 90) "
                             "as p90, pct(latency_ms, 95) as p95, pct(latency_ms, 25) as p25")
    assert got == [{"p50": 15, "p90": 300, "p95": 5000, "p25": 7}]


async def test_stats_by_field_and_default_names(engine: DuckDBLogSearch) -> None:
    """stats … by gives one row per key; unnamed aggregates are named as written."""
    result = await engine.run("stats count(), max(latency_ms) by operator | sort operator",
                              start=START, end=END)
    assert list(result.fields) == ["operator", "count()", "max(latency_ms)"]
    assert [(r["operator"], r["count()"]) for r in result.rows] == [
        ("dedup", 1), ("enrich", 3), ("parse", 3), ("sink", 1), ("validate", 2), ("window", 1)]


async def test_bin_is_epoch_aligned(engine: DuckDBLogSearch) -> None:
    """bin(5m) groups on 5-minute boundaries; bin(7m) on multiples of 7 minutes since the epoch."""
    got = await rows(engine, "stats count() as n by bin(5m) as period")
    assert got == [{"period": "2025-01-13 10:00:00.000", "n": 7}, {"period": "2025-01-13 10:05:00.000", "n": 4}]
    got = await rows(engine, "stats count() as n by bin(7m)")
    # 10:00 UTC on 2025-01-13 is 1736762400 s; the 7-minute bin holding it starts 240 s earlier, at 09:56.
    assert (1736762400 // 420) * 420 == 1736762400 - 240
    assert got == [{"bin(7m)": "2025-01-13 09:56:00.000", "n": 5}, {"bin(7m)": "2025-01-13 10:03:00.000", "n": 6}]


async def test_filter_after_stats(engine: DuckDBLogSearch) -> None:
    """A filter after stats applies to the aggregated rows."""
    got = await rows(engine, "stats count() as n by operator | filter n >= 3 | sort operator")
    assert got == [{"operator": "enrich", "n": 3}, {"operator": "parse", "n": 3}]


async def test_sort_is_natural(engine: DuckDBLogSearch) -> None:
    """Strings sort naturally: ORD-2 before ORD-10."""
    got = await rows(engine, "filter ispresent(order_id) | stats count() as n by order_id | sort order_id asc")
    assert [r["order_id"] for r in got] == ["ORD-1", "ORD-2", "ORD-3", "ORD-9", "ORD-10", "ORD-11"]


async def test_dedup_keeps_first_in_sort_order_and_null_keys(engine: DuckDBLogSearch) -> None:
    """dedup keeps each key's first row in the current order; rows with a null key are all kept."""
    got = await rows(engine, "fields operator, order_id | sort @timestamp desc | dedup operator")
    assert got == [{"operator": "window"}, {"operator": "enrich", "order_id": "ORD-11"},
                   {"operator": "validate", "order_id": "ORD-10"}, {"operator": "dedup", "order_id": "ORD-1"},
                   {"operator": "parse", "order_id": "ORD-3"}, {"operator": "sink", "order_id": "ORD-1"}]
    got = await rows(engine, "fields operator | sort @timestamp asc | dedup order_id | limit 3")
    assert got == [{"operator": "parse"}, {"operator": "parse"}, {"operator": "parse"}]
    got = await rows(engine, "fields operator | dedup order_id")
    assert len(got) == 7 and {"operator": "window"} in got


async def test_parse_glob_and_regex(engine: DuckDBLogSearch) -> None:
    """parse extracts fields; events that do not match are kept without them."""
    got = await rows(engine, "parse message \"Field '*' not found\" as missing | stats count() as n by missing "
                             "| sort n desc, missing asc")
    assert got == [{"n": 9}, {"missing": "amount", "n": 1}, {"missing": "cust_id", "n": 1}]
    got = await rows(engine, r"parse message /after (?<secs>\d+)s/ | filter ispresent(secs) | fields secs")
    assert got == [{"secs": 5}]


async def test_display_last_wins_and_fields_add_up(engine: DuckDBLogSearch) -> None:
    """Several fields commands add up; only the last display counts."""
    result = await engine.run("fields order_id | fields operator | filter operator = 'sink'",
                              start=START, end=END)
    assert list(result.fields) == ["order_id", "operator"]
    result = await engine.run("fields order_id, operator | display operator | display order_id | limit 1",
                              start=START, end=END)
    assert list(result.fields) == ["order_id"]


async def test_comments_and_computed_fields(engine: DuckDBLogSearch) -> None:
    """`#` comments are ignored; fields can compute values with functions and arithmetic."""
    query = """# slow enrich calls
    filter operator = "enrich"  # only enrich
    | fields latency_ms / 1000 as seconds, toupper(order_id) as id, strlen(message) as len
    | filter seconds > 1"""
    assert await rows(engine, query) == [{"seconds": 5, "id": "ORD-9", "len": 29}]


async def test_limit_argument_and_default_cap(tmp_path: Any) -> None:
    """The limit argument caps rows; without it at most 10,000 rows come back."""
    path = tmp_path / "many.jsonl"
    path.write_text("".join(
        f'{{"timestamp": "2025-01-13T10:{i // 6000:02d}:{(i // 100) % 60:02d}.{i % 100:03d}Z", "n": {i}}}\n'
        for i in range(10_050)))
    engine = DuckDBLogSearch(str(path))
    result = await engine.run("fields n", start=START, end=END)
    assert len(result.rows) == 10_000
    result = await engine.run("fields n", start=START, end=END, limit=5)
    assert len(result.rows) == 5
