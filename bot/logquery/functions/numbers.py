"""Numeric functions: arguments are cast to DOUBLE (text that is not a number reads as null)."""

from __future__ import annotations

from bot.logquery import ast
from bot.logquery.functions.base import Generator, Translator, Typed, unary_num


def _variadic(sql_function: str) -> Translator:
    def translate(gen: Generator, node: ast.Call) -> Typed:
        args = gen.args(node, (1, 64))
        return Typed(f"{sql_function}({', '.join(gen.as_num(arg) for arg in args)})", "num")
    return translate


FUNCTIONS: dict[str, Translator] = {
    "abs": unary_num("abs"),
    "ceil": unary_num("ceil"),
    "floor": unary_num("floor"),
    "sqrt": unary_num("sqrt"),
    "log": unary_num("ln"),  # the natural logarithm, as documented
    "greatest": _variadic("greatest"),
    "least": _variadic("least"),
}
