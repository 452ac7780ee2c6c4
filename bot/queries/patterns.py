"""Log patterns for triage: the `log-patterns` query with an optional extra filter, and its rows as
`{pattern, count, sample, new}` for the CLI, Slack and the incident timeline.

The query itself (queries/log-patterns.yaml) is ordinary Logs Insights (`pattern` then `diff`), so it runs on
either engine; this module only narrows it and reads its CloudWatch-named fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.errors import BadInput, QueryError
from bot.incidents.ports import QueryResult
from bot.logquery import ast
from bot.logquery.parser import parse
from bot.queries.catalog import QueryDef

LOG_PATTERNS = "log-patterns"
MAX_FILTER = 500
NEW = "new"


def log_patterns_text(query: QueryDef, condition: str | None) -> str:
    """The query's text, narrowed by `condition` (a Logs Insights filter expression) when one is given.

    Raises BadInput when the condition is not exactly one filter expression (no `|`, no second command).
    """
    return query_text(query, {}, condition)


def query_text(query: QueryDef, params: Mapping[str, str], condition: str | None) -> str:
    """`query` rendered with `params` (validated, quoted), first narrowed by `condition` when one is given."""
    text = query.render(params)
    if condition is None or not condition.strip():
        return text
    condition = condition.strip()
    if len(condition) > MAX_FILTER or not condition.isprintable():
        raise BadInput(f"the filter must be one line of at most {MAX_FILTER} characters")
    try:
        parsed = parse(f"filter {condition}")
    except QueryError as exc:
        raise BadInput(f"the filter is not a Logs Insights condition: {exc}") from None
    if len(parsed.commands) != 1 or not isinstance(parsed.commands[0], ast.Filter):
        raise BadInput("the filter must be one condition, e.g. operator = \"parse\" (no '|')")
    return f"filter {condition}\n| {text}"


def pattern_rows(result: QueryResult) -> list[dict[str, Any]]:
    """`{pattern, count, sample, new}` per template seen in the period, most frequent first."""
    rows = [_row(row) for row in result.rows]
    return sorted((row for row in rows if row["count"] > 0), key=lambda row: -row["count"])


def headline(query: QueryDef, result: QueryResult) -> str:
    """One line for the timeline, new templates first: `log-patterns: new pattern: <template> (712, new), ...`."""
    if not result.ok:
        return f"{query.name}: {result.status.lower()}: {result.message or 'no reason given'}"[:300]
    rows = pattern_rows(result)
    if not rows:
        return f"{query.name}: no matching log events"
    ordered = sorted(rows, key=lambda row: (not row["new"], -row["count"]))
    parts = [f"new pattern: {row['pattern']} ({row['count']}, new)" if row["new"]
             else f"{row['pattern']} ({row['count']})" for row in ordered[:3]]
    more = " …" if len(rows) > 3 else ""
    text = f"{query.name}: {', '.join(parts)}{more}"
    return text if len(text) <= 300 else text[:299] + "…"


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    count = row.get("@sampleCount", 0)
    return {
        "pattern": str(row.get("@pattern", "")),
        "count": int(count) if isinstance(count, int | float) else 0,
        "sample": None if row.get("@logSample") is None else str(row["@logSample"]),
        "new": row.get("@differenceDescription") == NEW,
    }
