"""The outbox relay on its own: replicas share the work without doubling it, leases expire, failures are recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.adapters.duckdb_logs import DuckDBLogSearch
from bot.adapters.recording import RecordingChat, UnconfiguredPager
from bot.app import build_playbook
from bot.clock import wall_clock as utcnow
from bot.errors import PermanentDeliveryError
from bot.incidents.commands import IncidentCommands
from bot.incidents.models import OutboxMessage, TimelineEntry
from bot.incidents.playbook import Playbook
from bot.incidents.ports import Message
from bot.outbox import Relay
from bot.queries.catalog import QueryCatalog
from bot.settings import Settings
from bot.store import Database, upgrade
from tests.support.alarms import CRITICAL_TOPIC, metric_alarm


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    yield db
    await db.dispose()


def relay(db: Database, playbook: Playbook, chat: RecordingChat, tmp_path: Path) -> Relay:
    """A relay in record-only mode on `db`."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return Relay(db, playbook=playbook, chat=chat, pager=UnconfiguredPager(),
                 logs=DuckDBLogSearch(str(tmp_path / "none" / "*.jsonl")),
                 queries=QueryCatalog.load(settings.queries_dir), record_only=True)


async def open_incident(db: Database, playbook: Playbook) -> int:
    """Receive one CRITICAL alarm; returns the incident id."""
    receipt = await IncidentCommands(db, playbook=playbook).receive_alarm(
        message_id="m-1", topic_arn=CRITICAL_TOPIC, message=json.dumps(metric_alarm()))
    assert receipt.incident_id is not None
    return receipt.incident_id


async def test_two_relays_do_each_step_once(store: Database, tmp_path: Path) -> None:
    """Two replicas' relays racing over one outbox perform every step exactly once."""
    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    await open_incident(store, playbook)
    chat = RecordingChat()
    second_db = Database(store.url)
    try:
        first, second = relay(store, playbook, chat, tmp_path), relay(second_db, playbook, chat, tmp_path)
        for _ in range(40):
            done = await asyncio.gather(first.run_once(), second.run_once())
            if not any(done):
                break
    finally:
        await second_db.dispose()
    keys = [post.key for post in chat.posts]
    assert len(keys) == len(set(keys)) > 3
    statuses = await store.run(lambda session: session.execute(
        select(OutboxMessage.status).where(OutboxMessage.lane != "reminder")).scalars().all())
    assert set(statuses) == {"done"}


async def test_expired_lease_is_taken_over(store: Database, tmp_path: Path) -> None:
    """A step claimed by a relay that died is performed by another once its lease runs out."""
    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    await open_incident(store, playbook)
    await store.run(lambda session: session.execute(
        update(OutboxMessage).values(locked_until=utcnow() + timedelta(minutes=5))))
    chat = RecordingChat()
    worker = relay(store, playbook, chat, tmp_path)
    assert await worker.run_once() == 0  # everything is leased to the dead relay
    await store.run(lambda session: session.execute(
        update(OutboxMessage).values(locked_until=utcnow() - timedelta(seconds=1))))
    await worker.drain()
    assert chat.posts


class RefusingChat(RecordingChat):
    """Slack refuses every post (archived channel, bad token...)."""

    async def post(self, channel: str, message: Message, *, key: str) -> str:
        raise PermanentDeliveryError("slack chat.postMessage: is_archived")


async def test_permanent_failure_is_recorded_and_the_lane_moves_on(store: Database, tmp_path: Path) -> None:
    """A post Slack refuses for good is recorded on the timeline; later steps still run."""
    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    incident_id = await open_incident(store, playbook)
    chat = RefusingChat()
    await relay(store, playbook, chat, tmp_path).drain()
    errors = await store.run(lambda session: session.execute(select(TimelineEntry.summary).where(
        TimelineEntry.incident_id == incident_id, TimelineEntry.kind == "error")).scalars().all())
    topic_done = await store.run(lambda session: session.execute(select(OutboxMessage.status).where(
        OutboxMessage.kind == "set_topic")).scalar_one())
    assert errors and all("is_archived" in e for e in errors)
    assert topic_done == "done"
