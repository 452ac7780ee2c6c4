"""A clock tests move by hand, so timing behaviour (reminders, backoff, reopen window) runs without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Starts at the wall clock's now (or `start`) and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward by `delta` (seconds when a number)."""
        self.now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
