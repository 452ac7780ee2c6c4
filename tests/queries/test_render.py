"""Query results as Slack messages and timeline headlines, within Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.incidents.ports import QueryResult
from bot.queries import QueryCatalog, headline, result_message

QUERIES = Path(__file__).resolve().parents[2] / "queries"
START = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)
END = datetime(2025, 1, 13, 11, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> QueryCatalog:
    """The repository's catalog."""
    return QueryCatalog.load(QUERIES)


def breakdown(parse: int, duplicate: int, validation: int) -> QueryResult:
    rows = [{"error_type": "parse_error", "count": parse}, {"error_type": "duplicate", "count": duplicate},
            {"error_type": "validation_error", "count": validation}]
    rows.sort(key=lambda r: -int(r["count"]))  # type: ignore[call-overload]
    return QueryResult(fields=["error_type", "count"], rows=rows, records_scanned=50_000, elapsed_seconds=1.25)


def texts(blocks: Any) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            out.append(element["text"])
    return "\n".join(out)


def test_dlq_breakdown_shows_share_and_schema_hint(catalog: QueryCatalog) -> None:
    """Parse errors over 80% of the DLQ show their share and the source-schema hint."""
    query = catalog.get("dlq-breakdown")
    message = result_message(query, breakdown(8120, 1500, 380), start=START, end=END)
    shown = texts(message.blocks)
    assert message.blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": query.title, "emoji": True}}
    assert "parse_error" in shown and "81%" in shown and "15%" in shown
    assert "source schema change" in shown and "customer_id" in shown
    assert "2025-01-13 10:00 – 2025-01-13 11:00 UTC" in shown and "50,000 records scanned" in shown
    assert message.text == "dlq-breakdown: parse_error 8120 (81%), duplicate 1500 (15%), validation_error 380 (4%)"


@pytest.mark.parametrize(("counts", "hint", "absent"), [
    ((50, 900, 50), "dedup window", "schema change"),
    ((10, 40, 950), "business rule", "dedup window"),
    ((500, 400, 100), None, "over 80%"),
])
def test_other_dlq_hints(catalog: QueryCatalog, counts: tuple[int, int, int], hint: str | None,
                         absent: str) -> None:
    """Duplicates over 80% point at the dedup window, validation at a business rule; a mix gives no hint."""
    message = result_message(catalog.get("dlq-breakdown"), breakdown(*counts), start=START, end=END)
    shown = texts(message.blocks)
    if hint:
        assert hint in shown
    assert absent not in shown


def test_long_results_are_cut_within_slack_limits(catalog: QueryCatalog) -> None:
    """500 rows become at most 50 blocks of at most 3,000 characters, with a count of rows not shown."""
    rows = [{"@timestamp": f"2025-01-13 10:{i % 60:02d}:00.000", "operator": "enrich", "status": "error",
             "latency_ms": i, "error_type": "timeout", "dlq": "true", "@message": "x" * 300} for i in range(500)]
    result = QueryResult(fields=["@timestamp", "operator", "status", "latency_ms", "error_type", "dlq",
                                 "@message"], rows=rows)
    message = result_message(catalog.get("order-trace"), result, start=START, end=END)
    assert len(message.blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in message.blocks if b["type"] == "section")
    assert "450 more rows not shown" in texts(message.blocks)
    shown_rows = sum(b["text"]["text"].count("enrich") for b in message.blocks if b["type"] == "section")
    assert shown_rows == 50


def test_header_is_cut_to_150(catalog: QueryCatalog) -> None:
    """A header never exceeds Slack's 150 characters."""
    query = catalog.get("slow-operators")
    long = type(query)(**{**{f: getattr(query, f) for f in query.__dataclass_fields__}, "title": "T" * 400})
    message = result_message(long, QueryResult(fields=[], rows=[]), start=START, end=END)
    assert len(message.blocks[0]["text"]["text"]) == 150
    assert "No matching log events in this window." in texts(message.blocks)


@pytest.mark.parametrize(("status", "message"), [("Timeout", "the query did not finish within 60 s"),
                                                 ("Failed", "too many concurrent Logs Insights queries")])
def test_failed_results_say_why(catalog: QueryCatalog, status: str, message: str) -> None:
    """Failed and timed-out queries become a warning with the reason, and a headline that says so."""
    query = catalog.get("errors-by-type")
    result = QueryResult(fields=[], rows=[], status=status, message=message)
    rendered = result_message(query, result, start=START, end=END)
    assert f"Query {status.lower()}" in texts(rendered.blocks) and message in texts(rendered.blocks)
    assert headline(query, result) == f"errors-by-type: {status.lower()}: {message}"


def test_headlines(catalog: QueryCatalog) -> None:
    """Headlines summarise the top rows, a single row's values, or say nothing matched."""
    errors = QueryResult(fields=["error_type", "error_count"], rows=[
        {"error_type": "parse_error", "error_count": 812}, {"error_type": "timeout", "error_count": 40},
        {"error_type": "validation_error", "error_count": 3}, {"error_type": "x", "error_count": 1}])
    assert headline(catalog.get("errors-by-type"), errors) == \
        "errors-by-type: parse_error 812, timeout 40, validation_error 3 …"
    latency = QueryResult(fields=["p50", "p95", "p99"], rows=[{"p50": 120, "p95": 800.5, "p99": 2300}])
    assert headline(catalog.get("latency-percentiles"), latency) == \
        "latency-percentiles: p50 120, p95 800.5, p99 2300"
    assert headline(catalog.get("slow-operators"), QueryResult(fields=[], rows=[])) == \
        "slow-operators: no matching log events"
