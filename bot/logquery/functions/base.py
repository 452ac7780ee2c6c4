"""What a function translator works with: typed SQL values, the generator's interface, and shared factories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal as TypingLiteral
from typing import Protocol

from bot.errors import QueryError
from bot.logquery import ast

Kind = TypingLiteral["any", "str", "num", "bool", "time"]


@dataclass(frozen=True, slots=True)
class Typed:
    """A SQL expression and the kind of value it holds."""

    sql: str
    kind: Kind


class Generator(Protocol):
    """The parts of the DuckDB generator that function translators call."""

    @property
    def text(self) -> str:
        """The query text (for error positions)."""
        ...

    def expr(self, node: ast.Expr, *, aggregate: bool = False) -> Typed:
        """Translate an expression."""
        ...

    def args(self, node: ast.Call, count: int | tuple[int, int]) -> list[Typed]:
        """The translated arguments of a call, checking their number."""
        ...

    def resolve(self, name: str, pos: int) -> Typed:
        """A field by name."""
        ...

    def duration_seconds(self, node: ast.Call, index: int) -> float:
        """Seconds in a duration literal argument."""
        ...

    def as_num(self, value: Typed) -> str:
        """SQL for the value as a DOUBLE."""
        ...

    def as_str(self, value: Typed) -> str:
        """SQL for the value as text."""
        ...

    def as_bool(self, value: Typed) -> str:
        """SQL for the value as a boolean."""
        ...

    def as_time(self, value: Typed) -> str:
        """SQL for the value as a TIMESTAMP."""
        ...

    def error(self, pos: int, problem: str) -> QueryError:
        """A QueryError located in the query."""
        ...


Translator = Callable[[Generator, ast.Call], Typed]


def sql_string(value: str) -> str:
    """A SQL string literal for `value`."""
    return "'" + value.replace("'", "''") + "'"


def unary_str(sql_function: str, kind: Kind = "str") -> Translator:
    """`f(text)` → `sql_function(text)`."""
    def translate(gen: Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        return Typed(f"{sql_function}({gen.as_str(arg)})", kind)
    return translate


def unary_num(sql_function: str) -> Translator:
    """`f(number)` → `sql_function(number)`."""
    def translate(gen: Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        return Typed(f"{sql_function}({gen.as_num(arg)})", "num")
    return translate


def macro_call(macro: str, kinds: tuple[str, ...], result: Kind) -> Translator:
    """`f(a, b, ...)` → `macro(a, b, ...)` with each argument converted to 'str', 'num' or 'time'."""
    def translate(gen: Generator, node: ast.Call) -> Typed:
        args = gen.args(node, len(kinds))
        convert = {"str": gen.as_str, "num": gen.as_num, "time": gen.as_time}
        rendered = ", ".join(convert[kind](arg) for kind, arg in zip(kinds, args, strict=True))
        return Typed(f"{macro}({rendered})", result)
    return translate


def number_literal(gen: Generator, node: ast.Call, index: int, what: str) -> float:
    """The numeric literal argument `index` of a call (percentiles, bucket counts)."""
    arg = node.args[index] if len(node.args) > index else None
    if not isinstance(arg, ast.Literal) or isinstance(arg.value, bool) or not isinstance(arg.value, int | float):
        raise gen.error(node.pos, f"{node.name}() needs {what} as a number")
    return float(arg.value)
