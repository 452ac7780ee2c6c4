"""Alarm intake: one authenticated SNS notification becomes at most one incident change, exactly once.

The SNS MessageId is stored in the same transaction as the incident change, so a redelivery is a no-op; a race
between twins (or between two alarms of one ARN) ends in an IntegrityError and the loser simply re-runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from bot.alarms.models import alarm_body, alarm_from_body
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
    for attempt in range(_ATTEMPTS):
        try:
            async with db.transaction() as session:
                if await session.get(Delivery, message_id) is not None:
                    return Receipt("duplicate")
                delivery = Delivery(
                    message_id=message_id, topic_arn=topic_arn, type="Notification", received_at=utcnow(),
                    outcome="not_an_alarm", alarm_name=event.alarm_name if event else None,
                )
                session.add(delivery)
                await session.flush()
                if event is None or body is None:
                    return Receipt("not_an_alarm")
                outcome = await service.apply_alarm(session=session, playbook=playbook, event=event, body=body)
                delivery.outcome = outcome.action
                delivery.incident_id = outcome.incident.id if outcome.incident else None
                return Receipt(outcome.action, event.alarm_name, delivery.incident_id)
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
