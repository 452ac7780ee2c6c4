"""Query results as Slack messages (Block Kit through `bot.presentation`) and one-line headlines for the timeline.

Log lines are outside text: table cells go into code blocks through `mrkdwn.code_line` (escaped, no backticks),
so a hostile `@message` can neither mention anyone nor close the block. Rows that do not fit Slack's limits are
counted in a "N more rows not shown" line rather than dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.incidents.ports import Message, QueryResult
from bot.presentation import mrkdwn as md
from bot.presentation.blocks import BLOCKS_MAX, SECTION_TEXT_MAX, Block, context, cut, header, section
from bot.queries import patterns
from bot.queries.catalog import QueryDef
from bot.queries.shares import triage_hints, with_shares
from bot.queries.table import cell_text, table_lines

MAX_ROWS = 50  # a chat message is for a glance; the CLI and the console show everything
_FENCE_SIZE = len(md.fenced([]))


def result_message(
    query: QueryDef, result: QueryResult, *, start: datetime, end: datetime, max_rows: int = MAX_ROWS
) -> Message:
    """A Slack message showing `result` of `query` over [start, end] as a table, with hints and a headline."""
    blocks: list[Block] = [header(query.title), context(_context(query, result, start, end))]
    text = md.escape(headline(query, result))
    if not result.ok:
        reason = result.message or "no reason given"
        blocks.append(section(f":warning: *Query {md.escape(result.status.lower())}*: {md.escape(reason)}"))
        return Message(text=text, blocks=blocks)
    shown = with_shares(query, result)
    if not shown.rows:
        blocks.append(section("No matching log events in this window."))
        return Message(text=text, blocks=blocks)
    hints = triage_hints(query, result)
    # Keep room for the hints and the "more rows" note.
    budget = BLOCKS_MAX - len(blocks) - len(hints) - 1
    table_blocks, rows_shown = _table_blocks(query, shown.fields, shown.rows[:max_rows], budget)
    blocks += table_blocks
    hidden = len(shown.rows) - rows_shown
    if hidden > 0:
        blocks.append(context(f"{hidden} more row{'s' if hidden != 1 else ''} not shown"))
    blocks += [section(f":bulb: {hint}") for hint in hints]
    return Message(text=text, blocks=blocks)


def headline(query: QueryDef, result: QueryResult) -> str:
    """One line for the timeline, e.g. `dlq-breakdown: parse_error 812 (81%), duplicate 150 (15%)`."""
    if query.shape == "patterns":
        return patterns.headline(query, result)
    if not result.ok:
        return cut(f"{query.name}: {result.status.lower()}: {result.message or 'no reason given'}", 300)
    if not result.rows:
        return f"{query.name}: no matching log events"
    shown = with_shares(query, result)
    if query.share is not None:
        share = query.share
        parts = [f"{row.get(share.label, '(none)')} {cell_text(query, share.of, row.get(share.of))} "
                 f"({cell_text(query, share.column, row.get(share.column))})" for row in shown.rows[:3]]
        return cut(f"{query.name}: {', '.join(parts)}{_ellipsis(shown.rows, 3)}", 300)
    if len(result.rows) == 1:
        row = result.rows[0]
        parts = [f"{name} {cell_text(query, name, row[name], width=40)}"
                 for name in result.fields if name in row]
        return cut(f"{query.name}: {', '.join(parts[:4])}", 300)
    label, number = _label_and_number(result.fields, result.rows)
    if label and number:
        parts = [f"{row.get(label, '(none)')} {cell_text(query, number, row.get(number))}"
                 for row in result.rows[:3]]
        return cut(f"{query.name}: {', '.join(parts)}{_ellipsis(result.rows, 3)}", 300)
    return f"{query.name}: {len(result.rows)} rows"


def _table_blocks(
    query: QueryDef, fields: Sequence[str], rows: Sequence[Mapping[str, Any]], budget: int
) -> tuple[list[dict[str, Any]], int]:
    """Code-block sections of at most SECTION_TEXT_MAX characters each, within `budget` blocks."""
    lines = [md.code_line(line) for line in table_lines(fields, rows, query=query, width=80)]
    top, body = lines[:2], lines[2:]
    blocks: list[Block] = []
    used = 0
    while used < len(body) and len(blocks) < budget:
        chunk = [*top]
        size = sum(len(line) + 1 for line in chunk) + _FENCE_SIZE
        while used < len(body) and size + len(body[used]) + 1 <= SECTION_TEXT_MAX:
            chunk.append(body[used])
            size += len(body[used]) + 1
            used += 1
        if len(chunk) == len(top):  # one line too wide to fit: cut it rather than loop forever
            line = body[used][: SECTION_TEXT_MAX - size - 1]
            chunk.append(line[: line.rfind("&")] if line.rfind("&") > line.rfind(";") else line)
            used += 1
        blocks.append(section(md.fenced(chunk)))
    return blocks, used


def _context(query: QueryDef, result: QueryResult, start: datetime, end: datetime) -> str:
    parts = [md.code(query.name), f"{_when(start)} – {_when(end)} UTC", f"{len(result.rows)} rows"]
    if result.records_scanned is not None:
        parts.append(f"{result.records_scanned:,} records scanned")
    if result.elapsed_seconds is not None:
        parts.append(f"{result.elapsed_seconds:.1f} s")
    return " · ".join(parts)


def _when(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return utc.strftime("%Y-%m-%d %H:%M")


def _label_and_number(
    fields: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> tuple[str | None, str | None]:
    def all_numbers(name: str) -> bool:
        return all(isinstance(row.get(name), int | float) for row in rows)

    label = next((name for name in fields if not all_numbers(name)), None)
    number = next((name for name in fields if all_numbers(name)), None)
    return label, number


def _ellipsis(rows: Sequence[Any], shown: int) -> str:
    return " …" if len(rows) > shown else ""
