"""Recursive-descent parser: Logs Insights text → `ast.Query`.

It accepts the language's syntax broadly and leaves "is this supported?" to the generators, except for
commands with no AST node yet, which raise UnsupportedQuery here. To add a command, add a method and an entry
in `_COMMANDS`; to add an operator, extend the precedence methods (`_or` down to `_primary`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.logquery import ast
from bot.logquery.tokens import Kind, Token, error_at, tokenize, unsupported_at

# Real Logs Insights commands the local engine does not implement: named in the error, not called a typo.
_KNOWN_UNSUPPORTED = {"unmask", "lookup", "join", "addtotals", "relevantfields", "countfrequent", "expand",
                      "logcompare"}
_DIFF_PERIODS = {"previousday": "day", "previousweek": "week", "previousmonth": "month"}
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">=", "=~"}
_GROUP_NAME = re.compile(r"\(\?P?<([A-Za-z_@][A-Za-z0-9_.@]*)>")


def parse(text: str) -> ast.Query:
    """Parse a Logs Insights query; raises QueryError (with position) on bad syntax."""
    return _Parser(text).query()


def glob_to_regex(pattern: str) -> str:
    """A `parse` glob (`*` captures, the rest is literal) as an unanchored RE2 pattern."""
    pieces = pattern.split("*")
    out = [_escape(pieces[0])]
    for index, piece in enumerate(pieces[1:], start=1):
        last = index == len(pieces) - 1
        # The final capture runs to the end of the line when nothing follows it, as in Logs Insights.
        out.append("(.*)" if last and piece == "" else "(.*?)")
        out.append(_escape(piece))
    return "".join(out)


def _escape(literal: str) -> str:
    # re.escape also escapes spaces and dashes, which RE2 may reject; escape only metacharacters.
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", literal)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers ----------------------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _at(self, kind: Kind) -> bool:
        # A method, not `self.current.kind is ...` inline: mypy would narrow the property across _advance().
        return self.current.kind is kind

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def _is_word(self, *words: str) -> bool:
        return self.current.kind is Kind.IDENT and self.current.value.lower() in words

    def _accept_word(self, *words: str) -> Token | None:
        return self._advance() if self._is_word(*words) else None

    def _expect(self, kind: Kind, what: str | None = None) -> Token:
        if self.current.kind is not kind:
            raise error_at(self.text, self.current.pos, f"expected {what or kind.value}")
        return self._advance()

    def _previous_end(self) -> int:
        return self.tokens[self.index - 1].end

    # -- commands ---------------------------------------------------------------------------------
    def query(self) -> ast.Query:
        commands: list[ast.Command] = []
        while self.current.kind is Kind.PIPE:  # a leading `|` is harmless
            self._advance()
        while self.current.kind is not Kind.EOF:
            commands.append(self._command())
            if self._at(Kind.PIPE):
                self._advance()
                if self._at(Kind.EOF):
                    raise error_at(self.text, self.current.pos, "expected a command after '|'")
            elif not self._at(Kind.EOF):
                raise error_at(self.text, self.current.pos, "expected '|' between commands")
        if not commands:
            raise error_at(self.text, 0, "empty query")
        return ast.Query(tuple(commands), self.text)

    def _command(self) -> ast.Command:
        token = self.current
        if token.kind is not Kind.IDENT:
            raise error_at(self.text, token.pos, "expected a command")
        name = token.value.lower()
        handler = _COMMANDS.get(name)
        if handler is None:
            if name in _KNOWN_UNSUPPORTED:
                raise unsupported_at(self.text, token.pos, f"command '{token.value}'")
            raise error_at(self.text, token.pos, f"unknown command {token.value!r}")
        self._advance()
        return handler(self, token.pos)

    def _fields(self, pos: int) -> ast.Fields:
        return ast.Fields(tuple(self._projections()), pos)

    def _filter(self, pos: int) -> ast.Filter:
        return ast.Filter(self._expr(), pos)

    def _stats(self, pos: int) -> ast.Stats:
        aggregates = self._projections()
        by: list[ast.Projection] = []
        if self._accept_word("by"):
            by = self._projections()
        return ast.Stats(tuple(aggregates), tuple(by), pos)

    def _sort(self, pos: int) -> ast.Sort:
        keys = [self._sort_key()]
        while self.current.kind is Kind.COMMA:
            self._advance()
            keys.append(self._sort_key())
        return ast.Sort(tuple(keys), pos)

    def _sort_key(self) -> ast.SortKey:
        expr = self._expr()
        # Logs Insights sorts ascending when no direction is given.
        direction = self._accept_word("asc", "desc")
        return ast.SortKey(expr, direction is not None and direction.value.lower() == "desc")

    def _limit(self, pos: int) -> ast.Limit:
        token = self._expect(Kind.NUMBER, "a row count after limit")
        if not token.value.isdigit() or int(token.value) < 1:
            raise error_at(self.text, token.pos, "limit must be a positive whole number")
        return ast.Limit(int(token.value), pos)

    def _display(self, pos: int) -> ast.Display:
        return ast.Display(tuple(self._field_list()), pos)

    def _dedup(self, pos: int) -> ast.Dedup:
        return ast.Dedup(tuple(self._field_list()), pos)

    def _parse(self, pos: int) -> ast.Parse:
        source = ast.Field("@message", self.current.pos)
        if self.current.kind is Kind.IDENT:
            token = self._advance()
            source = ast.Field(token.value, token.pos)
        if self.current.kind is Kind.REGEX:
            token = self._advance()
            names = tuple(_GROUP_NAME.findall(token.value))
            if not names:
                raise error_at(self.text, token.pos, "a parse regex needs named groups like (?<name>...)")
            if self._is_word("as"):
                raise error_at(self.text, self.current.pos, "a parse regex names its fields in the pattern")
            # RE2 wants the Python spelling of named groups.
            regex = re.sub(r"\(\?<([A-Za-z_@])", r"(?P<\1", token.value)
            return ast.Parse(source, regex, names, pos)
        token = self._expect(Kind.STRING, "a glob pattern or /regex/ after parse")
        if not self._accept_word("as"):
            raise error_at(self.text, self.current.pos, "expected 'as' and field names after the pattern")
        names = tuple(field.name for field in self._field_list())
        if token.value.count("*") != len(names):
            raise error_at(
                self.text, token.pos,
                f"the pattern has {token.value.count('*')} '*' but {len(names)} field names follow 'as'",
            )
        return ast.Parse(source, glob_to_regex(token.value), names, pos)

    def _pattern(self, pos: int) -> ast.Pattern:
        return ast.Pattern(self._expr(), pos)

    def _diff(self, pos: int) -> ast.Diff:
        if self._at(Kind.IDENT) and self.current.value.lower() in _DIFF_PERIODS:
            return ast.Diff(_DIFF_PERIODS[self._advance().value.lower()], pos)
        if not self._at(Kind.PIPE) and not self._at(Kind.EOF):
            raise error_at(self.text, self.current.pos, "diff takes previousDay, previousWeek or previousMonth")
        return ast.Diff("previous", pos)

    def _anomaly(self, pos: int) -> ast.Anomaly:
        return ast.Anomaly(pos)

    def _filter_index(self, pos: int) -> ast.FilterIndex:
        return ast.FilterIndex(self._expr(), pos)

    def _source(self, pos: int) -> ast.Source:
        # Log-group selection (`SOURCE logGroups(namePrefix: [...])`, `SOURCE '/group' start=-1d`): kept as text.
        start, depth = self.current.pos, 0
        while not self._at(Kind.EOF) and not (depth == 0 and self._at(Kind.PIPE)):
            token = self._advance()
            depth += {Kind.LPAREN: 1, Kind.LBRACKET: 1, Kind.RPAREN: -1, Kind.RBRACKET: -1}.get(token.kind, 0)
        return ast.Source(self.text[start:self._previous_end()].strip(), pos)

    def _unnest(self, pos: int) -> ast.Unnest:
        source = self._expr()
        if not self._accept_word("into"):
            raise error_at(self.text, self.current.pos, "expected 'into' and a name after the unnested field")
        return ast.Unnest(source, self._expect(Kind.IDENT, "a name after 'into'").value, pos)

    def _projections(self) -> list[ast.Projection]:
        items = [self._projection()]
        while self.current.kind is Kind.COMMA:
            self._advance()
            items.append(self._projection())
        return items

    def _projection(self) -> ast.Projection:
        start = self.current.pos
        expr = self._expr()
        text = self.text[start:self._previous_end()]
        if self._accept_word("as"):
            alias = self._expect(Kind.IDENT, "a name after 'as'")
            return ast.Projection(expr, alias.value)
        name = expr.name if isinstance(expr, ast.Field) else " ".join(text.split())
        return ast.Projection(expr, name)

    def _field_list(self) -> list[ast.Field]:
        fields = [self._field()]
        while self.current.kind is Kind.COMMA:
            self._advance()
            fields.append(self._field())
        return fields

    def _field(self) -> ast.Field:
        token = self._expect(Kind.IDENT, "a field name")
        return ast.Field(token.value, token.pos)

    # -- expressions, lowest precedence first -----------------------------------------------------
    def _expr(self) -> ast.Expr:
        return self._or()

    def _or(self) -> ast.Expr:
        left = self._and()
        while (token := self._accept_word("or")) is not None:
            left = ast.Binary("or", left, self._and(), token.pos)
        return left

    def _and(self) -> ast.Expr:
        left = self._not()
        while (token := self._accept_word("and")) is not None:
            left = ast.Binary("and", left, self._not(), token.pos)
        return left

    def _not(self) -> ast.Expr:
        token = self._accept_word("not")
        if token is None and self._at(Kind.OP) and self.current.value == "!":
            token = self._advance()
        if token is not None:
            return ast.Unary("not", self._not(), token.pos)
        return self._comparison()

    def _comparison(self) -> ast.Expr:
        left = self._additive()
        token = self.current
        if token.kind is Kind.OP and token.value in _COMPARISONS:
            self._advance()
            return ast.Binary(token.value, left, self._additive(), token.pos)
        negated = False
        if self._is_word("not") and self.tokens[self.index + 1].value.lower() in ("like", "in"):
            self._advance()
            negated = True
        if (word := self._accept_word("like", "in")) is not None:
            op = ("not " if negated else "") + word.value.lower()
            return ast.Binary(op, left, self._additive(), token.pos)
        return left

    def _additive(self) -> ast.Expr:
        left = self._multiplicative()
        while self.current.kind is Kind.OP and self.current.value in ("+", "-"):
            token = self._advance()
            left = ast.Binary(token.value, left, self._multiplicative(), token.pos)
        return left

    def _multiplicative(self) -> ast.Expr:
        left = self._unary()
        while self.current.kind is Kind.OP and self.current.value in ("*", "/", "%"):
            token = self._advance()
            left = ast.Binary(token.value, left, self._unary(), token.pos)
        return left

    def _power(self) -> ast.Expr:
        base = self._primary()
        if self.current.kind is Kind.OP and self.current.value == "^":
            token = self._advance()
            return ast.Binary("^", base, self._unary(), token.pos)  # right-associative, binds tighter than -x
        return base

    def _unary(self) -> ast.Expr:
        if self.current.kind is Kind.OP and self.current.value == "-":
            token = self._advance()
            operand = self._unary()
            if isinstance(operand, ast.Literal) and isinstance(operand.value, int | float) \
                    and not isinstance(operand.value, bool):
                return ast.Literal(-operand.value, token.pos)
            return ast.Unary("-", operand, token.pos)
        return self._power()

    def _primary(self) -> ast.Expr:
        token = self.current
        if token.kind is Kind.NUMBER:
            self._advance()
            is_int = token.value.isdigit()
            return ast.Literal(int(token.value) if is_int else float(token.value), token.pos)
        if token.kind is Kind.STRING:
            self._advance()
            return ast.Literal(token.value, token.pos)
        if token.kind is Kind.REGEX:
            self._advance()
            return ast.Regex(token.value, token.pos)
        if token.kind is Kind.DURATION:
            self._advance()
            match = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]+)", token.value)
            assert match is not None
            return ast.Duration(float(match.group(1)), match.group(2), token.pos)
        if token.kind is Kind.LPAREN:
            self._advance()
            inner = self._expr()
            self._expect(Kind.RPAREN, "')'")
            return inner
        if token.kind is Kind.LBRACKET:
            return self._list()
        if token.kind is Kind.IDENT:
            self._advance()
            if self.current.kind is Kind.LPAREN:
                return self._call(token)
            lowered = token.value.lower()
            if lowered in ("true", "false"):
                return ast.Literal(lowered == "true", token.pos)
            if lowered == "null":
                return ast.Literal(None, token.pos)
            return ast.Field(token.value, token.pos)
        raise error_at(self.text, token.pos, "expected a field, value or function")

    def _list(self) -> ast.ListExpr:
        start = self._advance()
        items: list[ast.Expr] = []
        while self.current.kind is not Kind.RBRACKET:
            items.append(self._expr())
            if self._at(Kind.COMMA):
                self._advance()
            elif not self._at(Kind.RBRACKET):
                raise error_at(self.text, self.current.pos, "expected ',' or ']' in a list")
        self._advance()
        return ast.ListExpr(tuple(items), start.pos)

    def _call(self, name: Token) -> ast.Call:
        self._advance()  # (
        args: list[ast.Expr] = []
        star = False
        if self.current.kind is Kind.OP and self.current.value == "*":
            self._advance()
            star = True
        elif self.current.kind is not Kind.RPAREN:
            args.append(self._expr())
            while self.current.kind is Kind.COMMA:
                self._advance()
                args.append(self._expr())
        end = self._expect(Kind.RPAREN, "')' to close the call")
        text = self.text[name.pos:end.end]
        return ast.Call(name.value.lower(), tuple(args), name.pos, text, star)


_COMMANDS: dict[str, Callable[[_Parser, int], ast.Command]] = {
    "fields": _Parser._fields,
    "filter": _Parser._filter,
    "stats": _Parser._stats,
    "sort": _Parser._sort,
    "limit": _Parser._limit,
    "display": _Parser._display,
    "dedup": _Parser._dedup,
    "parse": _Parser._parse,
    "pattern": _Parser._pattern,
    "diff": _Parser._diff,
    "anomaly": _Parser._anomaly,
    "filterindex": _Parser._filter_index,
    "source": _Parser._source,
    "unnest": _Parser._unnest,
}
