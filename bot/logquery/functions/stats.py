"""Statistics (only inside `stats`): arguments are row-level expressions, never other aggregates."""

from __future__ import annotations

from bot.logquery import ast
from bot.logquery.functions.base import Generator, Translator, Typed, number_literal


def _count(gen: Generator, node: ast.Call) -> Typed:
    if node.star or not node.args:
        return Typed("count(*)", "num")
    (arg,) = gen.args(node, 1)
    return Typed(f"count({arg.sql})", "num")


def _count_distinct(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"count(DISTINCT {arg.sql})", "num")  # exact here; the service approximates


def _numeric(sql_function: str) -> Translator:
    def translate(gen: Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        if sql_function in ("min", "max") and arg.kind == "time":
            return Typed(f"{sql_function}({arg.sql})", "time")
        return Typed(f"{sql_function}({gen.as_num(arg)})", "num")
    return translate


def _pct(gen: Generator, node: ast.Call) -> Typed:
    if len(node.args) != 2:
        raise gen.error(node.pos, "pct() takes a field and a percentile, such as pct(f, 95)")
    percentile = number_literal(gen, node, 1, "a percentile")
    if not 0 <= percentile <= 100:
        raise gen.error(node.args[1].pos, "the percentile must be between 0 and 100")
    value = gen.expr(node.args[0])
    # quantile_disc picks the ceil(p*n)-th smallest value: the nearest-rank percentile.
    if value.kind == "time":
        return Typed(f"quantile_disc({value.sql}, {percentile / 100!r})", "time")
    return Typed(f"quantile_disc({gen.as_num(value)}, {percentile / 100!r})", "num")


def _by_time(sql_function: str) -> Translator:
    # earliest/latest: the value from the event with the lowest/highest @timestamp.
    def translate(gen: Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        timestamp = gen.resolve("@timestamp", node.pos).sql
        return Typed(f"{sql_function}({arg.sql}, {timestamp})", arg.kind)
    return translate


def _sorts(sql_function: str) -> Translator:
    # sortsFirst/sortsLast: the value that sorts first/last, numbers as numbers, text in natural order.
    def translate(gen: Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        if arg.kind in ("num", "time", "bool"):
            return Typed(f"{sql_function}({arg.sql})", arg.kind)
        text = gen.as_str(arg)
        key = f"struct_pack(c := li_sort_class({text}), n := TRY_CAST({text} AS DOUBLE), s := li_natural({text}))"
        return Typed(f"arg_{sql_function}({text}, {key})", arg.kind)
    return translate


AGGREGATES: dict[str, Translator] = {
    "count": _count,
    "count_distinct": _count_distinct,
    "sum": _numeric("sum"),
    "avg": _numeric("avg"),
    "min": _numeric("min"),
    "max": _numeric("max"),
    "stddev": _numeric("stddev_samp"),
    "pct": _pct,
    "earliest": _by_time("arg_min"),
    "latest": _by_time("arg_max"),
    "sortsfirst": _sorts("min"),
    "sortslast": _sorts("max"),
    # Time-series forms meant for `by bin(...)`: per bin they are count and sum.
    "count_over_time": _count,
    "sum_over_time": _numeric("sum"),
}
