"""The Logs Insights query language: lexer, parser, AST and the DuckDB generator behind the local engine.

`parse(text)` gives an `ast.Query`; `to_duckdb(query, source=glob, ...)` gives the SQL. Pure code, no I/O.
"""

from bot.logquery.parser import parse
from bot.logquery.to_duckdb import DEFAULT_LIMIT, MACROS, Translation, to_duckdb

__all__ = ["DEFAULT_LIMIT", "MACROS", "Translation", "parse", "to_duckdb"]
