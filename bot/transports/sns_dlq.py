"""The SNS dead-letter queue as a second way in: what SNS gave up delivering reaches intake after all.

`incident-bot serve` drains the queue (`SNS_DLQ_URL`) at start and every minute. Each message is the SNS
envelope SNS would have POSTed, and goes through exactly the same handler as `POST /sns` (envelope checks,
topic allowlist, signature, intake with the MessageId as idempotency key), so a message both redelivered by SNS
and dead-lettered still counts once. A message is deleted once the handler answered (2xx, or 4xx: poison stays
poison); on a 5xx (the store is down) it stays in the queue and the round stops until the next minute. Only one
replica drains at a time: the round runs under a database lock, and replicas that do not get it skip the round.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass

import structlog

from bot.sns.dead_letters import DeadLetter, DeadLetterQueue
from bot.transports.sns import Answer

log = structlog.get_logger("incident_bot.sns_dlq")

DRAIN_INTERVAL = 60.0
ROUND_LIMIT = 1000  # messages per round; the rest waits a minute (undeleted ones are invisible meanwhile)


@dataclass(slots=True)
class Round:
    """What one drain round did."""

    held_lock: bool = False
    handled: int = 0
    refused: int = 0
    kept: int = 0


@dataclass(slots=True)
class DeadLetterDrain:
    """Feeds dead letters through the SNS handler; `run` until stopped, or `drain` once."""

    queue: DeadLetterQueue
    handle: Callable[[bytes], Awaitable[Answer]]
    lock: Callable[[], AbstractAsyncContextManager[bool]]
    interval: float = DRAIN_INTERVAL

    async def run(self, stop: asyncio.Event) -> None:
        """Drain now, then every `interval` seconds until `stop` is set; a failing round is logged and retried."""
        while not stop.is_set():
            try:
                await self.drain()
            except Exception as exc:  # the queue or its credentials: next minute may be better
                log.warning("sns_dlq_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    async def drain(self) -> Round:
        """One round under the lock: handle every message there is (up to ROUND_LIMIT)."""
        result = Round()
        async with self.lock() as held:
            result.held_lock = held
            if not held:
                return result
            async for letter in self._letters():
                answer = await self.handle(letter.body)
                if answer.status >= 500:
                    result.kept += 1
                    log.warning("sns_dead_letter_kept", sqs_message_id=letter.message_id, status=answer.status)
                    break
                await self.queue.delete(letter)
                if answer.status >= 400:
                    result.refused += 1
                    log.warning("sns_dead_letter_refused", sqs_message_id=letter.message_id, status=answer.status,
                                reason=str(answer.body.get("error", ""))[:200])
                else:
                    result.handled += 1
                    log.info("sns_dead_letter_handled", sqs_message_id=letter.message_id,
                             outcome=answer.body.get("outcome"))
        return result

    async def _letters(self) -> AsyncIterator[DeadLetter]:
        seen = 0
        while seen < ROUND_LIMIT:
            batch = await self.queue.receive(10)
            if not batch:
                return
            for letter in batch:
                seen += 1
                yield letter
