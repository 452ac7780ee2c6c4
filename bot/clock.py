"""The clock the domain and the relay read: passed in, never called as a global, so tests advance time.

`Clock` is any zero-argument callable returning an aware UTC datetime; `wall_clock` is the production one.
Tests use `tests/support/clock.py`'s `FakeClock` (call it for now, `advance(...)` to move it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    """Now, in UTC, aware."""
    return datetime.now(UTC)
