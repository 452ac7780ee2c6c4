"""Watch the pipeline's health verdict and say in the alerts channel, in one line, when its colour changes.

Every replica may run the watch: the colour last announced is kept in the database (`health_state`) and moved
with a compare-and-set, so one change is announced once however many replicas see it. The first verdict ever seen
is only remembered (there is no change to announce yet).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import MetricsUnavailable, PermanentDeliveryError, TransientDeliveryError
from bot.health.ports import MetricSource
from bot.health.verdict import Colour, Health, assess
from bot.incidents.models import HealthState
from bot.incidents.ports import ChatOps, Message
from bot.presentation import mrkdwn as md
from bot.presentation.blocks import section
from bot.store import Database

log = structlog.get_logger("incident_bot.health")

KEY = "pipeline"
_ICONS = {Colour.GREEN: ":large_green_circle:", Colour.YELLOW: ":large_yellow_circle:", Colour.RED: ":red_circle:"}


def change_note(before: str, health: Health) -> Message:
    """`:red_circle: Pipeline health went YELLOW → RED (as of 12:00 UTC): <the first non-green signal>.`"""
    reason = health.summary.split(": ", 1)[-1] if ": " in health.summary else health.summary
    text = (f"{_ICONS.get(health.status, '')} Pipeline health went {before.upper()} → "
            f"{str(health.status).upper()} (as of {health.at:%H:%M} UTC): {md.entities(reason)}. "
            "Details: `/pipeline-health`.")
    return Message(text=text, blocks=[section(text)])


class HealthWatch:
    """`check()` once; `run(stop)` every `interval` until stopped."""

    def __init__(self, db: Database, *, source: MetricSource, chat: ChatOps, channel: str, clock: Clock,
                 interval: timedelta) -> None:
        self.db, self.source, self.chat, self.channel = db, source, chat, channel
        self.clock, self.interval = clock, interval
        self._unavailable = False  # said once, not every minute

    async def check(self) -> str | None:
        """Judge the pipeline now; when the colour changed since the last announcement (and this replica won the
        change), post the one-line note and return it."""
        try:
            health = await assess(self.source, now=self.clock)
        except MetricsUnavailable as exc:
            if not self._unavailable:
                log.warning("health_watch_unavailable", error=str(exc)[:200])
            self._unavailable = True
            return None
        self._unavailable = False
        colour, now = str(health.status), self.clock()

        def swap(session: Session) -> str | None:
            state = session.get(HealthState, KEY)
            if state is None:
                session.add(HealthState(key=KEY, colour=colour, changed_at=now))
                return None
            if state.colour == colour:
                return None
            before = state.colour
            result = session.execute(update(HealthState).where(HealthState.key == KEY, HealthState.colour == before)
                                     .values(colour=colour, changed_at=now))
            return before if getattr(result, "rowcount", 0) == 1 else None

        before = await self.db.run(swap)
        if before is None:
            return None
        note = change_note(before, health)
        await self.chat.post(self.channel, note, key=f"incident-bot:health:{now.isoformat()}")
        log.info("health_colour_changed", before=before, after=colour)
        return note.text

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `interval` until `stop` is set; a failed check is logged and the watch goes on."""
        while not stop.is_set():
            try:
                await self.check()
            except (TransientDeliveryError, PermanentDeliveryError) as exc:
                log.warning("health_note_failed", error=str(exc)[:200])
            except Exception as exc:  # the watch must outlive a database or vendor hiccup
                log.error("health_watch_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval.total_seconds())
