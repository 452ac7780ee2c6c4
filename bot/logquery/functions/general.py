"""General, conversion and JSON functions: `ispresent`, `coalesce`, `toNumber`, `jsonParse`, `jsonStringify`."""

from __future__ import annotations

from bot.logquery import ast
from bot.logquery.functions.base import Generator, Translator, Typed


def _ispresent(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"({arg.sql} IS NOT NULL)", "bool")


def _coalesce(gen: Generator, node: ast.Call) -> Typed:
    args = gen.args(node, (1, 64))
    return Typed(f"coalesce({', '.join(gen.as_str(arg) for arg in args)})", "any")


def _if(gen: Generator, node: ast.Call) -> Typed:
    if len(node.args) != 3:
        raise gen.error(node.pos, "if() takes a condition, a value when true and a value when false")
    condition = gen.as_bool(gen.expr(node.args[0]))
    then, otherwise = gen.expr(node.args[1]), gen.expr(node.args[2])
    if then.kind == otherwise.kind:
        return Typed(f"(CASE WHEN {condition} THEN {then.sql} ELSE {otherwise.sql} END)", then.kind)
    return Typed(f"(CASE WHEN {condition} THEN {gen.as_str(then)} ELSE {gen.as_str(otherwise)} END)", "any")


def _to_number(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(gen.as_num(arg), "num")


def _to_integer(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"CAST(trunc({gen.as_num(arg)}) AS BIGINT)", "num")


def _json_parse(gen: Generator, node: ast.Call) -> Typed:
    # Kept as JSON text: `j.key` on the result walks into it (see the generator's resolve).
    (arg,) = gen.args(node, 1)
    return Typed(f"CAST(TRY_CAST({gen.as_str(arg)} AS JSON) AS VARCHAR)", "any")


def _json_stringify(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"CAST(to_json({arg.sql}) AS VARCHAR)" if arg.kind != "any" else arg.sql, "str")


FUNCTIONS: dict[str, Translator] = {
    "ispresent": _ispresent,
    "coalesce": _coalesce,
    "if": _if,
    "tonumber": _to_number,
    "todouble": _to_number,
    "toint": _to_integer,
    "tolong": _to_integer,
    "jsonparse": _json_parse,
    "jsonstringify": _json_stringify,
}
