"""Hypothesis strategies for hostile input: any JSON, hostile text, and mutations of real-looking requests."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Text that breaks naive code: NUL and other controls, lone surrogates, RTL marks, superscript digits, emoji.
NASTY = ["\x00", "\ud800", "\udfff", "\u202e", "²", "١", "😀", "\n", "\r\n", "'", '"', "\\", "<!channel>", "&",
         "%00", "../", "{{ 7*7 }}", "${x}", "\u2028", "\ufeff"]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=40),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=6).map("".join),
    st.text(max_size=3).map(lambda t: t * 400),
    st.integers(min_value=0, max_value=10**40).map(str),
)
numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 10**19, 2**63, 2**63 - 1, 1e308, 1e-320, 0.5]),
)
json_leaf = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=10,
)


def dumps(value: Any, style: int) -> bytes:
    """Serialize as a sender might: ASCII-escaped, raw UTF-8 (lone surrogates become invalid bytes), pretty."""
    if style == 0:
        return json.dumps(value, ensure_ascii=True).encode()
    if style == 1:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(value, indent=2).encode()


def nested(depth: int, *, array: bool) -> bytes:
    """JSON text `depth` levels deep (built as text: `json.dumps` itself would hit the recursion limit)."""
    if array:
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def mutate_bytes(data: bytes, action: int, position: int, byte: int) -> bytes:
    """Delete, insert or flip one byte, or cut the body short."""
    if not data:
        return bytes([byte])
    position %= len(data)
    if action == 0:
        return data[:position] + data[position + 1:]
    if action == 1:
        return data[:position] + bytes([byte]) + data[position:]
    if action == 2:
        return data[:position] + bytes([data[position] ^ (byte or 1)]) + data[position + 1:]
    return data[:position]
