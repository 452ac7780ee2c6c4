"""Generator: `ast.Query` → one DuckDB SQL statement over JSON-lines files.

Each command becomes a CTE stage. Log fields are read lazily: the first reference to a field adds it to the base
stage (`reading.base_select`), written last. Fields stay VARCHAR and are cast where an operator needs a type,
through the `li_*` macros in `MACROS` (create them on the connection first). Functions live in
`bot.logquery.functions`, one module per family; to support a command, add a handler to `_COMMANDS`. Anything
absent from those tables raises UnsupportedQuery naming it and where.

`pattern` splits a query in two (see `PatternPlan`): the commands before it become a scan that masks and counts
the input lines; the miner (`bot.logquery.patterns`) runs in Python on that; the commands after it run on the
mined templates, a table named `li_patterns` the engine fills.
"""

# ruff: noqa: S608 - SQL is generated from the parsed AST; every literal goes through sql_string.
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.errors import QueryError
from bot.logquery import ast
from bot.logquery.functions import AGGREGATES, FUNCTIONS, Typed, sql_string
from bot.logquery.macros import MACROS
from bot.logquery.parser import parse
from bot.logquery.pattern_stage import (
    ANOMALY_FIELDS,
    DIFF_FIELDS,
    PATTERN_FIELDS,
    PATTERN_TABLE,
    PatternPlan,
    comparison_period,
)
from bot.logquery.reading import base_select, json_path, quote_ident, timestamp_literal, window_sql
from bot.logquery.semantics import group_numbers, is_null, literal, sort_terms
from bot.logquery.tokens import error_at, unsupported_at

DEFAULT_LIMIT = 10_000  # Logs Insights returns at most this many rows unless told fewer

_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SPECIAL_FIELDS = {"@timestamp": ("t", "time"), "@message": ("m", "str"), "@logStream": ("stream", "str"),
                   "@log": ("loggroup", "str")}
_OFFLINE_FIELDS = {"@ingestionTime": "local files have no ingestion time",
                   "@ptr": "local events have no CloudWatch pointer"}


@dataclass(frozen=True, slots=True)
class Translation:
    """The SQL for a query and the names of its output columns, in order (and the pattern step, if any)."""

    sql: str
    columns: tuple[str, ...]
    pattern: PatternPlan | None = None


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
    previous: tuple[datetime, datetime] | None = None  # the comparison period of diff/anomaly
    pattern_stage: int | None = None  # index of the first stage reading the mined templates
    pattern_scan: str | None = None  # the scan's final SELECT, over the stage before pattern
    compare: bool = False
    anomaly: bool = False
    json_columns: set[str] = field(default_factory=set)

    @property
    def text(self) -> str:
        """The query text."""
        return self.query.text

    def error(self, pos: int, problem: str) -> QueryError:
        """A QueryError quoting the query at `pos`."""
        return error_at(self.query.text, pos, problem)

    # -- driver -----------------------------------------------------------------------------------
    def translate(self) -> Translation:
        self.stages.append("")  # the base stage, written last because fields are discovered on the way
        self._plan_comparison()
        for command in self.query.commands:
            if self.deduped and not isinstance(command, ast.Limit):
                raise error_at(self.query.text, command.pos, "only limit may follow dedup")
            handler = _COMMANDS.get(type(command))
            if handler is None:
                raise unsupported_at(self.query.text, command.pos, f"command {type(command).__name__}")
            handler(self, command)
        names = self.display if self.display is not None else self._default_output()
        outputs = [f"{self.resolve(name, self.query.commands[-1].pos).sql} AS {quote_ident(name)}"
                   for name in names]
        self.stages[0] = f"s0 AS (\n  {self._base()}\n)"  # after the outputs: they may read more fields
        order = self._unshadowed(self.order or self._default_order(), names)
        cap = min(self.limit or DEFAULT_LIMIT, DEFAULT_LIMIT)
        first = self.pattern_stage or 0
        sql = (
            "WITH " + ",\n".join(self.stages[first:]) + "\n"
            + f"SELECT {', '.join(outputs)}\nFROM s{len(self.stages) - 1}\n"
            + (f"ORDER BY {', '.join(order)}\n" if order else "")
            + f"LIMIT {cap}"
        )
        plan = None
        if self.pattern_stage is not None and self.pattern_scan is not None:
            scan = "WITH " + ",\n".join(self.stages[:self.pattern_stage]) + "\n" + self.pattern_scan
            plan = PatternPlan(scan, compare=self.compare, anomaly=self.anomaly)
        return Translation(sql, tuple(names), plan)

    def _unshadowed(self, order: list[str], names: list[str]) -> list[str]:
        """ORDER BY terms that still mean the stage's columns when an output is named like one of them.

        SQL resolves ORDER BY names to output aliases first: `fields trim(user) as t` would otherwise sort by the
        new `t` rather than by @timestamp. Then the keys are computed in one more stage under private names.
        """
        used = {word for term in order for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", term)}
        if not used & set(names):
            return order
        keys, terms = [], []
        for index, term in enumerate(order, start=1):
            found = re.fullmatch(r"(.*?) (ASC|DESC)( NULLS LAST)?", term)
            expression, direction = (found.group(1), term[len(found.group(1)):]) if found else (term, "")
            keys.append(f"{expression} AS li_key{index}")
            terms.append(f"li_key{index}{direction}")
        self._stage(f"SELECT *, {', '.join(keys)} FROM {self._previous}")
        return terms

    def _plan_comparison(self) -> None:
        """diff/anomaly also read the comparison period: widen the scan before any command is translated."""
        seen_pattern = False
        for command in self.query.commands:
            if isinstance(command, ast.Pattern):
                seen_pattern = True
            elif isinstance(command, ast.Diff | ast.Anomaly):
                name = "diff" if isinstance(command, ast.Diff) else "anomaly"
                if not seen_pattern:
                    raise error_at(self.query.text, command.pos, f"{name} has to be used after pattern")
                self.compare = True
                if self.start is not None and self.end is not None and self.previous is None:
                    period = command.period if isinstance(command, ast.Diff) else "previous"
                    self.previous = comparison_period(period, self.start, self.end)

    def _base(self) -> str:
        window = window_sql(self.start, self.end, self.previous)
        return base_select(self.source, self.extracted, window)

    def _current_period(self) -> str:
        return f"t >= {timestamp_literal(self.start)}" if self.previous is not None and self.start else "true"

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
    def resolve(self, name: str, pos: int) -> Typed:
        if name in self.scope:
            return self.scope[name]
        head, dot, rest = name.partition(".")
        if dot and head in self.json_columns and head in self.scope:  # `j.key` after `jsonParse(...) as j`
            return Typed(f"json_extract_string({self.scope[head].sql}, {sql_string(json_path(rest))})", "any")
        if self.aggregated:
            known = ", ".join(self.scope) or "none"
            raise error_at(self.query.text, pos, f"field {name!r} is not a stats result (known: {known})")
        if name.startswith("@"):
            if name in _OFFLINE_FIELDS:
                raise unsupported_at(self.query.text, pos, f"field '{name}' ({_OFFLINE_FIELDS[name]})")
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
            if isinstance(item.expr, ast.Call) and item.expr.name == "jsonparse":
                self.json_columns.add(item.name)
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
        self.order = [term for key in keys for term in sort_terms(key, descending=False)]
        self.group_order = list(self.order)

    def _sort(self, command: ast.Sort) -> None:
        self.order = [term for key in command.keys
                      for term in sort_terms(self.expr(key.expr), descending=key.descending)]
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
            self.resolve(item.name, item.pos)
        self.display = [item.name for item in command.fields]  # only the last display counts

    def _dedup(self, command: ast.Dedup) -> None:
        keys = [self.resolve(item.name, item.pos).sql for item in command.fields]
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

    def _pattern(self, command: ast.Pattern) -> None:
        if self.pattern_stage is not None:
            raise error_at(self.query.text, command.pos, "a query can have only one pattern command")
        if self.aggregated:
            raise error_at(self.query.text, command.pos, "pattern clusters events; it cannot follow stats")
        prior = self.query.commands[:self.query.commands.index(command)]
        if self.compare and any(isinstance(c, ast.Stats | ast.Limit | ast.Dedup) for c in prior):
            raise error_at(self.query.text, command.pos,
                           "diff compares the events of two periods; stats, limit or dedup before pattern mix them")
        value = self.as_str(self.expr(command.expr))
        level = self.resolve("level", command.pos).sql  # for @severityLabel; NULL where events have none
        current = self._current_period()
        # Mask and count in the scan: the miner then sees each distinct masked line once.
        self.pattern_scan = (
            f"SELECT li_mask(v) AS k, count(*) FILTER (WHERE cur) AS n, count(*) FILTER (WHERE NOT cur) AS n_prev, "
            f"coalesce(min(v) FILTER (WHERE cur), min(v)) AS sample, min(li_level_rank(lvl)) AS level\n"
            f"FROM (SELECT {value} AS v, {level} AS lvl, {current} AS cur FROM {self._previous})\n"
            f"WHERE v IS NOT NULL AND v <> '' GROUP BY k"
        )
        self.pattern_stage = len(self.stages)
        self._stage(f"SELECT * FROM {PATTERN_TABLE}")
        self.scope = dict(PATTERN_FIELDS)
        self.shown = ["@pattern", "@ratio", "@sampleCount", "@severityLabel"]
        self.aggregated = True
        self.order = ["sample_count DESC", "pattern ASC"]  # most frequent first, as CloudWatch sorts patterns
        self.group_order = ["pattern ASC"]

    def _diff(self, command: ast.Diff) -> None:
        self.scope.update(DIFF_FIELDS)
        self.shown += [name for name in DIFF_FIELDS if name not in self.shown]

    def _anomaly(self, command: ast.Anomaly) -> None:
        self.anomaly = True
        self.scope.update(ANOMALY_FIELDS)
        self.shown += [name for name in ANOMALY_FIELDS if name not in self.shown]
        self._stage(f"SELECT * FROM {self._previous} WHERE anomaly_description IS NOT NULL")

    def _filter_index(self, command: ast.FilterIndex) -> None:
        # A scan hint in the service (read only log groups indexed on the field); checked, then nothing to do.
        self.condition(command.condition)

    def _source(self, command: ast.Source) -> None:
        if command is not self.query.commands[0]:
            raise error_at(self.query.text, command.pos, "SOURCE must be the first command")
        # Offline the files matching LOCAL_LOGS are the only log group: the selection has nothing to choose.

    def _unnest(self, command: ast.Unnest) -> None:
        if self.aggregated:
            raise error_at(self.query.text, command.pos, "unnest needs events, not stats results")
        listed = self.as_str(self.expr(command.source))
        column = self._new_column()
        # One event per element of a JSON array; an event whose field is not an array gives no event.
        self._stage(f"SELECT *, json_extract_string(unnest(json_extract(TRY_CAST({listed} AS JSON), '$[*]')), '$') "
                    f"AS {column} FROM {self._previous}")
        self.scope[command.name] = Typed(column, "any")
        self._show(command.name)

    def _parse(self, command: ast.Parse) -> None:
        source = self.as_str(self.resolve(command.source.name, command.source.pos))
        pattern = sql_string(command.regex)
        groups = group_numbers(command.regex, command.names)
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
            return self.resolve(node.name, node.pos)
        if isinstance(node, ast.Literal):
            return literal(node)
        if isinstance(node, ast.Call):
            return self._call(node, aggregate=aggregate)
        if isinstance(node, ast.Unary):
            if node.op == "not":
                return Typed(f"(NOT {self.condition(node.operand, aggregate=aggregate)})", "bool")
            return Typed(f"(-{self.as_num(self.expr(node.operand, aggregate=aggregate))})", "num")
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
        return f"li_bool({self.as_str(value)})"

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
        if op == "^":
            return Typed(f"power({self.as_num(left)}, {self.as_num(right)})", "num")
        if op in ("+", "-", "*", "/", "%"):
            return Typed(f"({self.as_num(left)} {op} {self.as_num(right)})", "num")
        sql_op = "<>" if op == "!=" else op
        if is_null(node.left) or is_null(node.right):
            other = right if is_null(node.left) else left
            return Typed(f"({other.sql} IS {'NOT ' if op == '!=' else ''}NULL)", "bool")
        a, b = self._comparable(left, right)
        return Typed(f"({a} {sql_op} {b})", "bool")

    def _comparable(self, left: Typed, right: Typed) -> tuple[str, str]:
        kinds = {left.kind, right.kind}
        if "bool" in kinds:
            return self.as_bool(left), self.as_bool(right)
        if "time" in kinds:
            return self.as_time(left), self.as_time(right)
        if "num" in kinds:
            return self.as_num(left), self.as_num(right)
        return self.as_str(left), self.as_str(right)

    def _match(self, node: ast.Binary, *, aggregate: bool) -> Typed:
        subject = self.as_str(self.expr(node.left, aggregate=aggregate))
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
        left = self.as_num(subject) if numeric else self.as_str(subject)
        rendered = [self.as_num(item) if numeric else self.as_str(item) for item in items]
        negation = "NOT " if node.op == "not in" else ""
        return Typed(f"({left} {negation}IN ({', '.join(rendered)}))", "bool")

    def _call(self, node: ast.Call, *, aggregate: bool) -> Typed:
        if node.name in AGGREGATES:
            if not aggregate:
                raise error_at(self.query.text, node.pos, f"aggregate '{node.name}' is only allowed in stats")
            # Aggregates take row-level arguments: no nested aggregates.
            return AGGREGATES[node.name](self, node)
        handler = FUNCTIONS.get(node.name)
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
    def as_num(self, value: Typed) -> str:
        if value.kind == "num":
            return value.sql
        if value.kind == "time":
            return f"epoch_ms({value.sql})"
        if value.kind == "bool":
            return f"CAST({value.sql} AS DOUBLE)"
        return f"li_num({value.sql})"

    def as_str(self, value: Typed) -> str:
        if value.kind in ("any", "str"):
            return value.sql
        if value.kind == "time":
            return f"strftime({value.sql}, '%Y-%m-%d %H:%M:%S.%g')"
        return f"CAST({value.sql} AS VARCHAR)"

    def as_bool(self, value: Typed) -> str:
        if value.kind == "bool":
            return value.sql
        if value.kind == "num":
            return f"({value.sql} <> 0)"
        return f"li_bool({self.as_str(value)})"

    def as_time(self, value: Typed) -> str:
        if value.kind == "time":
            return value.sql
        if value.kind == "num":
            return f"make_timestamp(CAST({value.sql} * 1000 AS BIGINT))"  # epoch milliseconds
        return f"CAST(TRY_CAST({value.sql} AS TIMESTAMPTZ) AS TIMESTAMP)"


_COMMANDS: dict[type, Callable[[_Generator, ast.Command], None]] = {
    ast.Fields: _Generator._fields,  # type: ignore[dict-item]
    ast.Filter: _Generator._filter,  # type: ignore[dict-item]
    ast.Stats: _Generator._stats,  # type: ignore[dict-item]
    ast.Sort: _Generator._sort,  # type: ignore[dict-item]
    ast.Limit: _Generator._limit,  # type: ignore[dict-item]
    ast.Display: _Generator._display,  # type: ignore[dict-item]
    ast.Dedup: _Generator._dedup,  # type: ignore[dict-item]
    ast.Parse: _Generator._parse,  # type: ignore[dict-item]
    ast.Pattern: _Generator._pattern,  # type: ignore[dict-item]
    ast.Diff: _Generator._diff,  # type: ignore[dict-item]
    ast.Anomaly: _Generator._anomaly,  # type: ignore[dict-item]
    ast.FilterIndex: _Generator._filter_index,  # type: ignore[dict-item]
    ast.Source: _Generator._source,  # type: ignore[dict-item]
    ast.Unnest: _Generator._unnest,  # type: ignore[dict-item]
}

__all__ = ["DEFAULT_LIMIT", "MACROS", "PatternPlan", "QueryError", "Translation", "to_duckdb"]
