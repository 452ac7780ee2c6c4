"""The base stage: JSON-lines files → one row per event with `t` (@timestamp) and the fields a query reads.

It reads only the top-level keys the query uses (`read_json` with `columns`), or, when the query needs the whole
line (`@message`), whole objects with one multi-path extraction per line (`read_ndjson_objects`); both give the
same values, bar the spelling of exponent-form numbers (`1e-07` and `1e-7`). Fields stay VARCHAR: missing or
mistyped values are NULL, never an error.
"""

# ruff: noqa: S608 - SQL is generated from the parsed AST; every literal goes through sql_string.
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bot.logquery.functions import sql_string


def quote_ident(name: str) -> str:
    """A SQL identifier for `name`."""
    return '"' + name.replace('"', '""') + '"'


def json_path(name: str) -> str:
    """`a.b` as a JSON path; dots walk into nested objects, each key quoted so any character is safe."""
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in name.split("."))


def timestamp_literal(moment: datetime) -> str:
    """A TIMESTAMP literal (UTC) for `moment`."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"TIMESTAMP '{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def window_sql(start: datetime | None, end: datetime | None, previous: tuple[datetime, datetime] | None) -> str:
    """The WHERE clause keeping events in [start, end] (and in the comparison period [previous) when given)."""
    conditions = []
    if start is not None:
        conditions.append(f"t >= {timestamp_literal(start)}")
    if end is not None:
        conditions.append(f"t <= {timestamp_literal(end)}")
    if not conditions:
        return ""
    window = " AND ".join(conditions)
    if previous is not None:
        earlier, later = (timestamp_literal(moment) for moment in previous)
        window = f"({window}) OR (t >= {earlier} AND t < {later})"
    return f"\n  WHERE {window}"


def base_select(source: str, extracted: Mapping[str, str], window: str) -> str:
    """SELECT reading the files matching `source`: `t`, then each field of `extracted` (name -> column)."""
    names = [name for name in extracted if not name.startswith("@")]
    keys = _top_level_keys(["timestamp", *names])
    filename = "@logStream" in extracted or "@log" in extracted
    if "@message" in extracted or not _projectable(keys, stream=filename):
        return _raw_base(source, extracted, names, window, filename=filename)
    return _projected_base(source, extracted, names, keys, window, filename=filename)


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


def _projected_base(source: str, extracted: Mapping[str, str], names: list[str], keys: dict[str, bool],
                    window: str, *, filename: bool) -> str:
    # read_json parses each line once and converts only the listed top-level keys: ~1.35x less CPU than
    # reading whole objects and extracting paths from them. VARCHAR takes any JSON value (objects come back
    # as JSON text, JSON null as NULL), so a mistyped field is text, never an error; keys holding objects we
    # walk into are read as JSON. `records = true` because auto-detection may otherwise read each whole line
    # into the column when only one key is projected (`stats count() by bin(5m)` reads just the timestamp).
    def value(name: str) -> str:
        key, _, rest = name.partition(".")
        if rest:
            return f"json_extract_string({quote_ident(key)}, {sql_string(json_path(rest))})"
        return f"json_extract_string({quote_ident(key)}, '$')" if keys[key] else quote_ident(key)

    columns = [f"{_time_column(value('timestamp'))} AS t"]
    columns += _file_columns(extracted)
    columns += [f"{value(name)} AS {extracted[name]}" for name in names]
    types = ", ".join(f"{sql_string(key)}: '{'JSON' if nested else 'VARCHAR'}'" for key, nested in keys.items())
    # A line that is not a JSON object must not fail the query: its columns read as NULL (no timestamp).
    options = ", ignore_errors = true" + (", filename = true" if filename else "")
    reader = (f"read_json({sql_string(source)}, format = 'newline_delimited', records = true, "
              f"columns = {{{types}}}{options})")
    return f"SELECT {', '.join(columns)}\n  FROM {reader}{window}"


def _raw_base(source: str, extracted: Mapping[str, str], names: list[str], window: str, *,
              filename: bool) -> str:
    # Needed for @message (the whole line): one multi-path extraction parses each line once; a `->>` per
    # field would parse it once per field.
    paths = ", ".join(sql_string(json_path(name)) for name in ["timestamp", *names])
    columns = [f"{_time_column('v[1]')} AS t", "CAST(json AS VARCHAR) AS m"]
    columns += _file_columns(extracted)
    columns += [f"v[{index}] AS {extracted[name]}" for index, name in enumerate(names, start=2)]
    # A line that is not JSON must not fail the query: it reads as NULL and has no timestamp.
    options = ", ignore_errors = true" + (", filename = true" if filename else "")
    reader = f"read_ndjson_objects({sql_string(source)}{options})"
    return (f"SELECT {', '.join(columns)}\n  FROM (SELECT *, json_extract_string(json, [{paths}]) AS v "
            f"FROM {reader}){window}")


def _file_columns(extracted: Mapping[str, str]) -> list[str]:
    # Offline, a file is a log stream and the directory holding it a log group.
    columns = []
    if "@logStream" in extracted:
        columns.append("regexp_extract(filename, '[^/]*$') AS stream")
    if "@log" in extracted:
        columns.append("regexp_extract(filename, '([^/]*)/[^/]*$', 1) AS loggroup")
    return columns
