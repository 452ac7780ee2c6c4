"""Date and time functions: periods are epoch-aligned, as `bin()` is in Logs Insights."""

from __future__ import annotations

from bot.logquery import ast
from bot.logquery.functions.base import Generator, Translator, Typed


def _floored(moment: str, micros: int) -> str:
    return f"make_timestamp(CAST(floor(epoch_us({moment}) / {micros}) * {micros} AS BIGINT))"


def _bin(gen: Generator, node: ast.Call) -> Typed:
    if len(node.args) != 1:
        raise gen.error(node.pos, "bin() takes one duration, such as bin(5m)")
    micros = round(gen.duration_seconds(node, 0) * 1_000_000)
    return Typed(_floored(gen.resolve("@timestamp", node.pos).sql, micros), "time")


def _datefloor(gen: Generator, node: ast.Call) -> Typed:
    if len(node.args) != 2:
        raise gen.error(node.pos, "datefloor() takes a timestamp and a duration")
    micros = round(gen.duration_seconds(node, 1) * 1_000_000)
    return Typed(_floored(gen.as_time(gen.expr(node.args[0])), micros), "time")


def _dateceil(gen: Generator, node: ast.Call) -> Typed:
    if len(node.args) != 2:
        raise gen.error(node.pos, "dateceil() takes a timestamp and a duration")
    micros = round(gen.duration_seconds(node, 1) * 1_000_000)
    moment = gen.as_time(gen.expr(node.args[0]))
    return Typed(f"make_timestamp(CAST(ceil(epoch_us({moment}) / {micros}) * {micros} AS BIGINT))", "time")


def _frommillis(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"make_timestamp(CAST({gen.as_num(arg)} * 1000 AS BIGINT))", "time")


def _tomillis(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"epoch_ms({gen.as_time(arg)})", "num")


def _now(gen: Generator, node: ast.Call) -> Typed:
    gen.args(node, 0)
    return Typed("CAST(get_current_timestamp() AS TIMESTAMP)", "time")


FUNCTIONS: dict[str, Translator] = {
    "bin": _bin,
    "datefloor": _datefloor,
    "dateceil": _dateceil,
    "frommillis": _frommillis,
    "tomillis": _tomillis,
    "now": _now,
}
