"""The relay machinery: claim due steps with a lease, perform them, record each outcome as soon as it is known.

One worker per lane (`Lane`): the pager lane never waits for a chat step sleeping in `Retry-After` or hanging on
a slow Slack. A worker keeps up to `batch` steps in flight and claims more as each finishes. Leases are short
(`LEASE`) and extended every `LEASE / 3` while a step runs, so a dead replica's steps are taken over within
seconds while a slow call on a live one is not done twice. Each claim is counted and names its holder
(`<replica id>#<pid>`): a step claimed before whose outcome was never recorded is a retry (`StepRun.retried`),
so its executor looks for what an earlier attempt may have done before acting; a replica that restarts takes
back, at once, the leases its dead predecessors on this host left behind. A vendor call never happens inside a
database transaction (SQLite would hold its write lock for the whole call): read, call, then record.
Transient failures back off exponentially (or as long as `Retry-After` says); permanent ones are recorded on the
timeline and the lane moves on. What each step does is in `bot/outbox/table.py`; this module knows no step kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.clock import Clock, wall_clock
from bot.errors import BadInput, PermanentDeliveryError, QueryError, TransientDeliveryError
from bot.health.ports import MetricSource
from bot.incidents import repository
from bot.incidents.models import Incident, OutboxMessage, TimelineEntry
from bot.incidents.playbook import Playbook
from bot.incidents.ports import ChatOps, Directory, LogSearch, MetricGraphs, Pager
from bot.incidents.steps import Lane, StepKind, StepStatus
from bot.outbox.execution import Done, Route, StepRun
from bot.outbox.table import executor_table
from bot.queries.catalog import QueryCatalog
from bot.store import Database

log = structlog.get_logger("incident_bot.outbox")

MAX_BACKOFF = 300.0
MAX_UNEXPECTED_ATTEMPTS = 8
LEASE = timedelta(seconds=15)
STOP_GRACE = 5.0
WOKEN_LANES = (Lane.CHAT, Lane.PAGER)
# A lane that has just emptied what was due claims again at most this often: under a stream of alarms the wakes
# of a few deliveries share one claim query; a page waits at most this much longer.
MIN_CLAIM_GAP = 0.02
# The tables themselves: plain Core statements skip the ORM's per-statement bookkeeping.
_OUTBOX = cast(Table, OutboxMessage.__table__)
_TIMELINE = cast(Table, TimelineEntry.__table__)
_INCIDENTS = cast(Table, Incident.__table__)
# Writes a step's outcome; returns True when its lane of that incident has a next step to run now.
Recorder = Callable[[Session], bool]


class Relay:
    """Delivers outbox rows; `run` keeps one worker per lane until stopped, `drain` empties what is due (tests,
    demo, CLI), `wake` says new rows were committed."""

    def __init__(
        self,
        db: Database,
        *,
        playbook: Playbook,
        chat: ChatOps,
        pager: Pager,
        logs: LogSearch,
        queries: QueryCatalog,
        record_only: bool = False,
        clock: Clock = wall_clock,
        batch: int = 16,
        poll_interval: float = 0.5,
        on_step: Callable[[OutboxMessage, str], None] | None = None,
        directory: Directory | None = None,
        graphs: MetricGraphs | None = None,
        metrics: MetricSource | None = None,
        replica: str = "",
    ) -> None:
        self.db, self.clock = db, clock
        # Stable across restarts (REPLICA_ID, else the host name); the pid tells incarnations apart.
        self.replica = replica or socket.gethostname()
        self.owner = f"{self.replica}#{os.getpid()}"
        self.batch, self.poll_interval = batch, poll_interval
        self.on_step = on_step
        self.table: dict[StepKind, Route[Any]] = executor_table(
            db, playbook=playbook, chat=chat, pager=pager, logs=logs, queries=queries, clock=clock,
            record_only=record_only, directory=directory, graphs=graphs, metrics=metrics,
        )
        self._wake = {lane: asyncio.Event() for lane in Lane}
        self._outcomes = GroupCommit(db)

    def wake(self) -> None:
        """New rows were committed: the chat and pager lanes look now instead of at their next poll. Reminders
        are planned minutes ahead, so their lane keeps to its poll (one claim query less per change)."""
        for lane in WOKEN_LANES:
            self._wake[lane].set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, one worker per lane; each survives any single failure."""
        try:
            await self.reclaim()
        except Exception as exc:  # the leases then simply expire
            log.error("outbox_reclaim_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.gather(*(self._lane_worker(lane, stop) for lane in Lane))

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Run due steps until none is left or `timeout` passes (steps scheduled for later are not waited for)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if not await self.run_once():
                return
        raise TimeoutError("outbox not drained in time")

    async def run_once(self, lane: Lane | None = None) -> int:
        """Claim one batch of due steps (of every lane, or of `lane`) and perform them side by side, each
        recorded as it finishes; returns how many ran."""
        claimed = await self._claim(lane, self.batch)
        await asyncio.gather(*(self._step(row, incident) for row, incident in claimed))
        return len(claimed)

    async def reclaim(self) -> int:
        """Free the leases that earlier incarnations of this replica left behind (the same owner, or a process of
        this replica that is no longer alive), so their steps run now rather than when the lease expires."""
        def release(session: Session) -> int:
            holders = repository.lease_holders(session, prefix=f"{self.replica}#", now=self.clock())
            gone = [owner for owner in holders if owner == self.owner or not _alive(owner)]
            return repository.release_leases(session, gone)

        freed = await self.db.run(release)
        if freed:
            log.info("outbox_reclaimed", steps=freed, replica=self.replica)
        return freed

    async def _lane_worker(self, lane: Lane, stop: asyncio.Event) -> None:
        in_flight: dict[int, asyncio.Task[None]] = {}
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time() + LEASE.total_seconds() / 3
        wake = self._wake[lane]
        last_claim = loop.time()
        while not stop.is_set():
            try:
                if loop.time() >= next_heartbeat:
                    next_heartbeat = loop.time() + LEASE.total_seconds() / 3
                    await self.db.run(functools.partial(repository.extend_leases, step_ids=list(in_flight),
                                                        until=self.clock() + LEASE, owner=self.owner))
                free = self.batch - len(in_flight)
                last_claim = loop.time()
                claimed = await self._claim(lane, free) if free > 0 else []
            except Exception as exc:  # the relay must outlive a database hiccup
                log.error("outbox_poll_failed", lane=lane, error=f"{type(exc).__name__}: {exc}")
                claimed = []
            for row, incident in claimed:
                task = asyncio.create_task(self._step(row, incident))
                in_flight[row.id] = task
                task.add_done_callback(functools.partial(_forget, in_flight, row.id))
            if claimed and len(claimed) == free:
                continue  # there may be more due right now
            wake.clear()
            signals = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
            # A finished step wakes the lane itself when it unblocked the next one; otherwise a completion only
            # matters when the batch is full (a free slot for what is already due).
            full = set(in_flight.values()) if len(in_flight) >= self.batch else set()
            await asyncio.wait({*signals, *full}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for signal in signals:
                signal.cancel()
            pause = last_claim + MIN_CLAIM_GAP - loop.time()
            if pause > 0 and not stop.is_set():
                await asyncio.sleep(pause)
        if in_flight:
            # Finish what is under way; a step cut off here keeps its lease, which expires within LEASE.
            _, late = await asyncio.wait(list(in_flight.values()), timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)

    async def _claim(self, lane: Lane | None, limit: int) -> list[tuple[OutboxMessage, Incident]]:
        def claim(session: Session) -> list[tuple[OutboxMessage, Incident]]:
            now = self.clock()
            due = repository.due_steps(session, now=now, limit=limit, lane=lane)
            got = set(repository.claim_steps(session, [s.id for s in due], now=now, until=now + LEASE,
                                             owner=self.owner))
            claimed = [s for s in due if s.id in got]
            for step in claimed:  # what the UPDATE wrote, without another read
                set_committed_value(step, "claims", (step.claims or 0) + 1)
                set_committed_value(step, "claimed_by", self.owner)
            # Loaded with the claim: one database hand-off and three statements per batch, not per step.
            incidents = repository.incidents_by_id(session, [s.incident_id for s in claimed if s.incident_id])
            return [(s, incidents[s.incident_id]) for s in claimed if s.incident_id in incidents]

        return await self.db.run(claim)

    async def _step(self, row: OutboxMessage, incident: Incident) -> None:
        """Perform one step and record its outcome at once (its own transaction, or shared with outcomes that
        finished at the same moment)."""
        record = await self._perform(row, incident)
        try:
            more = await self._outcomes.record(record)
        except Exception as exc:  # the lease runs out and the (idempotent) step runs again
            log.error("outbox_record_failed", step_id=row.id, error=f"{type(exc).__name__}: {exc}")
            return
        if more:
            self._wake[Lane(row.lane)].set()  # the next step of this incident's lane is due now

    async def _perform(self, row: OutboxMessage, incident: Incident) -> Recorder:
        """Perform one step; returns how to record its outcome (done, retry later, or given up)."""
        bound = log.bind(incident_id=incident.id, step=row.kind, step_id=row.id, attempt=row.attempts + 1)
        try:
            entry = self.table.get(StepKind(row.kind)) if row.kind in set(StepKind) else None
            if entry is None:
                raise PermanentDeliveryError(f"unknown step kind {row.kind!r}")
            payload = entry.payload.from_json(row.payload)
            done = await entry.perform(payload, StepRun(row, incident, lambda **state: self._save_state(row, state)))
        except TransientDeliveryError as exc:
            bound.warning("outbox_step_retry", error=str(exc), retry_after=exc.retry_after)
            return self._retry(row, str(exc), exc.retry_after)
        except (PermanentDeliveryError, BadInput, QueryError) as exc:
            bound.error("outbox_step_failed", error=str(exc))
            return self._give_up(row, incident, str(exc))
        except Exception as exc:  # a bug or an unmapped vendor error: retry a few times, then record it
            reason = f"{type(exc).__name__}: {exc}"
            bound.error("outbox_step_error", error=reason)
            if row.attempts + 1 >= MAX_UNEXPECTED_ATTEMPTS:
                return self._give_up(row, incident, reason)
            return self._retry(row, reason, None)
        bound.info("outbox_step_done", summary=done.summary)
        if self.on_step:
            self.on_step(row, done.summary)
        return self._finish(row, incident, done)

    def _finish(self, step: OutboxMessage, incident: Incident, done: Done) -> Recorder:
        def record(session: Session) -> bool:
            # Plain statements, no object loading: outcomes are the relay's most frequent writes.
            now = self.clock()
            session.execute(update(_OUTBOX).where(_OUTBOX.c.id == step.id).values(
                status=StepStatus.DONE, done_at=now, locked_until=None, attempts=_OUTBOX.c.attempts + 1))
            session.execute(insert(_TIMELINE).values(incident_id=incident.id, at=now, kind=done.kind,
                                                     summary=done.summary, data=done.data))
            if done.incident_changes:
                session.execute(update(_INCIDENTS).where(_INCIDENTS.c.id == incident.id)
                                .values(**done.incident_changes))
            return _has_next(session, step)

        return record

    def _retry(self, step: OutboxMessage, error: str, retry_after: float | None) -> Recorder:
        def record(session: Session) -> bool:
            row = session.get(OutboxMessage, step.id)
            if row is None:
                return False
            row.attempts += 1
            delay = retry_after if retry_after is not None else min(MAX_BACKOFF, 0.5 * 2 ** (row.attempts - 1))
            delay *= random.uniform(1.0, 1.2)  # jitter spreads the retries of several replicas
            row.run_after, row.locked_until = self.clock() + timedelta(seconds=delay), None
            row.last_error = error[:2000]
            return False  # the lane waits for this step

        return record

    def _give_up(self, step: OutboxMessage, incident: Incident, error: str) -> Recorder:
        def record(session: Session) -> bool:
            now = self.clock()
            row = session.get(OutboxMessage, step.id)
            if row is None:
                return False
            row.status, row.done_at, row.locked_until, row.last_error = StepStatus.FAILED, now, None, error[:2000]
            row.attempts += 1
            session.add(TimelineEntry(
                incident_id=incident.id, at=now, kind="error",
                summary=f"Gave up on {step.kind}: {error}"[:2000], data={"step": step.kind, "step_id": step.id},
            ))
            return _has_next(session, step)

        return record

    async def _save_state(self, step: OutboxMessage, state: dict[str, Any]) -> None:
        """Persist progress of a step before a vendor call, so a retry knows what may already have happened."""
        step.state = {**step.state, **state}

        def record(session: Session) -> None:
            row = session.get(OutboxMessage, step.id)
            if row is not None:
                row.state = step.state

        await self.db.run(record)


class GroupCommit:
    """Writes outcomes as soon as they are known; those that arrive while a write is under way go together in
    the next transaction (group commit), so a burst of quick steps costs a few commits, not one each."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[Recorder, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, recorder: Recorder) -> bool:
        """Write `recorder`'s changes; returns its answer once they are committed (raises if they could not be)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((recorder, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await asyncio.shield(done)

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                answers = await self.db.run(functools.partial(_apply_all, [recorder for recorder, _ in batch]))
            except Exception:  # one bad outcome must not sink the others: write them one by one
                for recorder, done in batch:
                    try:
                        answer = await self.db.run(recorder)
                    except Exception as exc:
                        _settle(done, exc)
                    else:
                        _settle(done, answer)
            else:
                for (_, done), answer in zip(batch, answers, strict=True):
                    _settle(done, answer)


def _apply_all(recorders: list[Recorder], session: Session) -> list[bool]:
    return [recorder(session) for recorder in recorders]


def _settle(done: asyncio.Future[bool], outcome: bool | Exception) -> None:
    if done.done():
        return
    if isinstance(outcome, Exception):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


def _has_next(session: Session, step: OutboxMessage) -> bool:
    """Whether the incident's lane has another pending step (now unblocked by this one's outcome)."""
    found = session.execute(select(_OUTBOX.c.id).where(
        _OUTBOX.c.incident_id == step.incident_id, _OUTBOX.c.lane == step.lane,
        _OUTBOX.c.status == StepStatus.PENDING, _OUTBOX.c.id != step.id).limit(1)).first()
    return found is not None


def _alive(owner: str) -> bool:
    """Whether the process `<replica>#<pid>` still runs on this machine (a pid we cannot check counts as alive)."""
    try:
        pid = int(owner.rsplit("#", 1)[1])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return False  # that was an earlier incarnation with our pid (pid 1 in a container): it is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _forget(in_flight: dict[int, asyncio.Task[None]], step_id: int, _: asyncio.Task[None]) -> None:
    in_flight.pop(step_id, None)
