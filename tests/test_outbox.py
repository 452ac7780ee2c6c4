"""The outbox relay on its own: replicas share the work without doubling it, leases expire, failures are recorded."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.adapters.duckdb_logs import DuckDBLogSearch
from bot.adapters.recording import RecordingChat, UnconfiguredPager
from bot.app import build_playbook
from bot.clock import Clock, wall_clock
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.incidents import repository
from bot.incidents.commands import IncidentCommands
from bot.incidents.models import OutboxMessage, TimelineEntry
from bot.incidents.playbook import Playbook
from bot.incidents.ports import Channel, Message
from bot.incidents.steps import StepStatus
from bot.outbox import Relay
from bot.queries.catalog import QueryCatalog
from bot.settings import Settings
from bot.store import Database, upgrade
from tests.support.alarms import CRITICAL_TOPIC, metric_alarm
from tests.support.clock import FakeClock


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    yield db
    await db.dispose()


def relay(db: Database, playbook: Playbook, chat: RecordingChat, tmp_path: Path, clock: Clock = wall_clock) -> Relay:
    """A relay in record-only mode on `db`."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return Relay(db, playbook=playbook, chat=chat, pager=UnconfiguredPager(),
                 logs=DuckDBLogSearch(str(tmp_path / "none" / "*.jsonl")),
                 queries=QueryCatalog.load(settings.queries_dir), record_only=True, clock=clock)


async def open_incident(db: Database, playbook: Playbook, clock: Clock = wall_clock) -> int:
    """Receive one CRITICAL alarm; returns the incident id."""
    receipt = await IncidentCommands(db, playbook=playbook, clock=clock).receive_alarm(
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
        update(OutboxMessage).values(locked_until=wall_clock() + timedelta(minutes=5))))
    chat = RecordingChat()
    worker = relay(store, playbook, chat, tmp_path)
    assert await worker.run_once() == 0  # everything is leased to the dead relay
    await store.run(lambda session: session.execute(
        update(OutboxMessage).values(locked_until=wall_clock() - timedelta(seconds=1))))
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


class HangingChat(RecordingChat):
    """Slack that never answers (a slow Slack, a long Retry-After)."""

    def __init__(self) -> None:
        super().__init__()
        self.released = asyncio.Event()

    async def create_channel(self, name: str) -> Channel:
        await self.released.wait()
        return await super().create_channel(name)


async def test_page_does_not_wait_for_a_hanging_chat_step(store: Database, tmp_path: Path) -> None:
    """With the chat lane stuck on Slack, the running relay still sends the page (its own lane and worker)."""
    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    chat = HangingChat()
    worker = relay(store, playbook, chat, tmp_path)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await open_incident(store, playbook)
        worker.wake()
        for _ in range(200):
            page = await store.run(lambda session: session.execute(select(OutboxMessage.status).where(
                OutboxMessage.kind == "page")).scalar_one())
            if page == StepStatus.DONE:
                break
            await asyncio.sleep(0.02)
        assert page == StepStatus.DONE
        channel = await store.run(lambda session: session.execute(select(OutboxMessage.status).where(
            OutboxMessage.kind == "create_channel")).scalar_one())
        assert channel == StepStatus.PENDING  # still hanging
    finally:
        chat.released.set()
        stop.set()
        await running


class FlakyChat(RecordingChat):
    """Slack answers the first post with a 429 (Retry-After 30 s), then accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False

    async def post(self, channel: str, message: Message, *, key: str) -> str:
        if not self.refused:
            self.refused = True
            raise TransientDeliveryError("slack chat.postMessage: rate limited", retry_after=30)
        return await super().post(channel, message, key=key)


async def test_retry_after_is_honoured_on_the_clock(store: Database, tmp_path: Path) -> None:
    """A rate-limited post waits its Retry-After on the relay's clock, then goes out; no sleeping."""
    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    clock = FakeClock()
    chat = FlakyChat()
    worker = relay(store, playbook, chat, tmp_path, clock=clock)
    await open_incident(store, playbook, clock=clock)
    await worker.drain()
    assert chat.refused and not any("announced" in p.message.text for p in chat.posts)
    posts_before = len(chat.posts)
    clock.advance(29)
    await worker.drain()
    assert len(chat.posts) == posts_before  # still waiting: the chat lane of this incident is held in order
    clock.advance(10)
    await worker.drain()
    assert len(chat.posts) > posts_before


def _claim_everything(db: Database, owner: str, *, until_seconds: float) -> Callable[[Session], list[int]]:
    """A unit of work that claims every pending step for `owner` as a relay would (claim counted), no outcome."""
    def claim(session: Session) -> list[int]:
        now = wall_clock()
        ids = list(session.execute(select(OutboxMessage.id).where(OutboxMessage.status == "pending")).scalars())
        for step_id in ids:
            repository.claim_step(session, step_id, now=now, until=now + timedelta(seconds=until_seconds),
                                  owner=owner)
        return ids

    return claim


async def test_a_claim_that_never_recorded_its_outcome_makes_the_next_run_look_first(
        store: Database, tmp_path: Path) -> None:
    """A replica claimed the steps, posted the announcement and died before recording anything: the step is
    run again (its lease expired) and finds the post by its key instead of posting twice."""
    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    await open_incident(store, playbook)
    await store.run(_claim_everything(store, "gone-host#1", until_seconds=-1))  # claimed, lease already over
    chat = RecordingChat()
    first_post = await store.run(lambda session: session.execute(
        select(OutboxMessage).where(OutboxMessage.kind.in_(["post", "post_alert", "post_living"]))
        .order_by(OutboxMessage.id).limit(1)).scalar_one())
    # What the dead replica got through to Slack before it died.
    await chat.post(playbook.policy.alerts_channel, Message(text="sent before the crash"),
                    key=f"incident-bot:{first_post.id}")

    await relay(store, playbook, chat, tmp_path).drain()

    keys = [post.key for post in chat.posts]
    assert keys.count(f"incident-bot:{first_post.id}") == 1
    assert len(keys) == len(set(keys)) > 2
    claims = await store.run(lambda session: session.get(OutboxMessage, first_post.id).claims)
    assert claims == 2


async def test_a_restarted_replica_takes_back_its_own_leases_at_once(store: Database, tmp_path: Path) -> None:
    """Steps leased by a dead process of this replica run at once after a restart, not when the lease ends;
    a live process's lease (same host) and another replica's are left alone."""
    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    await open_incident(store, playbook)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ids = await store.run(_claim_everything(store, f"host-a#{dead.pid}", until_seconds=60))
    live_step, other_step = ids[-1], ids[-2]
    await store.run(lambda session: session.execute(update(OutboxMessage).where(OutboxMessage.id == live_step)
                                                    .values(claimed_by=f"host-a#{os.getppid()}")))
    await store.run(lambda session: session.execute(update(OutboxMessage).where(OutboxMessage.id == other_step)
                                                    .values(claimed_by=f"host-b#{dead.pid}")))
    chat = RecordingChat()
    worker = Relay(store, playbook=playbook, chat=chat, pager=UnconfiguredPager(),
                   logs=DuckDBLogSearch(str(tmp_path / "none" / "*.jsonl")),
                   queries=QueryCatalog.load(Settings(_env_file=None).queries_dir),  # type: ignore[call-arg]
                   record_only=True, replica="host-a")

    assert await worker.reclaim() == len(ids) - 2
    await worker.drain()

    statuses = await store.run(lambda session: {row.id: row.status for row in session.execute(
        select(OutboxMessage.id, OutboxMessage.status))})
    assert statuses[live_step] == statuses[other_step] == "pending"  # still leased to someone alive / elsewhere
    assert chat.posts


async def test_outcomes_written_together_do_not_sink_each_other(store: Database, tmp_path: Path) -> None:
    """Outcomes that finish together share a commit; one that cannot be written fails alone."""
    from bot.outbox.relay import GroupCommit

    playbook = build_playbook(Settings(_env_file=None))  # type: ignore[call-arg]
    incident_id = await open_incident(store, playbook)
    outcomes = GroupCommit(store)

    def note(text: str) -> Callable[[Session], bool]:
        def write(session: Session) -> bool:
            session.add(TimelineEntry(incident_id=incident_id, at=wall_clock(), kind="action", summary=text))
            session.flush()
            return text == "b"

        return write

    def broken(session: Session) -> bool:
        raise RuntimeError("cannot write this one")

    results = await asyncio.gather(outcomes.record(note("a")), outcomes.record(broken), outcomes.record(note("b")),
                                   return_exceptions=True)

    assert results[0] is False and results[2] is True and isinstance(results[1], RuntimeError)
    summaries = await store.run(lambda session: session.execute(select(TimelineEntry.summary).where(
        TimelineEntry.incident_id == incident_id, TimelineEntry.kind == "action")).scalars().all())
    assert sorted(s for s in summaries if s in {"a", "b"}) == ["a", "b"]
