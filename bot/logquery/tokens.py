"""Lexer for the CloudWatch Logs Insights query language: text → a list of `Token`s with positions.

A `/` opens a regex literal wherever an operand may start (after an operator, `(`, `,`, `|`, `[` or a
keyword such as `like`), and is division elsewhere. To add a token kind, add a `Kind` and a branch to
`tokenize`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.errors import QueryError, UnsupportedQuery


class Kind(enum.Enum):
    """What a token is."""

    IDENT = "identifier"
    STRING = "string"
    REGEX = "regex"
    NUMBER = "number"
    DURATION = "duration"
    OP = "operator"
    PIPE = "|"
    COMMA = ","
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme: its kind, its value (strings and regexes unquoted) and its span [pos, end) in the query."""

    kind: Kind
    value: str
    pos: int
    end: int = -1


# Keywords after which `/` starts a regex rather than dividing.
_REGEX_AFTER_WORDS = frozenset({"like", "parse", "and", "or", "not", "in", "filter"})
_OPERATORS = ("=~", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", "^", "!", ":")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DURATION_UNIT = re.compile(r"(ms|mo|s|m|h|d|w|q|y)(?![A-Za-z0-9_])")
_IDENT = re.compile(r"@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_@][A-Za-z0-9_@]*)*|@[A-Za-z0-9_.]+")
_SIMPLE = {"|": Kind.PIPE, ",": Kind.COMMA, "(": Kind.LPAREN, ")": Kind.RPAREN, "[": Kind.LBRACKET,
           "]": Kind.RBRACKET}


def error_at(query: str, pos: int, problem: str) -> QueryError:
    """A QueryError that quotes the offending text and its position (1-based line and column)."""
    line = query.count("\n", 0, pos) + 1
    column = pos - (query.rfind("\n", 0, pos) + 1) + 1
    snippet = query[pos:pos + 20].split("\n")[0] or "end of query"
    return QueryError(f"{problem} at line {line}, column {column} (near {snippet!r})")


def unsupported_at(query: str, pos: int, what: str) -> UnsupportedQuery:
    """An UnsupportedQuery naming `what` and where it is; the local engine cannot run it."""
    located = error_at(query, pos, f"{what} is not supported by the local engine")
    return UnsupportedQuery(str(located))


def _regex_allowed(tokens: list[Token]) -> bool:
    if not tokens:
        return True
    previous = tokens[-1]
    if len(tokens) >= 2 and tokens[-2].kind is Kind.IDENT and tokens[-2].value.lower() == "parse":
        return True  # `parse @message /regex/`
    if previous.kind in (Kind.OP, Kind.PIPE, Kind.COMMA, Kind.LPAREN, Kind.LBRACKET):
        return True
    return previous.kind is Kind.IDENT and previous.value.lower() in _REGEX_AFTER_WORDS


def _quoted(query: str, start: int, quote: str) -> tuple[str, int]:
    """The unescaped body of a quoted string or regex starting at `start`, and the offset after it."""
    out: list[str] = []
    i = start + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query):
            following = query[i + 1]
            # Regexes keep their escapes (RE2 reads them); strings drop the backslash.
            if quote == "/":
                out.append("/" if following == "/" else char + following)
            else:
                out.append({"n": "\n", "t": "\t"}.get(following, following))
            i += 2
            continue
        if char == quote:
            return "".join(out), i + 1
        out.append(char)
        i += 1
    kind = "regex" if quote == "/" else "string"
    raise error_at(query, start, f"unterminated {kind}")


def tokenize(query: str) -> list[Token]:
    """Split `query` into tokens; `#` comments and whitespace are skipped. Raises QueryError on bad input."""
    tokens: list[Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
            continue
        if char == "#":
            end = query.find("\n", i)
            i = len(query) if end < 0 else end
            continue
        count = len(tokens)
        if char in "\"'":
            value, i_next = _quoted(query, i, char)
            tokens.append(Token(Kind.STRING, value, i))
            i = i_next
        elif char == "`":
            end = query.find("`", i + 1)
            if end < 0:
                raise error_at(query, i, "unterminated `quoted field`")
            tokens.append(Token(Kind.IDENT, query[i + 1:end], i))
            i = end + 1
        elif char == "/" and _regex_allowed(tokens):
            value, i_next = _quoted(query, i, "/")
            tokens.append(Token(Kind.REGEX, value, i))
            i = i_next
        elif char in _SIMPLE:
            tokens.append(Token(_SIMPLE[char], char, i))
            i += 1
        elif char.isdigit():
            match = _NUMBER.match(query, i)
            assert match is not None
            unit = _DURATION_UNIT.match(query, match.end())
            if unit:
                tokens.append(Token(Kind.DURATION, query[i:unit.end()], i))
                i = unit.end()
            else:
                tokens.append(Token(Kind.NUMBER, match.group(), i))
                i = match.end()
        elif char.isalpha() or char in "_@":
            match = _IDENT.match(query, i)
            if match is None:
                raise error_at(query, i, "unexpected character")
            tokens.append(Token(Kind.IDENT, match.group(), i))
            i = match.end()
        else:
            for op in _OPERATORS:
                if query.startswith(op, i):
                    tokens.append(Token(Kind.OP, op, i))
                    i += len(op)
                    break
            else:
                raise error_at(query, i, f"unexpected character {char!r}")
        if len(tokens) > count:
            last = tokens[-1]
            tokens[-1] = Token(last.kind, last.value, last.pos, i)
    tokens.append(Token(Kind.EOF, "", len(query), len(query)))
    return tokens
