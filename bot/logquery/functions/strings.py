"""String functions: Logs Insights counts characters from 0, SQL from 1; `strcontains` answers 1 or 0."""

from __future__ import annotations

from bot.logquery import ast
from bot.logquery.functions.base import Generator, Translator, Typed, sql_string, unary_str


def _isempty(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    text = gen.as_str(arg)
    return Typed(f"({text} IS NULL OR {text} = '')", "bool")


def _isblank(gen: Generator, node: ast.Call) -> Typed:
    (arg,) = gen.args(node, 1)
    text = gen.as_str(arg)
    return Typed(f"({text} IS NULL OR trim({text}) = '')", "bool")


def _concat(gen: Generator, node: ast.Call) -> Typed:
    args = gen.args(node, (1, 64))
    return Typed(f"concat({', '.join(gen.as_str(arg) for arg in args)})", "str")


def _trim(sql_function: str) -> Translator:
    # trim(str) strips whitespace; trim(str, trimChars) strips any of those characters.
    def translate(gen: Generator, node: ast.Call) -> Typed:
        args = gen.args(node, (1, 2))
        chars = f", {gen.as_str(args[1])}" if len(args) == 2 else ""
        return Typed(f"{sql_function}({gen.as_str(args[0])}{chars})", "str")
    return translate


def _substr(gen: Generator, node: ast.Call) -> Typed:
    args = gen.args(node, (2, 3))
    start = f"CAST({gen.as_num(args[1])} AS BIGINT) + 1"
    length = f", CAST({gen.as_num(args[2])} AS BIGINT)" if len(args) == 3 else ""
    return Typed(f"substr({gen.as_str(args[0])}, {start}{length})", "str")


def _replace(gen: Generator, node: ast.Call) -> Typed:
    text, old, new = (gen.as_str(arg) for arg in gen.args(node, 3))
    return Typed(f"replace({text}, {old}, {new})", "str")


def _strcontains(gen: Generator, node: ast.Call) -> Typed:
    text, part = (gen.as_str(arg) for arg in gen.args(node, 2))
    return Typed(f"CAST(contains({text}, {part}) AS INTEGER)", "num")  # "returns 1 ... and 0 otherwise"


def _regex_replace(gen: Generator, node: ast.Call) -> Typed:
    if len(node.args) != 3:
        raise gen.error(node.pos, "regex_replace() takes a string, a /regex/ and a replacement")
    pattern = node.args[1]
    regex = sql_string(pattern.pattern) if isinstance(pattern, ast.Regex) else gen.as_str(gen.expr(pattern))
    text, replacement = gen.as_str(gen.expr(node.args[0])), gen.as_str(gen.expr(node.args[2]))
    return Typed(f"regexp_replace({text}, {regex}, {replacement}, 'g')", "str")


def _affix(sql_function: str) -> Translator:
    def translate(gen: Generator, node: ast.Call) -> Typed:
        text, part = (gen.as_str(arg) for arg in gen.args(node, 2))
        return Typed(f"{sql_function}({text}, {part})", "bool")
    return translate


def _split(gen: Generator, node: ast.Call) -> Typed:
    text, separator = (gen.as_str(arg) for arg in gen.args(node, 2))
    return Typed(f"CAST(to_json(string_split({text}, {separator})) AS VARCHAR)", "any")  # a JSON array


FUNCTIONS: dict[str, Translator] = {
    "isempty": _isempty,
    "isblank": _isblank,
    "concat": _concat,
    "ltrim": _trim("ltrim"),
    "rtrim": _trim("rtrim"),
    "trim": _trim("trim"),
    "strlen": unary_str("length", "num"),
    "toupper": unary_str("upper"),
    "tolower": unary_str("lower"),
    "substr": _substr,
    "replace": _replace,
    "strcontains": _strcontains,
    "regex_replace": _regex_replace,
    "startswith": _affix("starts_with"),
    "endswith": _affix("ends_with"),
    "split": _split,
    "md5": unary_str("md5"),
    "sha256": unary_str("sha256"),
    "base64encode": unary_str("li_base64"),
    "base64decode": unary_str("li_unbase64"),
    "urlencode": unary_str("url_encode"),
    "urldecode": unary_str("url_decode"),
}
