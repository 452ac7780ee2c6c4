"""The dead-letter queue of the bot's SNS subscription, as the drain sees it (a port; SQS implements it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message SNS gave up delivering: the envelope exactly as SNS would have POSTed it, and its receipt."""

    body: bytes
    receipt: str
    message_id: str


class DeadLetterQueue(Protocol):
    """Where dead letters come from. Both methods raise on an unreachable queue (the drain retries later)."""

    async def receive(self, limit: int = 10) -> list[DeadLetter]:
        """Up to `limit` messages, without waiting; an empty list when the queue is empty."""
        ...

    async def delete(self, letter: DeadLetter) -> None:
        """Remove a handled message."""
        ...
