"""The health watch: one line in the alerts channel when the verdict changes colour, once across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.slack_chat import SlackChat
from bot.health.ports import MetricQuery, Series
from bot.health.watch import HealthWatch
from bot.store import Database, upgrade
from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.support.clock import FakeClock

AT = datetime(2026, 11, 25, 10, 15, tzinfo=UTC)
HEALTHY = {"lag": 900.0, "dlq": 2.0, "ckpt_ok": 6.0, "ckpt_failed": 0.0, "p99": 150.0, "completeness": 99.5}


@dataclass
class SettableMetrics:
    """A `MetricSource` whose flat values a test sets (a port fake): the five signals, 15 minutes of them."""

    values: dict[str, float] = field(default_factory=lambda: dict(HEALTHY))

    async def fetch(self, queries: Sequence[MetricQuery], *, start: datetime, end: datetime) -> Mapping[str, Series]:
        """Each query's value once a minute over [start, end)."""
        minutes = int((end - start).total_seconds() // 60)
        return {q.id: [(start + timedelta(minutes=i), self.values[q.id]) for i in range(minutes)] for q in queries}

    async def latest(self) -> datetime | None:
        """A live store."""
        return None


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    yield db
    await db.dispose()


async def test_a_colour_change_is_announced_once_in_alerts(store: Database, fake_slack: FakeSlack) -> None:
    """The first verdict is only remembered; GREEN → RED posts one line naming the signal, and two replicas
    seeing the same change post it once; staying RED posts nothing more."""
    metrics = SettableMetrics()
    clock = FakeClock(AT)
    chat = SlackChat(SLACK_TOKEN, base_url=fake_slack.api_url)
    watches = [HealthWatch(store, source=metrics, chat=chat, channel="#alerts", clock=clock,
                           interval=timedelta(minutes=1)) for _ in range(2)]
    assert await watches[0].check() is None
    metrics.values["lag"] = 60_000.0
    clock.advance(60)
    notes = await asyncio.gather(*(w.check() for w in watches))
    [note] = [n for n in notes if n]
    assert "GREEN → RED" in note and "lag" in note
    assert await watches[1].check() is None
    messages = [m["text"] for m in fake_slack.messages("alerts")]
    assert messages == [note]
