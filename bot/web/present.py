"""How incident facts read on a page: times, durations, query tables, Markdown.

Pure functions of plain values, so the templates stay simple and these stay testable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML off: a runbook rendered with hostile alarm text stays text. markdown-it also refuses javascript: links.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_FENCE = "```"


@dataclass(frozen=True, slots=True)
class Table:
    """A query result table recovered from the fixed-width text the bot posts in Slack."""

    columns: list[str]
    rows: list[list[str]]


def markdown(text: str, *, shift_headings: int = 0) -> Markup:
    """CommonMark (with tables) to HTML; any HTML in `text` is escaped, not passed through. `shift_headings=2`
    makes `#` an h3, so a document fits under the page's own h1 and h2."""
    tokens = _markdown.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + shift_headings, 6)}"
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))  # noqa: S704 - html is disabled


def when(moment: datetime | None) -> str:
    """`2026-12-01 14:03 UTC`, or an em dash."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def minutes_text(minutes: float | None) -> str:
    """`42 s`, `7 min`, `2 h 05 min`, `3 d 4 h`, or an em dash."""
    if minutes is None:
        return "—"
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """`5 min ago`, for a glance."""
    if moment is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    return f"{minutes_text(max(seconds, 0) / 60)} ago"


def span_minutes(start: datetime, end: datetime | None) -> float | None:
    """Minutes from `start` to `end` (None while `end` has not happened)."""
    return (end - start).total_seconds() / 60 if end else None


def query_tables(blocks: Sequence[Mapping[str, Any]]) -> list[Table]:
    """The tables in a query result message: each fenced section is a header line, a dashed rule, rows."""
    tables: list[Table] = []
    for block in blocks:
        text = str((block.get("text") or {}).get("text") or "") if isinstance(block, Mapping) else ""
        if not (text.startswith(_FENCE) and text.endswith(_FENCE)):
            continue
        lines = text[len(_FENCE):-len(_FENCE)].strip("\n").split("\n")
        if len(lines) < 2 or not set(lines[1]) <= {"-", " "} or "-" not in lines[1]:
            continue
        spans = _column_spans(lines[1])
        table = Table(columns=_cut(lines[0], spans), rows=[_cut(line, spans) for line in lines[2:]])
        if tables and tables[-1].columns == table.columns:  # one long result split over several sections
            tables[-1].rows.extend(table.rows)
        else:
            tables.append(table)
    return tables


def block_texts(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The readable text of message blocks that are not tables (headers, context lines, hints)."""
    texts: list[str] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        text = block.get("text")
        if isinstance(text, Mapping) and not str(text.get("text") or "").startswith(_FENCE):
            texts.append(str(text.get("text") or ""))
        for element in block.get("elements") or []:
            if isinstance(element, Mapping) and element.get("text"):
                texts.append(str(element["text"]))
    return [t for t in texts if t]


def _column_spans(rule: str) -> list[tuple[int, int | None]]:
    spans: list[tuple[int, int | None]] = []
    start = None
    for index, char in enumerate(rule + " "):
        if char == "-" and start is None:
            start = index
        elif char != "-" and start is not None:
            spans.append((start, index))
            start = None
    # The last column runs to the end of the line (a row may be wider than the rule after cutting).
    if spans:
        spans[-1] = (spans[-1][0], None)
    return spans


def _cut(line: str, spans: list[tuple[int, int | None]]) -> list[str]:
    # Cells are padded to their column's width, so each lies under its run of dashes.
    return [line[start:end].strip() for start, end in spans]
