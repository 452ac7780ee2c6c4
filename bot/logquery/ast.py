"""The Logs Insights query as data: expression and command dataclasses the parser builds and generators read.

Every node carries `pos`, its offset in the query text, so errors can say where a construct is.
To add a command: a dataclass here, a branch in `parser.py`, and a handler in each generator's table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """A field reference: `order_id`, `context.cache_hit`, `@timestamp`."""

    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number, boolean or null literal."""

    value: str | int | float | bool | None
    pos: int


@dataclass(frozen=True, slots=True)
class Regex:
    """A `/pattern/` literal (RE2 syntax; `(?i)` for case-insensitive)."""

    pattern: str
    pos: int


@dataclass(frozen=True, slots=True)
class Duration:
    """A time span such as `5m` (only inside `bin(...)`); `unit` is Logs Insights' suffix."""

    amount: float
    unit: str
    pos: int


@dataclass(frozen=True, slots=True)
class ListExpr:
    """A `[a, b, c]` list, the right side of `in`."""

    items: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    """A function or aggregate call; `name` is lower-cased, `text` is the call as written (default alias)."""

    name: str
    args: tuple[Expr, ...]
    pos: int
    text: str
    star: bool = False  # count(*)


@dataclass(frozen=True, slots=True)
class Unary:
    """`not x` or `-x`."""

    op: str
    operand: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Binary:
    """`a op b`: comparison, boolean, arithmetic, `like`, `=~`, `in` (negated: `not like`, `not in`)."""

    op: str
    left: Expr
    right: Expr
    pos: int


Expr = Field | Literal | Regex | Duration | ListExpr | Call | Unary | Binary


@dataclass(frozen=True, slots=True)
class Projection:
    """One item of `fields`/`stats`: an expression and the name it gets."""

    expr: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Fields:
    """`fields a, b, expr as c`: add fields to the output (several `fields` commands add up)."""

    items: tuple[Projection, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Filter:
    """`filter <condition>`."""

    condition: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Stats:
    """`stats agg(...) as name, ... by key, bin(5m)`."""

    aggregates: tuple[Projection, ...]
    by: tuple[Projection, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class SortKey:
    """One `sort` key and its direction."""

    expr: Expr
    descending: bool


@dataclass(frozen=True, slots=True)
class Sort:
    """`sort a desc, b asc`."""

    keys: tuple[SortKey, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Limit:
    """`limit n`."""

    count: int
    pos: int


@dataclass(frozen=True, slots=True)
class Display:
    """`display a, b`: the output columns (only the last one counts)."""

    fields: tuple[Field, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Dedup:
    """`dedup a, b`: keep the first row of each key in the current sort order."""

    fields: tuple[Field, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Parse:
    """`parse source "glob * pattern" as a, b` or `parse source /(?<a>re)/`; `names` are the new fields."""

    source: Field
    regex: str  # always a regex; a glob pattern is translated by the parser
    names: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Pattern:
    """`pattern <expr>`: cluster the events' text into templates (`@pattern`, `@sampleCount`, ...)."""

    expr: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Diff:
    """`diff [previousDay|previousWeek|previousMonth]` after `pattern`: compare with an earlier period."""

    period: str  # "previous" (the period just before), "day", "week" or "month"
    pos: int


@dataclass(frozen=True, slots=True)
class Anomaly:
    """`anomaly` after `pattern`: the patterns whose frequency is unusual against the previous period."""

    pos: int


@dataclass(frozen=True, slots=True)
class FilterIndex:
    """`filterIndex <condition>`: a scan hint for indexed log groups; the events it selects are not changed."""

    condition: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Source:
    """`SOURCE <log groups> [start=..] [end=..]`: which log groups a CLI/API query reads (`text` as written)."""

    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Unnest:
    """`unnest <list field> into <name>`: one event per element of a JSON array."""

    source: Expr
    name: str
    pos: int


Command = (Fields | Filter | Stats | Sort | Limit | Display | Dedup | Parse | Pattern | Diff | Anomaly | FilterIndex
           | Source | Unnest)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: its commands in pipeline order, and the text it came from."""

    commands: tuple[Command, ...]
    text: str
