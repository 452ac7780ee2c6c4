"""Derived columns Logs Insights cannot compute (it has no window functions): share of total, triage hints.

A query opts in with `share:` and `hints:` in its YAML file; see `catalog.Share` and `catalog.Hint`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.incidents.ports import QueryResult
from bot.queries.catalog import QueryDef


def with_shares(query: QueryDef, result: QueryResult) -> QueryResult:
    """`result` with the query's share column added (a fraction of the total, 0..1); unchanged otherwise."""
    share = query.share
    if share is None or not result.ok or not result.rows:
        return result
    total = sum(_number(row.get(share.of)) for row in result.rows)
    rows: list[dict[str, Any]] = []
    for row in result.rows:
        fraction = _number(row.get(share.of)) / total if total else 0.0
        rows.append({**row, share.column: round(fraction, 4)})
    fields = [*result.fields, share.column] if share.column not in result.fields else list(result.fields)
    return dataclasses.replace(result, fields=fields, rows=rows)


def triage_hints(query: QueryDef, result: QueryResult) -> list[str]:
    """The hints whose condition holds for `result` (e.g. parse errors over 80% of the DLQ)."""
    if not query.hints or query.share is None:
        return []
    shared = with_shares(query, result)
    fractions = {str(row.get(query.share.label)): _number(row.get(query.share.column)) for row in shared.rows}
    return [hint.say for hint in query.hints if fractions.get(hint.when, 0.0) > hint.over]


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return 0.0
