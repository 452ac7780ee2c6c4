"""How query results look to callers, the same for every engine: typed cell values and timestamp text.

Logs Insights returns every value as a string; callers want numbers as numbers. Extend `typed_value` if
another value shape needs a type.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_DECIMAL = re.compile(r"-?\d+\.\d+(?:[eE][+-]?\d+)?|-?\d+[eE][+-]?\d+")


def typed_value(text: str) -> str | int | float:
    """`"245"` → 245, `"12.5"` → 12.5; anything else (ids with leading zeros too) stays a string."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    return text


def format_timestamp(moment: datetime) -> str:
    """A timestamp as Logs Insights prints it: `2025-01-13 10:30:45.123` in UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
