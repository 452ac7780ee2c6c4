"""Convert the runbooks' standard Markdown into Slack mrkdwn.

Runbooks stay standard Markdown so they read well in Git and in Slack's `markdown` block; section blocks
and notification text need mrkdwn instead: `*bold*`, `_italic_`, `<url|text>`, no headings or tables, and
`&`, `<`, `>` escaped. Code (fenced and inline) is left as written apart from that escaping. To support
another construct, add a line rule to `_line` (outside code) and a test beside the others.
"""

from __future__ import annotations

import re

from bot.presentation.mrkdwn import entities

_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^(\s*)&gt;\s?")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"(`[^`\n]+`)")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])")


# The runbook is our own Markdown: only the three characters Slack treats as markup are escaped; the alarm's
# own text was made inert before rendering (`bot.alarms.context`).
escape = entities


def to_mrkdwn(markdown: str) -> str:
    """Slack mrkdwn for `markdown`: headings become bold lines, tables code blocks, links `<url|text>`."""
    out: list[str] = []
    in_fence = False
    in_table = False
    for raw in markdown.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            out.append("```")  # Slack shows a language tag as code text, so drop it
            continue
        if in_fence:
            out.append(escape(raw))
            continue
        if _TABLE_ROW.match(raw):
            if not in_table:
                out.append("```")
                in_table = True
            if not _TABLE_RULE.match(raw):
                out.append(escape(raw.strip()))
            continue
        if in_table:
            out.append("```")
            in_table = False
        out.append(_line(raw))
    if in_table or in_fence:
        out.append("```")
    return "\n".join(out)


def _line(raw: str) -> str:
    if _RULE.match(raw):
        return "────────"
    heading = _HEADING.match(raw)
    if heading:
        title = _inline(heading.group(1)).replace("*", "")
        return f"*{title}*" if title else ""
    line = escape(raw)
    quote = _QUOTE.match(line)
    prefix = ""
    if quote:
        prefix, line = f"{quote.group(1)}>", " " + line[quote.end() :]
    bullet = _BULLET.match(line)
    if bullet:
        box = bullet.group(2)
        mark = "" if box is None else ("☑ " if "x" in box.lower() else "☐ ")
        line = f"{bullet.group(1)}• {mark}{line[bullet.end():]}"
    return prefix + _inline(line, escaped=True)


def _inline(text: str, *, escaped: bool = False) -> str:
    parts = _CODE_SPAN.split(text if escaped else escape(text))
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        part = _ITALIC.sub(r"_\1_", parts[i])
        part = _BOLD.sub(r"*\2*", part)
        parts[i] = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", part)
    return "".join(parts)
