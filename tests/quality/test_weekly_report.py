"""The weekly post's schedule: once per ISO week across replicas, and a failed post is tried again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.adapters.recording import RecordingChat
from bot.incidents.ports import Message
from bot.store import Database, upgrade
from bot.weekly_report import WeeklyReporter, slot_of_week

WEDNESDAY = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # ISO week 2026-W49


class FlakyChat(RecordingChat):
    """Record-only chat whose first post fails, like a Slack outage."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def post(self, channel: str, message: Message, *, key: str) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("slack is down")
        return await super().post(channel, message, key=key)


def test_slot_of_week_is_in_the_same_iso_week() -> None:
    assert slot_of_week(WEDNESDAY, (0, 9, 0)) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert slot_of_week(WEDNESDAY, (4, 17, 30)) == datetime(2026, 12, 4, 17, 30, tzinfo=UTC)


async def test_replicas_post_once_and_a_failed_post_is_retried(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    db = Database(url)
    chat = FlakyChat()
    replicas = [WeeklyReporter(db, chat, channel="#alerts", slot=(0, 9, 0), now=lambda: WEDNESDAY, every=0.01,
                               replica=f"r{n}") for n in range(3)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in replicas]
    for _ in range(500):
        if chat.posts:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # every replica looks a few more times
    stop.set()
    await asyncio.gather(*tasks)
    await db.dispose()
    assert chat.failures == 0
    [post] = chat.posts
    assert post.key == "quality-report/2026-W49" and post.message.text.startswith("*Alert quality, last 7 days*")
