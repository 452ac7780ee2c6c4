"""Generator: `ast.Query` → one DuckDB SQL statement over JSON-lines files.

Each command becomes a CTE stage. Log fields are read lazily: the first reference to a field adds it to the base
stage, written last. That stage reads only the top-level keys the query uses (`read_json` with `columns`), or,
when the query needs the whole line (`@message`), whole objects with one multi-path extraction per line
(`read_ndjson_objects`); both give the same values, bar the spelling of exponent-form numbers (`1e-07` and
`1e-7`). Fields stay VARCHAR (missing or mistyped values are NULL, never an error) and are cast where an
operator needs a type, through the `li_*` macros in `MACROS` (create them on the connection
first). To support another function, add an entry to `_FUNCTIONS` or `_AGGREGATES`; to support a command, add
a handler to `_COMMANDS`. Anything absent from those tables raises UnsupportedQuery naming it and where.
"""

# ruff: noqa: S608 - SQL is generated from the parsed AST; every literal goes through sql_string.
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal as TypingLiteral

from bot.errors import QueryError
from bot.logquery import ast
from bot.logquery.parser import parse
from bot.logquery.tokens import error_at, unsupported_at

DEFAULT_LIMIT = 10_000  # Logs Insights returns at most this many rows unless told fewer

Kind = TypingLiteral["any", "str", "num", "bool", "time"]

# Logs Insights semantics that SQL lacks, as macros so the generated SQL stays readable. They are inlined by
# DuckDB, so they cost nothing at run time.
MACROS = r"""
CREATE OR REPLACE MACRO li_num(x) AS
    COALESCE(TRY_CAST(x AS DOUBLE), CASE x WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END);
CREATE OR REPLACE MACRO li_bool(x) AS
    CASE lower(x) WHEN 'true' THEN true WHEN '1' THEN true WHEN 'false' THEN false WHEN '0' THEN false END;
CREATE OR REPLACE MACRO li_sort_class(x) AS
    CASE WHEN x IS NULL THEN NULL WHEN regexp_full_match(x, '\d+(\.\d+)?') THEN 1 ELSE 0 END;
CREATE OR REPLACE MACRO li_natural(x) AS array_to_string(list_transform(regexp_extract_all(x, '\d+|\D+'),
    lambda c: CASE WHEN regexp_full_match(c, '\d+') THEN lpad(c, 24, '0') ELSE c END), '');
"""

_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SPECIAL_FIELDS = {"@timestamp": ("t", "time"), "@message": ("m", "str"), "@logStream": ("stream", "str")}


@dataclass(frozen=True, slots=True)
class Typed:
    """A SQL expression and the kind of value it holds."""

    sql: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Translation:
    """The SQL for a query and the names of its output columns, in order."""

    sql: str
    columns: tuple[str, ...]


def to_duckdb(
    query: str | ast.Query,
    *,
    source: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> Translation:
    """Translate Logs Insights `query` to DuckDB SQL reading the JSON-lines files matching the glob `source`.

    Raises QueryError for invalid queries and UnsupportedQuery for constructs the local engine lacks.
    """
    parsed = parse(query) if isinstance(query, str) else query
    return _Generator(parsed, source=source, start=start, end=end, limit=limit).translate()


def sql_string(value: str) -> str:
    """A SQL string literal for `value`."""
    return "'" + value.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(name: str) -> str:
    # Dots walk into nested objects (`context.cache_hit`); each key is quoted so any character is safe.
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in name.split("."))


def _time_column(raw: str) -> str:
    # `Z` timestamps (what the pipeline writes) cast directly; other offsets go through TIMESTAMPTZ.
    return (f"CASE WHEN ends_with({raw}, 'Z') THEN TRY_CAST({raw} AS TIMESTAMP) "
            f"ELSE CAST(TRY_CAST({raw} AS TIMESTAMPTZ) AS TIMESTAMP) END")


def _top_level_keys(names: list[str]) -> dict[str, bool]:
    """The top-level JSON keys behind field names, each with whether some name walks into it (`context.x`)."""
    keys: dict[str, bool] = {}
    for name in names:
        key, dot, _ = name.partition(".")
        keys[key] = keys.get(key, False) or bool(dot)
    return keys


def _projectable(keys: dict[str, bool], *, stream: bool) -> bool:
    """Whether read_json can project these keys: its column names must be non-empty and unique ignoring case."""
    folded = {key.lower() for key in keys}
    return "" not in keys and len(folded) == len(keys) and not (stream and "filename" in folded)


def _timestamp_literal(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"TIMESTAMP '{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


@dataclass
class _Generator:
    query: ast.Query
    source: str
    start: datetime | None
    end: datetime | None
    limit: int | None
    stages: list[str] = field(default_factory=list)
    extracted: dict[str, str] = field(default_factory=dict)  # log field name -> base column
    scope: dict[str, Typed] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    group_order: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # output names from fields/stats, in order
    display: list[str] | None = None
    aggregated: bool = False
    deduped: bool = False
    columns: int = 0

    # -- driver -----------------------------------------------------------------------------------
    def translate(self) -> Translation:
        self.stages.append("")  # the base stage, written last because fields are discovered on the way
        for command in self.query.commands:
            if self.deduped and not isinstance(command, ast.Limit):
                raise error_at(self.query.text, command.pos, "only limit may follow dedup")
            handler = _COMMANDS.get(type(command))
            if handler is None:
                raise unsupported_at(self.query.text, command.pos, f"command {type(command).__name__}")
            handler(self, command)
        names = self.display if self.display is not None else self._default_output()
        outputs = [f"{self._resolve(name, self.query.commands[-1].pos).sql} AS {_quote_ident(name)}"
                   for name in names]
        self.stages[0] = f"s0 AS (\n  {self._base()}\n)"  # after the outputs: they may read more fields
        order = self.order or self._default_order()
        cap = min(self.limit or DEFAULT_LIMIT, DEFAULT_LIMIT)
        sql = (
            "WITH " + ",\n".join(self.stages) + "\n"
            + f"SELECT {', '.join(outputs)}\nFROM s{len(self.stages) - 1}\n"
            + (f"ORDER BY {', '.join(order)}\n" if order else "")
            + f"LIMIT {cap}"
        )
        return Translation(sql, tuple(names))

    def _base(self) -> str:
        names = [name for name in self.extracted if not name.startswith("@")]
        keys = _top_level_keys(["timestamp", *names])
        if "@message" in self.extracted or not _projectable(keys, stream="@logStream" in self.extracted):
            return self._raw_base(names)
        return self._projected_base(names, keys)

    def _projected_base(self, names: list[str], keys: dict[str, bool]) -> str:
        # read_json parses each line once and converts only the listed top-level keys: ~1.35x less CPU than
        # reading whole objects and extracting paths from them. VARCHAR takes any JSON value (objects come back
        # as JSON text, JSON null as NULL), so a mistyped field is text, never an error; keys holding objects we
        # walk into are read as JSON. `records = true` because auto-detection may otherwise read each whole line
        # into the column when only one key is projected (`stats count() by bin(5m)` reads just the timestamp).
        def value(name: str) -> str:
            key, _, rest = name.partition(".")
            if rest:
                return f"json_extract_string({_quote_ident(key)}, {sql_string(_json_path(rest))})"
            return f"json_extract_string({_quote_ident(key)}, '$')" if keys[key] else _quote_ident(key)

        columns = [f"{_time_column(value('timestamp'))} AS t"]
        if "@logStream" in self.extracted:
            columns.append("regexp_extract(filename, '[^/]*$') AS stream")
        columns += [f"{value(name)} AS {self.extracted[name]}" for name in names]
        types = ", ".join(f"{sql_string(key)}: '{'JSON' if nested else 'VARCHAR'}'" for key, nested in keys.items())
        # A line that is not a JSON object must not fail the query: its columns read as NULL (no timestamp).
        options = ", ignore_errors = true" + (", filename = true" if "@logStream" in self.extracted else "")
        reader = (f"read_json({sql_string(self.source)}, format = 'newline_delimited', records = true, "
                  f"columns = {{{types}}}{options})")
        return f"SELECT {', '.join(columns)}\n  FROM {reader}{self._window()}"

    def _raw_base(self, names: list[str]) -> str:
        # Needed for @message (the whole line): one multi-path extraction parses each line once; a `->>` per
        # field would parse it once per field.
        paths = ", ".join(sql_string(_json_path(name)) for name in ["timestamp", *names])
        columns = [f"{_time_column('v[1]')} AS t", "CAST(json AS VARCHAR) AS m"]
        if "@logStream" in self.extracted:
            columns.append("regexp_extract(filename, '[^/]*$') AS stream")
        columns += [f"v[{index}] AS {self.extracted[name]}" for index, name in enumerate(names, start=2)]
        # A line that is not JSON must not fail the query: it reads as NULL and has no timestamp.
        options = ", ignore_errors = true" + (", filename = true" if "@logStream" in self.extracted else "")
        reader = f"read_ndjson_objects({sql_string(self.source)}{options})"
        return (f"SELECT {', '.join(columns)}\n  FROM (SELECT *, json_extract_string(json, [{paths}]) AS v "
                f"FROM {reader}){self._window()}")

    def _window(self) -> str:
        conditions = []
        if self.start is not None:
            conditions.append(f"t >= {_timestamp_literal(self.start)}")
        if self.end is not None:
            conditions.append(f"t <= {_timestamp_literal(self.end)}")
        return f"\n  WHERE {' AND '.join(conditions)}" if conditions else ""

    def _stage(self, select: str) -> None:
        self.stages.append(f"s{len(self.stages)} AS (\n  {select}\n)")

    @property
    def _previous(self) -> str:
        return f"s{len(self.stages) - 1}"

    def _new_column(self) -> str:
        self.columns += 1
        return f"c{self.columns}"

    def _default_output(self) -> list[str]:
        if self.shown:
            return self.shown
        return ["@timestamp", "@message"]

    def _default_order(self) -> list[str]:
        if self.aggregated:
            return []
        return ["t DESC NULLS LAST"]  # newest first, as the Logs Insights console shows events

    # -- fields -----------------------------------------------------------------------------------
    def _resolve(self, name: str, pos: int) -> Typed:
        if name in self.scope:
            return self.scope[name]
        if self.aggregated:
            known = ", ".join(self.scope) or "none"
            raise error_at(self.query.text, pos, f"field {name!r} is not a stats result (known: {known})")
        if name.startswith("@"):
            if name not in _SPECIAL_FIELDS:
                raise unsupported_at(self.query.text, pos, f"field '{name}'")
            column, kind = _SPECIAL_FIELDS[name]
            self.extracted[name] = column
            return Typed(column, kind)  # type: ignore[arg-type]
        if name not in self.extracted:
            self.extracted[name] = f"f{sum(not key.startswith('@') for key in self.extracted) + 1}"
        column = self.extracted[name]
        return Typed(column, "any")

    def _show(self, name: str) -> None:
        if name not in self.shown:
            self.shown.append(name)

    # -- commands ---------------------------------------------------------------------------------
    def _fields(self, command: ast.Fields) -> None:
        computed: list[str] = []
        for item in command.items:
            value = self.expr(item.expr)
            if isinstance(item.expr, ast.Field):
                self.scope[item.name] = value
            else:
                column = self._new_column()
                computed.append(f"{value.sql} AS {column}")
                self.scope[item.name] = Typed(column, value.kind)
            self._show(item.name)
        if computed:
            self._stage(f"SELECT *, {', '.join(computed)} FROM {self._previous}")

    def _filter(self, command: ast.Filter) -> None:
        condition = self.condition(command.condition)
        self._stage(f"SELECT * FROM {self._previous} WHERE {condition}")

    def _stats(self, command: ast.Stats) -> None:
        selects: list[str] = []
        new_scope: dict[str, Typed] = {}
        keys: list[Typed] = []
        for item in command.by:
            value = self.expr(item.expr)
            column = self._new_column()
            selects.append(f"{value.sql} AS {column}")
            new_scope[item.name] = Typed(column, value.kind)
            keys.append(Typed(column, value.kind))
        for item in command.aggregates:
            value = self.expr(item.expr, aggregate=True)
            column = self._new_column()
            selects.append(f"{value.sql} AS {column}")
            new_scope[item.name] = Typed(column, value.kind)
        group = " GROUP BY ALL" if keys else ""
        self._stage(f"SELECT {', '.join(selects)} FROM {self._previous}{group}")
        self.scope = new_scope
        self.shown = list(new_scope)
        self.aggregated = True
        self.order = [term for key in keys for term in _sort_terms(key, descending=False)]
        self.group_order = list(self.order)

    def _sort(self, command: ast.Sort) -> None:
        self.order = [term for key in command.keys
                      for term in _sort_terms(self.expr(key.expr), descending=key.descending)]
        # Ties keep a fixed order (newest first, or by group keys after stats) so dedup and limit repeat.
        if not self.aggregated and not any(term.startswith("t ") for term in self.order):
            self.order += self._default_order()
        elif self.aggregated:
            self.order += [term for term in self.group_order if term not in self.order]

    def _limit(self, command: ast.Limit) -> None:
        order = self.order or self._default_order()
        order_sql = f" ORDER BY {', '.join(order)}" if order else ""
        self._stage(f"SELECT * FROM {self._previous}{order_sql} LIMIT {command.count}")

    def _display(self, command: ast.Display) -> None:
        for item in command.fields:
            self._resolve(item.name, item.pos)
        self.display = [item.name for item in command.fields]  # only the last display counts

    def _dedup(self, command: ast.Dedup) -> None:
        keys = [self._resolve(item.name, item.pos).sql for item in command.fields]
        order = self.order or self._default_order()
        order_sql = f" ORDER BY {', '.join(order)}" if order else ""
        any_null = " OR ".join(f"{key} IS NULL" for key in keys)
        # Rows with a null key are never duplicates (Logs Insights keeps them all).
        self._stage(
            f"SELECT * EXCLUDE (dedup_rank) FROM (SELECT *, CASE WHEN {any_null} THEN 1 ELSE row_number() "
            f"OVER (PARTITION BY {', '.join(keys)}{order_sql}) END AS dedup_rank FROM {self._previous}) "
            "WHERE dedup_rank = 1"
        )
        self.deduped = True

    def _parse(self, command: ast.Parse) -> None:
        source = self._as_str(self._resolve(command.source.name, command.source.pos))
        pattern = sql_string(command.regex)
        groups = _group_numbers(command.regex, command.names)
        computed = []
        for name, group in zip(command.names, groups, strict=True):
            column = self._new_column()
            # Events that do not match keep going, without the new fields.
            computed.append(
                f"CASE WHEN regexp_matches({source}, {pattern}) "
                f"THEN regexp_extract({source}, {pattern}, {group}) END AS {column}"
            )
            self.scope[name] = Typed(column, "any")
        self._stage(f"SELECT *, {', '.join(computed)} FROM {self._previous}")

    # -- expressions ------------------------------------------------------------------------------
    def expr(self, node: ast.Expr, *, aggregate: bool = False) -> Typed:
        """Translate an expression; `aggregate` allows aggregate calls (inside stats)."""
        if isinstance(node, ast.Field):
            return self._resolve(node.name, node.pos)
        if isinstance(node, ast.Literal):
            return _literal(node)
        if isinstance(node, ast.Call):
            return self._call(node, aggregate=aggregate)
        if isinstance(node, ast.Unary):
            if node.op == "not":
                return Typed(f"(NOT {self.condition(node.operand, aggregate=aggregate)})", "bool")
            return Typed(f"(-{self._as_num(self.expr(node.operand, aggregate=aggregate))})", "num")
        if isinstance(node, ast.Binary):
            return self._binary(node, aggregate=aggregate)
        what = {ast.Regex: "a regex", ast.Duration: "a duration", ast.ListExpr: "a list"}[type(node)]
        raise error_at(self.query.text, node.pos, f"{what} is not allowed here")

    def condition(self, node: ast.Expr, *, aggregate: bool = False) -> str:
        """Translate an expression used as a filter condition into a SQL boolean."""
        value = self.expr(node, aggregate=aggregate)
        if value.kind == "bool":
            return value.sql
        if value.kind == "num":
            return f"({value.sql} <> 0)"
        return f"li_bool({self._as_str(value)})"

    def _binary(self, node: ast.Binary, *, aggregate: bool) -> Typed:
        op = node.op
        if op in ("and", "or"):
            first = self.condition(node.left, aggregate=aggregate)
            second = self.condition(node.right, aggregate=aggregate)
            return Typed(f"({first} {op.upper()} {second})", "bool")
        if op in ("like", "not like", "=~"):
            return self._match(node, aggregate=aggregate)
        if op in ("in", "not in"):
            return self._in(node, aggregate=aggregate)
        left = self.expr(node.left, aggregate=aggregate)
        right = self.expr(node.right, aggregate=aggregate)
        if op in ("+", "-", "*", "/", "%"):
            return Typed(f"({self._as_num(left)} {op} {self._as_num(right)})", "num")
        sql_op = "<>" if op == "!=" else op
        if _is_null(node.left) or _is_null(node.right):
            other = right if _is_null(node.left) else left
            return Typed(f"({other.sql} IS {'NOT ' if op == '!=' else ''}NULL)", "bool")
        a, b = self._comparable(left, right)
        return Typed(f"({a} {sql_op} {b})", "bool")

    def _comparable(self, left: Typed, right: Typed) -> tuple[str, str]:
        kinds = {left.kind, right.kind}
        if "bool" in kinds:
            return self._as_bool(left), self._as_bool(right)
        if "time" in kinds:
            return self._as_time(left), self._as_time(right)
        if "num" in kinds:
            return self._as_num(left), self._as_num(right)
        return self._as_str(left), self._as_str(right)

    def _match(self, node: ast.Binary, *, aggregate: bool) -> Typed:
        subject = self._as_str(self.expr(node.left, aggregate=aggregate))
        pattern = node.right
        if isinstance(pattern, ast.Regex):
            sql = f"regexp_matches({subject}, {sql_string(pattern.pattern)})"
        elif isinstance(pattern, ast.Literal) and isinstance(pattern.value, str) and node.op != "=~":
            sql = f"contains({subject}, {sql_string(pattern.value)})"  # case-sensitive substring
        else:
            raise error_at(self.query.text, pattern.pos, f"'{node.op}' needs a \"string\" or /regex/")
        return Typed(f"(NOT {sql})" if node.op == "not like" else sql, "bool")

    def _in(self, node: ast.Binary, *, aggregate: bool) -> Typed:
        if not isinstance(node.right, ast.ListExpr):
            raise error_at(self.query.text, node.right.pos, f"'{node.op}' needs a [list]")
        subject = self.expr(node.left, aggregate=aggregate)
        items = [self.expr(item, aggregate=aggregate) for item in node.right.items]
        if not items:
            return Typed("false" if node.op == "in" else "true", "bool")
        numeric = all(item.kind == "num" for item in items)
        left = self._as_num(subject) if numeric else self._as_str(subject)
        rendered = [self._as_num(item) if numeric else self._as_str(item) for item in items]
        negation = "NOT " if node.op == "not in" else ""
        return Typed(f"({left} {negation}IN ({', '.join(rendered)}))", "bool")

    def _call(self, node: ast.Call, *, aggregate: bool) -> Typed:
        if node.name in _AGGREGATES:
            if not aggregate:
                raise error_at(self.query.text, node.pos, f"aggregate '{node.name}' is only allowed in stats")
            # Aggregates take row-level arguments: no nested aggregates.
            return _AGGREGATES[node.name](self, node)
        handler = _FUNCTIONS.get(node.name)
        if handler is None:
            raise unsupported_at(self.query.text, node.pos, f"function '{node.name}'")
        return handler(self, node)

    def args(self, node: ast.Call, count: int | tuple[int, int]) -> list[Typed]:
        """The translated arguments of a call, checking their number."""
        low, high = (count, count) if isinstance(count, int) else count
        if not low <= len(node.args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise error_at(self.query.text, node.pos, f"{node.name}() takes {wanted} argument(s)")
        return [self.expr(arg) for arg in node.args]

    def duration_seconds(self, node: ast.Call, index: int) -> float:
        """Seconds in the duration literal argument `index` of a call such as `bin(5m)`."""
        if len(node.args) <= index or not isinstance(node.args[index], ast.Duration):
            raise error_at(self.query.text, node.pos, f"{node.name}() needs a duration such as 5m")
        duration = node.args[index]
        assert isinstance(duration, ast.Duration)
        if duration.unit not in _SECONDS:
            raise unsupported_at(self.query.text, duration.pos, f"duration unit '{duration.unit}'")
        return duration.amount * _SECONDS[duration.unit]

    # -- conversions between kinds ----------------------------------------------------------------
    def _as_num(self, value: Typed) -> str:
        if value.kind == "num":
            return value.sql
        if value.kind == "time":
            return f"epoch_ms({value.sql})"
        if value.kind == "bool":
            return f"CAST({value.sql} AS DOUBLE)"
        return f"li_num({value.sql})"

    def _as_str(self, value: Typed) -> str:
        if value.kind in ("any", "str"):
            return value.sql
        if value.kind == "time":
            return f"strftime({value.sql}, '%Y-%m-%d %H:%M:%S.%g')"
        return f"CAST({value.sql} AS VARCHAR)"

    def _as_bool(self, value: Typed) -> str:
        if value.kind == "bool":
            return value.sql
        if value.kind == "num":
            return f"({value.sql} <> 0)"
        return f"li_bool({self._as_str(value)})"

    def _as_time(self, value: Typed) -> str:
        if value.kind == "time":
            return value.sql
        if value.kind == "num":
            return f"make_timestamp(CAST({value.sql} * 1000 AS BIGINT))"  # epoch milliseconds
        return f"CAST(TRY_CAST({value.sql} AS TIMESTAMPTZ) AS TIMESTAMP)"


def _literal(node: ast.Literal) -> Typed:
    value = node.value
    if value is None:
        return Typed("NULL", "any")
    if isinstance(value, bool):
        return Typed("true" if value else "false", "bool")
    if isinstance(value, int | float):
        return Typed(repr(float(value)) if isinstance(value, float) else str(value), "num")
    return Typed(sql_string(value), "str")


def _is_null(node: ast.Expr) -> bool:
    return isinstance(node, ast.Literal) and node.value is None


def _sort_terms(value: Typed, *, descending: bool) -> list[str]:
    direction = "DESC" if descending else "ASC"
    if value.kind in ("num", "time", "bool"):
        return [f"{value.sql} {direction} NULLS LAST"]
    # Logs Insights' natural sort: non-numbers before numbers, digit runs compared as numbers.
    return [f"li_sort_class({value.sql}) {direction} NULLS LAST",
            f"TRY_CAST({value.sql} AS DOUBLE) {direction} NULLS LAST",
            f"li_natural({value.sql}) {direction} NULLS LAST"]


def _group_numbers(regex: str, names: tuple[str, ...]) -> list[int]:
    """The capture-group number of each parse field (named groups may follow unnamed ones)."""
    import re

    try:
        index = re.compile(regex).groupindex
    except re.error:
        return list(range(1, len(names) + 1))
    return [index.get(name, position) for position, name in enumerate(names, start=1)]


# -- function tables: Logs Insights name -> translator --------------------------------------
Translator = Callable[[_Generator, ast.Call], Typed]


def _unary_str(sql_function: str, kind: Kind = "str") -> Translator:
    def translate(gen: _Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        return Typed(f"{sql_function}({gen._as_str(arg)})", kind)
    return translate


def _unary_num(sql_function: str) -> Translator:
    def translate(gen: _Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        return Typed(f"{sql_function}({gen._as_num(arg)})", "num")
    return translate


def _variadic_num(sql_function: str) -> Translator:
    def translate(gen: _Generator, node: ast.Call) -> Typed:
        args = gen.args(node, (1, 64))
        return Typed(f"{sql_function}({', '.join(gen._as_num(arg) for arg in args)})", "num")
    return translate


def _ispresent(gen: _Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"({arg.sql} IS NOT NULL)", "bool")


def _isempty(gen: _Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    text = gen._as_str(arg)
    return Typed(f"({text} IS NULL OR {text} = '')", "bool")


def _isblank(gen: _Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    text = gen._as_str(arg)
    return Typed(f"({text} IS NULL OR trim({text}) = '')", "bool")


def _concat(gen: _Generator, node: ast.Call) -> Typed:
    args = gen.args(node, (1, 64))
    return Typed(f"concat({', '.join(gen._as_str(arg) for arg in args)})", "str")


def _coalesce(gen: _Generator, node: ast.Call) -> Typed:
    args = gen.args(node, (1, 64))
    return Typed(f"coalesce({', '.join(gen._as_str(arg) for arg in args)})", "any")


def _substr(gen: _Generator, node: ast.Call) -> Typed:
    args = gen.args(node, (2, 3))
    # Logs Insights counts from 0, SQL from 1.
    start = f"CAST({gen._as_num(args[1])} AS BIGINT) + 1"
    length = f", CAST({gen._as_num(args[2])} AS BIGINT)" if len(args) == 3 else ""
    return Typed(f"substr({gen._as_str(args[0])}, {start}{length})", "str")


def _replace(gen: _Generator, node: ast.Call) -> Typed:
    text, old, new = (gen._as_str(arg) for arg in gen.args(node, 3))
    return Typed(f"replace({text}, {old}, {new})", "str")


def _strcontains(gen: _Generator, node: ast.Call) -> Typed:
    text, part = (gen._as_str(arg) for arg in gen.args(node, 2))
    return Typed(f"contains({text}, {part})", "bool")


def _bin(gen: _Generator, node: ast.Call) -> Typed:
    if len(node.args) != 1:
        raise error_at(gen.query.text, node.pos, "bin() takes one duration, such as bin(5m)")
    micros = round(gen.duration_seconds(node, 0) * 1_000_000)
    timestamp = gen._resolve("@timestamp", node.pos).sql
    # Buckets start on multiples of the period since the Unix epoch, as in Logs Insights.
    return Typed(f"make_timestamp(CAST(floor(epoch_us({timestamp}) / {micros}) * {micros} AS BIGINT))",
                 "time")


def _datefloor(gen: _Generator, node: ast.Call) -> Typed:
    if len(node.args) != 2:
        raise error_at(gen.query.text, node.pos, "datefloor() takes a timestamp and a duration")
    moment = gen._as_time(gen.expr(node.args[0]))
    micros = round(gen.duration_seconds(node, 1) * 1_000_000)
    return Typed(f"make_timestamp(CAST(floor(epoch_us({moment}) / {micros}) * {micros} AS BIGINT))", "time")


def _frommillis(gen: _Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"make_timestamp(CAST({gen._as_num(arg)} * 1000 AS BIGINT))", "time")


def _tomillis(gen: _Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"epoch_ms({gen._as_time(arg)})", "num")


_FUNCTIONS: dict[str, Translator] = {
    "ispresent": _ispresent,
    "isempty": _isempty,
    "isblank": _isblank,
    "strlen": _unary_str("length", "num"),
    "toupper": _unary_str("upper"),
    "tolower": _unary_str("lower"),
    "trim": _unary_str("trim"),
    "ltrim": _unary_str("ltrim"),
    "rtrim": _unary_str("rtrim"),
    "concat": _concat,
    "coalesce": _coalesce,
    "substr": _substr,
    "replace": _replace,
    "strcontains": _strcontains,
    "abs": _unary_num("abs"),
    "ceil": _unary_num("ceil"),
    "floor": _unary_num("floor"),
    "sqrt": _unary_num("sqrt"),
    "log": _unary_num("ln"),
    "greatest": _variadic_num("greatest"),
    "least": _variadic_num("least"),
    "bin": _bin,
    "datefloor": _datefloor,
    "frommillis": _frommillis,
    "tomillis": _tomillis,
}


def _count(gen: _Generator, node: ast.Call) -> Typed:
    if node.star or not node.args:
        return Typed("count(*)", "num")
    (arg,) = gen.args(node, 1)
    return Typed(f"count({arg.sql})", "num")


def _count_distinct(gen: _Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    return Typed(f"count(DISTINCT {arg.sql})", "num")  # exact here; the service approximates


def _numeric_aggregate(sql_function: str) -> Translator:
    def translate(gen: _Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        if sql_function in ("min", "max") and arg.kind == "time":
            return Typed(f"{sql_function}({arg.sql})", "time")
        return Typed(f"{sql_function}({gen._as_num(arg)})", "num")
    return translate


def _pct(gen: _Generator, node: ast.Call) -> Typed:
    if len(node.args) != 2 or not isinstance(node.args[1], ast.Literal) \
            or not isinstance(node.args[1].value, int | float) or isinstance(node.args[1].value, bool):
        raise error_at(gen.query.text, node.pos, "pct() takes a field and a percentile, such as pct(f, 95)")
    percentile = float(node.args[1].value)
    if not 0 <= percentile <= 100:
        raise error_at(gen.query.text, node.args[1].pos, "the percentile must be between 0 and 100")
    value = gen.expr(node.args[0])
    # quantile_disc picks the ceil(p*n)-th smallest value: the nearest-rank percentile.
    if value.kind == "time":
        return Typed(f"quantile_disc({value.sql}, {percentile / 100!r})", "time")
    return Typed(f"quantile_disc({gen._as_num(value)}, {percentile / 100!r})", "num")


def _first_by_time(sql_function: str) -> Translator:
    def translate(gen: _Generator, node: ast.Call) -> Typed:
        (arg,) = gen.args(node, 1)
        timestamp = gen._resolve("@timestamp", node.pos).sql
        return Typed(f"{sql_function}({arg.sql}, {timestamp})", arg.kind)
    return translate


_AGGREGATES: dict[str, Translator] = {
    "count": _count,
    "count_distinct": _count_distinct,
    "sum": _numeric_aggregate("sum"),
    "avg": _numeric_aggregate("avg"),
    "min": _numeric_aggregate("min"),
    "max": _numeric_aggregate("max"),
    "pct": _pct,
    "earliest": _first_by_time("arg_min"),
    "latest": _first_by_time("arg_max"),
}

_COMMANDS: dict[type, Callable[[_Generator, ast.Command], None]] = {
    ast.Fields: _Generator._fields,  # type: ignore[dict-item]
    ast.Filter: _Generator._filter,  # type: ignore[dict-item]
    ast.Stats: _Generator._stats,  # type: ignore[dict-item]
    ast.Sort: _Generator._sort,  # type: ignore[dict-item]
    ast.Limit: _Generator._limit,  # type: ignore[dict-item]
    ast.Display: _Generator._display,  # type: ignore[dict-item]
    ast.Dedup: _Generator._dedup,  # type: ignore[dict-item]
    ast.Parse: _Generator._parse,  # type: ignore[dict-item]
}

__all__ = ["DEFAULT_LIMIT", "MACROS", "QueryError", "Translation", "to_duckdb"]
