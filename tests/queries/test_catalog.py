"""The query catalog: loading, parameter validation against injection, the six queries on known logs, lint."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.duckdb_logs import DuckDBLogSearch
from bot.errors import BadInput, ConfigError
from bot.queries import QueryCatalog, lint_queries
from bot.settings import load_settings
from tests.logquery import sample_logs
from tests.logquery.sample_logs import END, START

QUERIES = Path(__file__).resolve().parents[2] / "queries"


@pytest.fixture(scope="module")
def catalog() -> QueryCatalog:
    """The repository's catalog."""
    return QueryCatalog.load(QUERIES)


def test_catalog_has_the_runbook_queries(catalog: QueryCatalog) -> None:
    """The six names the runbooks use load with titles and default windows."""
    assert catalog.names == ["dlq-breakdown", "dlq-spike-cause", "errors-by-type", "latency-percentiles",
                             "log-patterns", "order-trace", "slow-operators"]
    assert catalog.get("errors-by-type").default_window == timedelta(hours=1)
    assert catalog.get("order-trace").default_window == timedelta(hours=24)
    assert all(query.title and query.description for query in catalog)
    assert load_settings().queries_dir.resolve() == QUERIES


def test_unknown_name_lists_known_ones(catalog: QueryCatalog) -> None:
    """Asking for an unknown query is BadInput naming the known queries."""
    with pytest.raises(BadInput) as caught:
        catalog.get("dlq")
    assert "no query named 'dlq'" in caught.value.reason and "dlq-breakdown" in caught.value.reason


def test_order_id_is_quoted_into_the_query(catalog: QueryCatalog) -> None:
    """A valid order id lands in the query as a quoted string."""
    text = catalog.get("order-trace").render({"order_id": "ORD-12345"})
    assert '| filter order_id = "ORD-12345"' in text


@pytest.mark.parametrize("value", [
    'ORD-1" | stats count(*)',
    'ORD-1" or order_id like "',
    "ORD-1\n| display @message",
    "ORD-1 or 1=1",
    "ord-1",
    "12345",
    "",
    "ORD-" + "9" * 80,
    "ORD-1\\",
])
def test_injection_attempts_are_refused(catalog: QueryCatalog, value: str) -> None:
    """Values outside `ORD-` plus letters, digits and dashes raise BadInput with a clear one-line reason."""
    with pytest.raises(BadInput) as caught:
        catalog.get("order-trace").render({"order_id": value})
    assert caught.value.reason.startswith("order_id ")
    assert "\n" not in caught.value.reason


def test_missing_and_unknown_parameters(catalog: QueryCatalog) -> None:
    """A required parameter left out, or one the query does not have, is BadInput."""
    with pytest.raises(BadInput, match=r"needs the parameter order_id, e\.g\. order_id=ORD-12345"):
        catalog.get("order-trace").render({})
    with pytest.raises(BadInput, match="has no parameter 'since'"):
        catalog.get("dlq-breakdown").render({"since": "1h"})


def test_int_parameters(catalog: QueryCatalog) -> None:
    """An int parameter takes its default, accepts a number in range and refuses anything else."""
    query = catalog.get("dlq-spike-cause")
    assert "| filter error_count > 100" in query.render({})
    assert "| filter error_count > 5" in query.render({"min_count": "5"})
    for bad in ("abc", "-1", "5 | limit 1", "1e3"):
        with pytest.raises(BadInput, match="min_count"):
            query.render({"min_count": bad})


async def test_catalog_queries_on_known_logs(catalog: QueryCatalog, tmp_path: Path) -> None:
    """Each of the six queries gives the hand-computed answer on the sample logs."""
    engine = DuckDBLogSearch(sample_logs.write(tmp_path))

    async def run(name: str, **params: str) -> list[dict[str, object]]:
        result = await engine.run(catalog.get(name).render(params), start=START, end=END)
        assert result.ok, result.message
        return [dict(row) for row in result.rows]

    trace = await run("order-trace", order_id="ORD-1")
    assert [r["operator"] for r in trace] == ["parse", "validate", "enrich", "sink", "dedup"]
    assert trace[-1]["error_type"] == "duplicate" and trace[-1]["dlq"] == "true"
    assert await run("errors-by-type") == [{"error_type": "parse_error", "error_count": 2},
                                           {"error_type": "timeout", "error_count": 1},
                                           {"error_type": "validation_error", "error_count": 1}]
    assert await run("latency-percentiles") == [{"p50": 15, "p95": 5000, "p99": 5000}]
    slow = await run("slow-operators")
    assert [r["operator"] for r in slow] == ["enrich", "window", "sink", "validate", "parse", "dedup"]
    assert slow[0] == {"operator": "enrich", "avg_latency": 2650, "max_latency": 5000}
    assert slow[4]["avg_latency"] == pytest.approx(22 / 3)
    assert await run("dlq-breakdown") == [{"error_type": "parse_error", "count": 2},
                                          {"error_type": "duplicate", "count": 1},
                                          {"error_type": "validation_error", "count": 1}]
    assert await run("dlq-spike-cause", min_count="1") == [
        {"bin(5m)": "2025-01-13 10:00:00.000", "error_type": "parse_error", "error_count": 2}]
    assert len(await run("dlq-spike-cause", min_count="0")) == 3


def test_lint_passes_on_the_repository() -> None:
    """The repository's queries load, render with their examples and translate."""
    assert lint_queries(QUERIES) == []


def test_lint_reports_bad_files(tmp_path: Path) -> None:
    """Broken YAML, unsupported constructs, stray placeholders and missing queries are each reported."""
    (tmp_path / "broken.yaml").write_text("name: broken\ntitle: [unclosed\n")
    (tmp_path / "odd.yaml").write_text("name: odd\ntitle: Odd\nquery: unmask @message\n")
    (tmp_path / "stray.yaml").write_text("name: stray\ntitle: Stray\nquery: filter a = {{ b }}\n")
    (tmp_path / "named.yaml").write_text("name: other\ntitle: Other\nquery: fields a\n")
    problems = lint_queries(tmp_path)
    text = "\n".join(problems)
    assert "broken.yaml: cannot read YAML" in text
    assert "odd.yaml: command 'unmask' is not supported" in text
    assert "stray.yaml: placeholder 'b' has no entry under params" in text
    assert "named.yaml: file name should be other.yaml" in text
    assert "missing query 'dlq-breakdown'" in text
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        QueryCatalog.load(tmp_path)
