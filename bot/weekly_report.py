"""The weekly alert-quality post to the alerts channel, at most once per ISO week across replicas.

Every replica runs a `WeeklyReporter`; once a minute it checks whether this week's slot (`QUALITY_REPORT_AT`,
UTC) has passed and the week is unclaimed. The claim is a row keyed by the ISO week (`weekly_report_claims`), so
only one replica wins it; the winner posts the last 7 days' report with a key derived from the week (a retried post
finds the first one). A post that fails releases the claim, and the next check tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock, wall_clock
from bot.incidents.models import WeeklyReportClaim
from bot.incidents.ports import ChatOps, Message
from bot.incidents.quality import claim_week, iso_week, quality_report, report_text
from bot.presentation.blocks import BLOCKS_MAX, sections
from bot.store import Database

log = structlog.get_logger("incident_bot.weekly_report")

REPORT_SPAN = timedelta(days=7)


def slot_of_week(moment: datetime, slot: tuple[int, int, int]) -> datetime:
    """The report time of the ISO week holding `moment`."""
    weekday, hour, minute = slot
    monday = (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday + timedelta(days=weekday, hours=hour, minutes=minute)


class WeeklyReporter:
    """Posts the report once per week; `tick` is one check (tests call it with their own clock)."""

    def __init__(self, db: Database, chat: ChatOps, *, channel: str, slot: tuple[int, int, int],
                 now: Clock = wall_clock, every: float = 60.0, replica: str | None = None) -> None:
        self.db, self.chat, self.channel, self.slot = db, chat, channel, slot
        self.now, self.every = now, every
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}"

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `every` seconds until `stop` is set (the first check one interval after start, so a short-lived
        process such as the demo posts nothing); a failed check is logged and retried."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
            if stop.is_set():
                return
            try:
                await self.tick()
            except Exception as exc:  # the schedule must outlive a database or Slack hiccup
                log.warning("weekly_report_failed", error=" ".join(f"{type(exc).__name__}: {exc}".split())[:300])

    async def tick(self) -> str | None:
        """Post this week's report if it is due and no replica has; returns the week posted, else None."""
        now = self.now()
        if now < slot_of_week(now, self.slot):
            return None
        week = iso_week(now)

        def claim(session: Session) -> str | None:
            if not claim_week(session, week=week, at=now, by=self.replica):
                return None
            return report_text(quality_report(session, since=now - REPORT_SPAN, until=now))

        try:
            text = await self.db.run(claim)
        except IntegrityError:  # another replica claimed the week between our look and our insert
            return None
        if text is None:
            return None
        key = f"quality-report/{week}"
        try:
            if await self.chat.find_post(self.channel, key=key) is None:
                blocks = sections(text)[:BLOCKS_MAX]
                await self.chat.post(self.channel, Message(text=text[:3000], blocks=blocks), key=key)
        except Exception:
            await self.db.run(lambda session: _release(session, week))
            raise
        log.info("weekly_report_posted", week=week, channel=self.channel)
        return week


def _release(session: Session, week: str) -> None:
    row = session.get(WeeklyReportClaim, week)
    if row is not None:
        session.delete(row)

