"""Alarm intake: one authenticated SNS notification becomes at most one incident change, exactly once.

The SNS MessageId is stored in the same transaction as the incident change, so a redelivery is a no-op; a race
between twins on two replicas (or between two alarms of one ARN) ends in an IntegrityError and the loser simply
re-runs, then sees the winner's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.alarms.models import AlarmEvent, alarm_body, alarm_from_body
from bot.incidents import service
from bot.incidents.models import Delivery, utcnow
from bot.incidents.playbook import Playbook
from bot.store import Database

_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Receipt:
    """What intake did with one delivery."""

    outcome: str  # duplicate | not_an_alarm | opened | reopened | repeated | resolved | noted | stale | ignored
    alarm_name: str | None = None
    incident_id: int | None = None


async def receive_notification(
    *, db: Database, playbook: Playbook, message_id: str, topic_arn: str, message: str
) -> Receipt:
    """Record the delivery and apply its alarm; raises BadInput for an alarm body with malformed fields."""
    body = alarm_body(message)
    event = alarm_from_body(body) if body is not None else None

    def work(session: Session) -> Receipt:
        return record(session, playbook=playbook, message_id=message_id, topic_arn=topic_arn, body=body, event=event)

    for attempt in range(_ATTEMPTS):
        try:
            return await db.run(work)
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def record(
    session: Session, *, playbook: Playbook, message_id: str, topic_arn: str, body: dict[str, Any] | None,
    event: AlarmEvent | None,
) -> Receipt:
    """The unit of work of one delivery: dedup by MessageId, then apply the alarm (one transaction)."""
    if session.get(Delivery, message_id) is not None:
        return Receipt("duplicate")
    receipt = Receipt("not_an_alarm")
    if event is not None and body is not None:
        outcome = service.apply_alarm(session=session, playbook=playbook, event=event, body=body)
        receipt = Receipt(outcome.action, event.alarm_name, outcome.incident.id if outcome.incident else None)
    # Written last, once its outcome is known; its primary key still makes a racing twin's commit fail.
    session.add(Delivery(
        message_id=message_id, topic_arn=topic_arn, type="Notification", received_at=utcnow(),
        outcome=receipt.outcome, alarm_name=receipt.alarm_name, incident_id=receipt.incident_id,
    ))
    return receipt
