"""JSON from outside, read as RFC 8259 says and bounded, so nothing hostile gets past the boundary.

`pydantic_core.from_json` (jiter) already refuses what Python's `json` lets through: `NaN`/`Infinity`, lone
UTF-16 surrogates (which cannot be encoded again, e.g. into the string SNS signs), invalid UTF-8, and nesting
deeper than 200 (where `json.loads` raises RecursionError instead of ValueError). `loads` adds what jiter keeps:
numbers that overflow to infinity (`1e309`), integers beyond 64 bits, and a tighter depth when asked.
Every refusal is a `BadInput` with a one-line reason.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic_core import from_json

from bot.errors import BadInput

MAX_INT = 2**63 - 1  # what every database column and JSON peer of ours can hold
JSON_DEPTH_LIMIT = 200  # jiter's own recursion limit


def loads(data: bytes | str, *, what: str = "body", max_depth: int = JSON_DEPTH_LIMIT, nul: bool = True) -> Any:
    """Decode `data`; raises BadInput naming `what` for invalid JSON, non-finite or 64-bit-overflowing numbers,
    nesting deeper than `max_depth`, or (with `nul=False`) a NUL character in any string."""
    try:
        value = from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        raise BadInput(f"{what} is not valid JSON: {_one_line(str(exc))}") from None
    problem = _problem(value, max_depth=max_depth, nul=nul)
    if problem:
        raise BadInput(f"{what} {problem}")
    return value


def _problem(value: Any, *, max_depth: int, nul: bool) -> str | None:
    """The first thing wrong in a decoded value, walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                return f"is nested deeper than {max_depth} levels"
            for key, child in item.items():
                if not nul and "\x00" in key:
                    return "contains a NUL character"
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                return f"is nested deeper than {max_depth} levels"
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "holds a number too large to represent"
        elif isinstance(item, int):
            if not -MAX_INT - 1 <= item <= MAX_INT:
                return "holds an integer beyond 64 bits"
        elif isinstance(item, str) and not nul and "\x00" in item:
            return "contains a NUL character"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
