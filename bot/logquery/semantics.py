"""Logs Insights value semantics in SQL: literals, null tests, natural sort order, parse group numbers."""

from __future__ import annotations

import re

from bot.logquery import ast
from bot.logquery.functions import Typed, sql_string


def literal(node: ast.Literal) -> Typed:
    """A literal as typed SQL."""
    value = node.value
    if value is None:
        return Typed("NULL", "any")
    if isinstance(value, bool):
        return Typed("true" if value else "false", "bool")
    if isinstance(value, int | float):
        return Typed(repr(float(value)) if isinstance(value, float) else str(value), "num")
    return Typed(sql_string(value), "str")


def is_null(node: ast.Expr) -> bool:
    """Whether `node` is the null literal."""
    return isinstance(node, ast.Literal) and node.value is None


def sort_terms(value: Typed, *, descending: bool) -> list[str]:
    """ORDER BY terms for one sort key."""
    direction = "DESC" if descending else "ASC"
    if value.kind in ("num", "time", "bool"):
        return [f"{value.sql} {direction} NULLS LAST"]
    # Logs Insights' natural sort: non-numbers before numbers, digit runs compared as numbers.
    return [f"li_sort_class({value.sql}) {direction} NULLS LAST",
            f"TRY_CAST({value.sql} AS DOUBLE) {direction} NULLS LAST",
            f"li_natural({value.sql}) {direction} NULLS LAST"]


def group_numbers(regex: str, names: tuple[str, ...]) -> list[int]:
    """The capture-group number of each parse field (named groups may follow unnamed ones)."""
    try:
        index = re.compile(regex).groupindex
    except re.error:
        return list(range(1, len(names) + 1))
    return [index.get(name, position) for position, name in enumerate(names, start=1)]
