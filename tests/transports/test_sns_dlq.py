"""The dead-letter drain's rules with a recording queue: delete after 2xx/4xx, keep on 5xx, skip without the lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.sns.dead_letters import DeadLetter
from bot.transports.sns import Answer
from bot.transports.sns_dlq import DeadLetterDrain


@dataclass
class RecordingQueue:
    """A queue port fake: hands out its letters in batches, remembers deletions."""

    letters: list[DeadLetter]
    deleted: list[str] = field(default_factory=list)

    async def receive(self, limit: int = 10) -> list[DeadLetter]:
        """The next letters not deleted yet (a received letter stays invisible until the next round)."""
        batch, self.letters = self.letters[:limit], self.letters[limit:]
        return batch

    async def delete(self, letter: DeadLetter) -> None:
        """Remember the deletion."""
        self.deleted.append(letter.message_id)


def _letters(*statuses: int) -> list[DeadLetter]:
    return [DeadLetter(body=str(status).encode(), receipt=f"r{i}", message_id=f"m{i}")
            for i, status in enumerate(statuses)]


async def _answer(body: bytes) -> Answer:
    status = int(body)
    return Answer(status, {"outcome": "opened"} if status < 400 else {"error": "x"})


@asynccontextmanager
async def _held(value: bool) -> AsyncIterator[bool]:
    yield value


async def test_handled_and_poison_letters_are_deleted_and_an_outage_keeps_the_rest() -> None:
    """200 and 400 are deleted; a 503 (store down) keeps that letter and ends the round."""
    queue = RecordingQueue(_letters(200, 400, 503, 200))
    result = await DeadLetterDrain(queue=queue, handle=_answer, lock=lambda: _held(True)).drain()
    assert queue.deleted == ["m0", "m1"]
    assert (result.handled, result.refused, result.kept) == (1, 1, 1)


async def test_a_replica_without_the_lock_skips_the_round() -> None:
    """Only the holder of the database lock drains; the others do not even receive."""
    queue = RecordingQueue(_letters(200))
    result = await DeadLetterDrain(queue=queue, handle=_answer, lock=lambda: _held(False)).drain()
    assert not result.held_lock and queue.deleted == [] and len(queue.letters) == 1


async def test_run_drains_at_start_and_survives_an_unreachable_queue() -> None:
    """`run` drains at once; a queue that raises is logged and tried again next interval."""
    class Flaky(RecordingQueue):
        calls = 0

        async def receive(self, limit: int = 10) -> list[DeadLetter]:
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("queue down")
            return await super().receive(limit)

    queue = Flaky(_letters(200))
    stop = asyncio.Event()
    task = asyncio.create_task(DeadLetterDrain(queue=queue, handle=_answer, lock=lambda: _held(True),
                                               interval=0.05).run(stop))
    for _ in range(100):
        if queue.deleted:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert queue.deleted == ["m0"]
