"""API shapes of incidents (what `GET /api/incidents` and `/api/incidents/{id}` return)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from bot.incidents.models import Incident, IncidentAlarm, OutboxMessage, TimelineEntry


class TimelineEntryOut(BaseModel):
    at: datetime
    kind: str
    summary: str
    source: str | None  # where the change happened when not in the bot itself, e.g. "pagerduty"
    data: dict[str, Any]


class StepOut(BaseModel):
    id: int
    lane: str
    kind: str
    status: str
    attempts: int
    last_error: str | None


class AlarmOut(BaseModel):
    alarm_name: str
    state: str
    joined_at: datetime


class IncidentOut(BaseModel):
    id: int
    title: str
    alarm_name: str
    alarm_arn: str
    severity: str
    status: str
    source: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    reopen_count: int
    channel: str | None
    channel_id: str | None
    pagerduty_url: str | None

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        """The API view of an incident row."""
        return cls(
            id=incident.id, title=incident.title, alarm_name=incident.alarm_name, alarm_arn=incident.alarm_arn,
            severity=incident.severity, status=incident.status, source=incident.source, opened_at=incident.opened_at,
            acknowledged_at=incident.acknowledged_at, acknowledged_by=incident.acknowledged_by,
            resolved_at=incident.resolved_at, reopen_count=incident.reopen_count, channel=incident.channel_name,
            channel_id=incident.channel_id, pagerduty_url=incident.pagerduty_url,
        )


class IncidentDetail(IncidentOut):
    alarms: list[AlarmOut]
    timeline: list[TimelineEntryOut]
    steps: list[StepOut]

    @classmethod
    def build(cls, incident: Incident, timeline: Sequence[TimelineEntry],
              steps: Sequence[OutboxMessage], alarms: Sequence[IncidentAlarm] = ()) -> IncidentDetail:
        """The API view of an incident with its alarms (every alarm that joined it), timeline and outbox steps."""
        return cls(
            **IncidentOut.of(incident).model_dump(),
            alarms=[AlarmOut(alarm_name=a.alarm_name, state=a.state, joined_at=a.joined_at) for a in alarms],
            timeline=[TimelineEntryOut(at=e.at, kind=e.kind, summary=e.summary,
                                      source=_source(e.data), data=e.data) for e in timeline],
            steps=[StepOut(id=s.id, lane=s.lane, kind=s.kind, status=s.status, attempts=s.attempts,
                           last_error=s.last_error) for s in steps],
        )


def _source(data: dict[str, Any]) -> str | None:
    source = data.get("source")
    return source if isinstance(source, str) else None


class IncidentList(BaseModel):
    """One page of `GET /api/incidents`: pass `next_cursor` back as `cursor` for the next one (null: last page)."""

    incidents: list[IncidentOut]
    next_cursor: str | None


class ErrorOut(BaseModel):
    """Every 4xx/5xx body of this API."""

    error: str
