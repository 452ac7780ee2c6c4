"""What an executor gets and gives back: the running step (`StepRun`), its result (`Done`), and `Route`, one row
of the kind → executor table (a payload type with the function that performs it, checked together by mypy)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bot.incidents.models import Incident, OutboxMessage
from bot.incidents.steps import Payload

P = TypeVar("P", bound=Payload)


@dataclass(slots=True)
class Done:
    """A finished step: what goes on the timeline, and changes to the incident row."""

    kind: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    incident_changes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StepRun:
    """One attempt at one step: its row (id, attempts, saved state), the incident as claimed, and how to save
    progress before a vendor call so a retry knows what may already have happened."""

    row: OutboxMessage
    incident: Incident
    save_state: Callable[..., Awaitable[None]]

    @property
    def id(self) -> int:
        """The outbox row id (idempotency keys derive from it)."""
        return self.row.id

    @property
    def retried(self) -> bool:
        """The step may have run before: an attempt was recorded, or an earlier claim never recorded its outcome
        (a crash, a lost lease); either may have reached the vendor without us seeing the answer."""
        return self.row.attempts > 0 or self.row.claims > 1

    @property
    def state(self) -> dict[str, Any]:
        """Progress saved by earlier attempts."""
        return self.row.state


@dataclass(frozen=True, slots=True)
class Route(Generic[P]):
    """Performs steps whose payload is of type `payload`."""

    payload: type[P]
    perform: Callable[[P, StepRun], Awaitable[Done]]


def route(payload: type[P], perform: Callable[[P, StepRun], Awaitable[Done]]) -> Route[P]:
    """One table row; mypy checks that `perform` takes `payload`."""
    return Route(payload, perform)
