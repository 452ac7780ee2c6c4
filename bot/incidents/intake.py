"""Alarm intake: one authenticated SNS notification becomes at most one incident change, exactly once.

The SNS MessageId is stored in the same transaction as the incident change, so a redelivery is a no-op; a race
between twins on two replicas (or between two alarms of one ARN) ends in an IntegrityError and the loser simply
re-runs, then sees the winner's row (`IncidentCommands.receive_alarm` does the re-run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from bot.alarms.models import AlarmEvent
from bot.incidents import service
from bot.incidents.models import Delivery
from bot.incidents.playbook import Playbook


class ReceiptOutcome(StrEnum):
    """What intake did with one delivery: a duplicate, not an alarm, or what the alarm did (`AlarmAction`)."""

    DUPLICATE = "duplicate"
    NOT_AN_ALARM = "not_an_alarm"
    OPENED = "opened"
    REOPENED = "reopened"
    REPEATED = "repeated"
    JOINED = "joined"
    CLEARED = "cleared"
    RESOLVED = "resolved"
    NOTED = "noted"
    STALE = "stale"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Receipt:
    """What intake did with one delivery."""

    outcome: ReceiptOutcome
    alarm_name: str | None = None
    incident_id: int | None = None


def record(
    session: Session, *, playbook: Playbook, message_id: str, topic_arn: str, body: dict[str, Any] | None,
    event: AlarmEvent | None, now: datetime,
) -> Receipt:
    """The unit of work of one delivery: dedup by MessageId, then apply the alarm (one transaction)."""
    if session.get(Delivery, message_id) is not None:
        return Receipt(ReceiptOutcome.DUPLICATE)
    receipt = Receipt(ReceiptOutcome.NOT_AN_ALARM)
    if event is not None and body is not None:
        outcome = service.apply_alarm(session=session, playbook=playbook, event=event, body=body, now=now)
        receipt = Receipt(ReceiptOutcome(outcome.action), event.alarm_name,
                          outcome.incident.id if outcome.incident else None)
    # Written last, once its outcome is known; its primary key still makes a racing twin's commit fail.
    session.add(Delivery(
        message_id=message_id, topic_arn=topic_arn, type="Notification", received_at=now,
        outcome=receipt.outcome, alarm_name=receipt.alarm_name, incident_id=receipt.incident_id,
    ))
    return receipt
