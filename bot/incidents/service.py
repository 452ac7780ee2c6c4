"""Incident lifecycle: open, repeat, reopen, acknowledge, unacknowledge, resolve, declare, outside events.

Each function changes the incident, appends to its timeline and queues the response plan's outbox rows, all in
the caller's transaction; nothing here talks to Slack or PagerDuty directly (see `bot/outbox/`), and nothing
reads the clock: callers (the application commands, `bot/incidents/commands.py`) pass `now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from bot.alarms.models import AlarmEvent, AlarmState, alarm_from_body
from bot.alarms.severity import Severity
from bot.errors import BadInput
from bot.incidents import repository, response
from bot.incidents.models import Incident, IncidentSource, IncidentStatus, TimelineEntry
from bot.incidents.playbook import Playbook
from bot.incidents.steps import StepKind

PAGERDUTY = response.PAGERDUTY
_SOURCE_NAMES = {PAGERDUTY: "PagerDuty"}


class AlarmAction(StrEnum):
    """What an alarm state change did to the incidents."""

    OPENED = "opened"
    REOPENED = "reopened"
    REPEATED = "repeated"
    RESOLVED = "resolved"
    NOTED = "noted"
    STALE = "stale"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class AlarmOutcome:
    """What an alarm transition did, and to which incident."""

    action: AlarmAction
    incident: Incident | None = None


def note(incident: Incident, kind: str, summary: str, *, at: datetime, **data: Any) -> TimelineEntry:
    """One timeline entry for `incident` (the caller adds it to the session)."""
    return TimelineEntry(incident_id=incident.id, at=at, kind=kind, summary=summary, data=data)


def apply_alarm(
    *, session: Session, playbook: Playbook, event: AlarmEvent, body: dict[str, Any], now: datetime
) -> AlarmOutcome:
    """Apply one CloudWatch state change (`now`: when it was received). A race on the open incident surfaces as
    IntegrityError (retry it)."""
    if event.new_state is AlarmState.ALARM:
        return _on_alarm(session, playbook, event, body, now)
    incident = repository.open_for_alarm(session, event.alarm_arn)
    if incident is None:
        return _after_resolution(session, event, body)
    transition = _transition_entry(incident, event)
    if event.state_change_time < incident.last_transition_at:
        transition.kind, transition.summary = "stale", f"Late {event.new_state} ignored (older than the last change)"
        session.add(transition)
        return AlarmOutcome(AlarmAction.STALE, incident)
    session.add(transition)
    if event.new_state is AlarmState.INSUFFICIENT_DATA:
        return AlarmOutcome(AlarmAction.NOTED, incident)
    incident.alarm = body
    _close(session, incident, at=event.state_change_time, by=None, now=now,
           reopen_window=playbook.policy.reopen_window)
    return AlarmOutcome(AlarmAction.RESOLVED, incident)


def acknowledge(
    *, session: Session, incident_id: int, by: str | None, now: datetime, source: str | None = None,
    at: datetime | None = None, mention: Sequence[str] = (),
) -> Incident:
    """Mark an incident acknowledged (idempotent) and queue the page acknowledgement and a post.

    `at`: when it happened (default `now`); `source` names where it happened when that was not the bot itself
    (`pagerduty`: no acknowledgement is sent back); `mention` lists who to mention in the post (Slack ids, emails,
    `pagerduty:<user id>`)."""
    incident = _get(session, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise BadInput(f"incident #{incident_id} is already resolved")
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        return incident
    at = at or now
    incident.status, incident.acknowledged_at = IncidentStatus.ACKNOWLEDGED, at
    incident.acknowledged_by = (by or "")[:64] or None
    where = f" in {_SOURCE_NAMES.get(source, source)}" if source else ""
    session.add(note(incident, "acknowledged", f"Acknowledged{where} by {by or 'someone'}", at=at, by=by,
                     **_source(source)))
    session.add_all(response.on_acknowledge(incident, by=by, now=now, source=source, mention=mention))
    return incident


def unacknowledge(
    *, session: Session, playbook: Playbook, incident_id: int, by: str | None, now: datetime,
    source: str | None = None, at: datetime | None = None,
) -> Incident:
    """Put an acknowledged incident back to open (idempotent): the channel hears it and reminders resume."""
    incident = _get(session, incident_id)
    if incident.status != IncidentStatus.ACKNOWLEDGED:
        return incident
    incident.status, incident.acknowledged_at, incident.acknowledged_by = IncidentStatus.OPEN, None, None
    where = f" in {_SOURCE_NAMES.get(source, source)}" if source else ""
    session.add(note(incident, "unacknowledged", f"Unacknowledged{where} ({by or 'timeout'}): open again",
                     at=at or now, by=by, **_source(source)))
    # Rounds still pending fire again now that it is open (they skip only while acknowledged): plan new ones only
    # when none is left, so there is never a second chain.
    reminder_pending = repository.pending_step(session, incident.id, kind=StepKind.ACK_REMINDER) is not None
    session.add_all(response.on_unacknowledge(incident, by=by, playbook=playbook, now=now, source=source,
                                              remind=not reminder_pending))
    return incident


def resolve(
    *, session: Session, incident_id: int, by: str | None, now: datetime, source: str | None = None,
    at: datetime | None = None, reopen_window: timedelta | None = None,
) -> Incident:
    """Resolve an incident by hand (idempotent); `at`, `source` as for `acknowledge`; `reopen_window`: how long
    the messages offer Reopen."""
    incident = _get(session, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        return incident
    _close(session, incident, at=at or now, by=by, now=now, source=source, reopen_window=reopen_window)
    return incident


def reopen(*, session: Session, playbook: Playbook, incident_id: int, by: str | None, now: datetime) -> Incident:
    """Reopen a resolved incident by hand within the reopen window (the Reopen button): open again, paged again
    when it pages, reminders restart; raises BadInput when it is not resolved or the window has closed."""
    incident = _get(session, incident_id)
    if incident.status != IncidentStatus.RESOLVED or incident.resolved_at is None:
        raise BadInput(f"incident #{incident_id} is not resolved")
    if now - incident.resolved_at > playbook.policy.reopen_window:
        raise BadInput(f"incident #{incident_id} was resolved too long ago to reopen; declare a new one")
    if incident.source == IncidentSource.ALARM:
        if repository.open_for_alarm(session, incident.alarm_arn) is not None:
            raise BadInput(f"alarm {incident.alarm_name} already has an open incident")
        incident.open_key = incident.alarm_arn
    incident.status, incident.resolved_at = IncidentStatus.OPEN, None
    incident.acknowledged_at = incident.acknowledged_by = None
    incident.reopen_count += 1
    session.flush()
    session.add(note(incident, "reopened", f"Reopened by {by or 'someone'} (#{incident.reopen_count})", at=now,
                     by=by))
    session.add_all(response.on_manual_reopen(incident, by=by, playbook=playbook, now=now))
    return incident


def add_note(*, session: Session, incident_id: int | None, channel_id: str | None, text: str, by: str | None,
             now: datetime) -> Incident:
    """`/incident note <text>`: one line on the incident's timeline (stored as written; escaped where shown)."""
    text = " ".join(text.split())
    if not text:
        raise BadInput("a note needs text: /incident note <text>")
    if len(text) > 2000:
        raise BadInput("a note is at most 2,000 characters")
    incident = find(session=session, incident_id=incident_id, channel_id=channel_id)
    session.add(note(incident, "note", f"Note by {by or 'someone'}: {text}", at=now, by=by, text=text))
    return incident


def record_event(
    *, session: Session, incident_id: int, kind: str, summary: str, line: str, now: datetime,
    source: str | None = None, at: datetime | None = None, invite: Sequence[str] = (), **data: Any,
) -> Incident:
    """Something happened to the incident elsewhere (a reassignment, a note…): a timeline entry and `line`
    (mrkdwn, already escaped) in the incident's channel; `invite` brings people into the channel."""
    incident = _get(session, incident_id)
    session.add(note(incident, kind, summary, at=at or now, **_source(source), **data))
    session.add_all(response.on_event(incident, line=line, invite=invite, now=now))
    return incident


def link_pagerduty(*, session: Session, incident_id: int, url: str, pagerduty_id: str, number: int | None,
                   now: datetime, at: datetime | None = None) -> Incident:
    """Remember the PagerDuty incident behind the page (idempotent): bookmarked and announced in the channel."""
    incident = _get(session, incident_id)
    if incident.pagerduty_url == url:
        return incident
    incident.pagerduty_url, incident.pagerduty_id = url[:1024], pagerduty_id[:64] or None
    label = f"PagerDuty incident #{number}" if number is not None else "PagerDuty incident"
    session.add(note(incident, "pagerduty", f"{label}: {url}", at=at or now, url=url, source=PAGERDUTY))
    session.add_all(response.on_pagerduty_link(incident, url=url, label=label, now=now))
    return incident


def declare(
    *, session: Session, playbook: Playbook, title: str, by: str | None, now: datetime,
    severity: Severity = Severity.HIGH,
) -> Incident:
    """Open an incident by hand (`/incident declare`): its own channel, no page."""
    title = " ".join(title.split())
    if not title:
        raise BadInput("an incident needs a title: /incident declare <title>")
    incident = Incident(
        title=title[:300], alarm_name="declared", alarm_arn=f"declared:{now.timestamp()}", open_key=None,
        severity=severity.value, status=IncidentStatus.OPEN, source=IncidentSource.DECLARED, region="", opened_at=now,
        last_transition_at=now, reopen_count=0, alarm={},
    )
    session.add(incident)
    session.flush()
    incident.alarm_arn = f"declared:{incident.id}"
    incident.channel_name = response.channel_name(day=now, alarm_name=title, entry=None)
    session.add(note(incident, "opened", f"Declared by {by or 'someone'}: {title}", at=now, by=by))
    responders = playbook.policy.responders.get(severity, ())
    session.add_all(response.on_declare(incident, by=by, responders=responders, now=now))
    return incident


def find(*, session: Session, incident_id: int | None, channel_id: str | None) -> Incident:
    """The incident `incident_id`, else the one of channel `channel_id`; raises BadInput if there is none."""
    if incident_id is not None:
        return _get(session, incident_id)
    incident = repository.by_channel(session, channel_id) if channel_id else None
    if incident is None:
        raise BadInput("this channel belongs to no incident; give the incident id, e.g. /incident ack 12")
    return incident


def unresolved(*, session: Session, limit: int = 20) -> list[Incident]:
    """Open and acknowledged incidents, newest first."""
    found = [*repository.newest(session, limit=limit, status=IncidentStatus.OPEN),
             *repository.newest(session, limit=limit, status=IncidentStatus.ACKNOWLEDGED)]
    return sorted(found, key=lambda incident: incident.id, reverse=True)[:limit]


def alarm_window(incident: Incident, *, fallback: timedelta) -> tuple[datetime, datetime]:
    """The span a query about this incident should cover: the alarm's query span up to the opening, or
    `fallback` before the opening for a declared incident."""
    end = incident.opened_at
    span = fallback
    if incident.alarm:
        # A stored body we cannot read still deserves a query over the fallback span.
        with suppress(BadInput):
            span = alarm_from_body(incident.alarm).query_span
    return end - span, end


def _on_alarm(session: Session, playbook: Playbook, event: AlarmEvent, body: dict[str, Any],
              now: datetime) -> AlarmOutcome:
    # The open incident of an alarm is always its latest one (reopening reuses the latest): one query serves both.
    latest = repository.latest_for_alarm(session, event.alarm_arn)
    incident = latest if latest is not None and latest.open_key == event.alarm_arn else None
    if incident is not None:
        entry = _transition_entry(incident, event)
        if event.state_change_time < incident.last_transition_at:
            entry.kind, entry.summary = "stale", "Late ALARM ignored (older than the last change)"
        else:
            incident.alarm, incident.last_transition_at = body, event.state_change_time
        session.add(entry)
        return AlarmOutcome(AlarmAction.REPEATED, incident)

    if latest is not None and latest.resolved_at is not None:
        if event.state_change_time <= latest.resolved_at:
            entry = _transition_entry(latest, event)
            entry.kind, entry.summary = "stale", "Late ALARM ignored (older than the resolution)"
            session.add(entry)
            return AlarmOutcome(AlarmAction.STALE, latest)
        if event.state_change_time - latest.resolved_at <= playbook.policy.reopen_window:
            return _reopen(session, playbook, latest, event, body, now)
    return _open(session, playbook, event, body, now)


def _open(session: Session, playbook: Playbook, event: AlarmEvent, body: dict[str, Any],
          now: datetime) -> AlarmOutcome:
    entry = playbook.entry_for(event.alarm_name)
    severity = playbook.severity_for(event.alarm_name)
    at = event.state_change_time
    incident = Incident(
        title=entry.title if entry else event.alarm_name, alarm_name=event.alarm_name, alarm_arn=event.alarm_arn,
        open_key=event.alarm_arn, severity=severity.value, status=IncidentStatus.OPEN, source=IncidentSource.ALARM,
        region=event.region,
        opened_at=at, last_transition_at=at, reopen_count=0, alarm=body,
    )
    if severity.opens_channel:
        incident.channel_name = response.channel_name(
            day=at, alarm_name=event.alarm_name, entry=entry, prefix=playbook.catalog.prefix
        )
    session.add(incident)
    session.flush()  # the unique open_key is checked here: a concurrent twin fails now, not at commit
    known = "" if entry else " (alarm not in the catalog: generic runbook)"
    session.add(_transition_entry(incident, event))
    session.add(note(incident, "opened", f"Opened as {severity.value}{known}", at=at))
    session.add_all(response.on_open(incident, event, playbook=playbook, now=now))
    return AlarmOutcome(AlarmAction.OPENED, incident)


def _reopen(
    session: Session, playbook: Playbook, incident: Incident, event: AlarmEvent, body: dict[str, Any], now: datetime
) -> AlarmOutcome:
    at = event.state_change_time
    incident.status, incident.open_key, incident.resolved_at = IncidentStatus.OPEN, event.alarm_arn, None
    incident.acknowledged_at = incident.acknowledged_by = None
    incident.reopen_count += 1
    incident.last_transition_at = at
    incident.alarm = body
    session.flush()
    session.add(_transition_entry(incident, event))
    session.add(note(incident, "reopened", f"Reopened (ALARM again within the reopen window, #{incident.reopen_count})",
                     at=at))
    session.add_all(response.on_reopen(incident, event, playbook=playbook, now=now))
    return AlarmOutcome(AlarmAction.REOPENED, incident)


def _close(session: Session, incident: Incident, *, at: datetime, by: str | None, now: datetime,
           source: str | None = None, reopen_window: timedelta | None = None) -> None:
    incident.status, incident.open_key, incident.resolved_at = IncidentStatus.RESOLVED, None, at
    incident.last_transition_at = max(at, incident.last_transition_at)
    minutes = (at - incident.opened_at).total_seconds() / 60
    where = f" in {_SOURCE_NAMES.get(source, source)}" if source else ""
    if by or source:
        summary = f"Resolved{where}{f' by {by}' if by else ''} after {minutes:.0f} min"
    else:
        summary = f"Resolved: alarm back to OK after {minutes:.0f} min"
    session.add(note(incident, "resolved", summary, at=at, by=by, **_source(source)))
    session.add_all(response.on_resolve(incident, by=by, now=now, source=source, reopen_window=reopen_window))


def _after_resolution(session: Session, event: AlarmEvent, body: dict[str, Any]) -> AlarmOutcome:
    """An OK (or INSUFFICIENT_DATA) for an alarm whose incident was resolved by a person (in Slack or PagerDuty)
    while the alarm was still in ALARM: noted on that incident, nothing else."""
    latest = repository.latest_for_alarm(session, event.alarm_arn)
    if (latest is None or latest.status != IncidentStatus.RESOLVED
            or latest.alarm.get("NewStateValue") != AlarmState.ALARM):
        return AlarmOutcome(AlarmAction.IGNORED)
    entry = _transition_entry(latest, event)
    entry.summary += " (the incident was already resolved)"
    session.add(entry)
    latest.alarm = body
    return AlarmOutcome(AlarmAction.NOTED, latest)


def _source(source: str | None) -> dict[str, str]:
    return {"source": source} if source else {}


def _get(session: Session, incident_id: int) -> Incident:
    incident = repository.get(session, incident_id)
    if incident is None:
        raise BadInput(f"no incident #{incident_id}")
    return incident


def _transition_entry(incident: Incident, event: AlarmEvent) -> TimelineEntry:
    old = event.old_state.value if event.old_state else "?"
    return TimelineEntry(
        incident_id=incident.id, at=event.state_change_time, kind="alarm",
        summary=f"{event.alarm_name}: {old} → {event.new_state.value}",
        data={"old_state": old, "new_state": event.new_state.value, "reason": event.reason,
              "value": event.observed_value},
    )
