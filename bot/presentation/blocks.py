"""Block Kit as plain dicts, within Slack's limits (FIELD_NOTES), and the one way the bot cuts text to fit.

Builders take mrkdwn the caller made safe (`bot.presentation.mrkdwn`) and cut it to the block's limit without
splitting an entity (`&amp;`), a link or a code block; `fit_message` makes any message postable (≤ 50 blocks,
the last one counting what was left out). The Slack adapter and the slash-command replies both call it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from typing import Any

from bot.incidents.ports import Message
from bot.presentation.mrkdwn import plain

BLOCKS_MAX = 50
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
CONTEXT_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
MARKDOWN_BLOCK_MAX = 12000
MESSAGE_TEXT_MAX = 40000
TOPIC_MAX = 250
ELLIPSIS = "…"

Block = dict[str, Any]


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending in "…" when cut (for plain text)."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def cut_mrkdwn(text: str, limit: int) -> str:
    """Like `cut`, but never leaves half an entity or link behind and closes an open ``` block."""
    if len(text) <= limit:
        return text
    head = _clean_end(text[: limit - len(ELLIPSIS)])
    if head.count("```") % 2:  # close the code block the cut left open
        return _clean_end(head[: limit - len(ELLIPSIS) - 4]) + ELLIPSIS + "\n```"
    return head + ELLIPSIS


def _clean_end(head: str) -> str:
    """`head` without a trailing half entity (`&am`) or half link/mention (`<https://…`)."""
    amp, lt = head.rfind("&"), head.rfind("<")
    if amp > head.rfind(";"):
        head = head[:amp]
    if lt > head.rfind(">"):
        head = head[:lt]
    return head


def header(text: str) -> Block:
    """A header block (plain text), cut to 150 characters."""
    return {"type": "header", "text": {"type": "plain_text", "text": cut(plain(text), HEADER_TEXT_MAX), "emoji": True}}


def section(text: str) -> Block:
    """A mrkdwn section, cut to 3,000 characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut_mrkdwn(text, SECTION_TEXT_MAX)}}


def context(text: str) -> Block:
    """A small grey context line (mrkdwn)."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut_mrkdwn(text, CONTEXT_TEXT_MAX)}]}


def sections(text: str) -> list[Block]:
    """Long mrkdwn split on paragraph boundaries into sections that each fit."""
    blocks: list[Block] = []
    chunk = ""
    for paragraph in text.strip().split("\n\n"):
        candidate = f"{chunk}\n\n{paragraph}" if chunk else paragraph
        if len(candidate) <= SECTION_TEXT_MAX:
            chunk = candidate
            continue
        if chunk:
            blocks.append(section(chunk))
        while len(paragraph) > SECTION_TEXT_MAX:
            blocks.append(section(paragraph[:SECTION_TEXT_MAX]))
            paragraph = paragraph[SECTION_TEXT_MAX:]
        chunk = paragraph
    if chunk:
        blocks.append(section(chunk))
    return blocks


def image_file(file_id: str, *, alt: str) -> Block:
    """An image block showing a file already shared in Slack (`slack_file`), e.g. an uploaded graph."""
    return {"type": "image", "slack_file": {"id": file_id}, "alt_text": cut(plain(alt), 2000)}


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    """A button (plain-text label)."""
    block: Block = {"type": "button", "text": {"type": "plain_text", "text": cut(plain(label), BUTTON_TEXT_MAX)},
                    "action_id": action_id, "value": value}
    if style:
        block["style"] = style
    return block


def actions(block_id: str, elements: Sequence[Block]) -> Block:
    """An actions block holding buttons."""
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def fit_blocks(blocks: Sequence[Mapping[str, Any]]) -> list[Block]:
    """A copy of `blocks` within Block Kit limits: texts cut with "…"; at most 50 blocks, the last saying how
    many were left out."""
    fitted = [_fit_block(deepcopy(dict(block))) for block in blocks]
    if len(fitted) > BLOCKS_MAX:
        omitted = len(fitted) - (BLOCKS_MAX - 1)
        fitted = fitted[: BLOCKS_MAX - 1]
        fitted.append(context(f"{ELLIPSIS} {omitted} more blocks not shown"))
    return fitted


def fit_message(message: Message) -> Message:
    """`message` as Slack accepts it: text ≤ 40,000 characters, blocks fitted."""
    return Message(text=cut_mrkdwn(message.text, MESSAGE_TEXT_MAX), blocks=fit_blocks(message.blocks))


def _fit_block(block: Block) -> Block:
    kind = block.get("type")
    text = block.get("text")
    if kind == "section":
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            text["text"] = cut_mrkdwn(text["text"], SECTION_TEXT_MAX)
        for item in block.get("fields") or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                item["text"] = cut_mrkdwn(item["text"], SECTION_FIELD_MAX)
    elif kind == "header" and isinstance(text, dict) and isinstance(text.get("text"), str):
        text["text"] = cut(text["text"], HEADER_TEXT_MAX)
    elif kind == "markdown" and isinstance(text, str):
        block["text"] = cut(text, MARKDOWN_BLOCK_MAX)
    elif kind == "context":
        for item in block.get("elements") or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                item["text"] = cut_mrkdwn(item["text"], CONTEXT_TEXT_MAX)
    return block
