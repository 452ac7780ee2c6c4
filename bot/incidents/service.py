"""Incident lifecycle: open, repeat, join (correlated alarms), reopen, acknowledge, unacknowledge, resolve,
declare, outside events (PagerDuty).

An incident holds one or more alarms (`IncidentAlarm`): the one that opened it and every correlated alarm
(`AlarmCatalog.related_names`) that joined it while it was unresolved or within `correlation_window` of its
opening. Its severity is the highest of its alarms, its headline (title) the deepest cause among them, and it
resolves when every one of its alarms is OK again. More than `storm_threshold` incidents opened within
`storm_window` make a storm: their alerts-channel announcements become one digest message.

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

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.alarms.models import AlarmEvent, AlarmState, alarm_from_body
from bot.alarms.severity import Severity
from bot.errors import BadInput
from bot.incidents import repository, response
from bot.incidents.models import Incident, IncidentAlarm, IncidentSource, IncidentStatus, Storm, TimelineEntry
from bot.incidents.playbook import Playbook
from bot.incidents.steps import StepKind

PAGERDUTY = response.PAGERDUTY
_SOURCE_NAMES = {PAGERDUTY: "PagerDuty"}


class AlarmAction(StrEnum):
    """What an alarm state change did to the incidents."""

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
    if playbook.catalog.related_names(event.alarm_name):
        repository.lock_correlation(session)
    if event.new_state is AlarmState.ALARM:
        return _on_alarm(session, playbook, event, body, now)
    member = repository.open_alarm(session, event.alarm_arn)
    if member is None:
        return _after_resolution(session, event, body)
    incident = _get(session, member.incident_id)
    transition = _transition_entry(incident, event)
    if event.state_change_time < member.changed_at:
        transition.kind, transition.summary = "stale", f"Late {event.new_state} ignored (older than the last change)"
        session.add(transition)
        return AlarmOutcome(AlarmAction.STALE, incident)
    session.add(transition)
    member.state, member.changed_at = event.new_state.value, event.state_change_time
    if event.new_state is AlarmState.INSUFFICIENT_DATA:
        return AlarmOutcome(AlarmAction.NOTED, incident)
    if event.alarm_arn == incident.alarm_arn:
        incident.alarm = body
    firing = [a.alarm_name for a in repository.alarms(session, incident.id, active=True)
              if a.state != AlarmState.OK.value]
    if firing:
        incident.last_transition_at = max(event.state_change_time, incident.last_transition_at)
        session.add(note(incident, "cleared", f"{event.alarm_name} back to OK; still not OK: {', '.join(firing)}",
                         at=event.state_change_time, alarm=event.alarm_name, firing=firing))
        return AlarmOutcome(AlarmAction.CLEARED, incident)
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
    at = event.state_change_time
    member = repository.open_alarm(session, event.alarm_arn)
    if member is not None:
        incident = _get(session, member.incident_id)
        entry = _transition_entry(incident, event)
        if at < member.changed_at:
            entry.kind, entry.summary = "stale", "Late ALARM ignored (older than the last change)"
        else:
            member.state, member.changed_at = AlarmState.ALARM.value, at
            incident.last_transition_at = max(at, incident.last_transition_at)
            if event.alarm_arn == incident.alarm_arn:
                incident.alarm = body
        session.add(entry)
        return AlarmOutcome(AlarmAction.REPEATED, incident)

    latest = repository.latest_for_alarm(session, event.alarm_arn)
    if latest is not None and latest.status != IncidentStatus.RESOLVED:
        # A member left when its incident resolved and another alarm reopened it: it comes back in.
        return _join(session, playbook, latest, event, body, now)
    if latest is not None and latest.resolved_at is not None:
        if at <= latest.resolved_at:
            entry = _transition_entry(latest, event)
            entry.kind, entry.summary = "stale", "Late ALARM ignored (older than the resolution)"
            session.add(entry)
            return AlarmOutcome(AlarmAction.STALE, latest)
        if at - latest.resolved_at <= playbook.policy.reopen_window:
            return _reopen(session, playbook, latest, event, body, now)
    related = playbook.catalog.related_names(event.alarm_name)
    if related:
        since = at - playbook.policy.correlation_window
        # Another region's pipeline is another pipeline: its broker is not the cause of lag here.
        candidates = repository.correlation_candidates(session, sorted(related), region=event.region,
                                                       opened_since=since)
        if candidates:
            return _join(session, playbook, candidates[0], event, body, now)
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
            day=at, alarm_name=event.alarm_name, entry=entry, prefix=playbook.catalog.prefix,
            region=_foreign_region(playbook, event),
        )
    session.add(incident)
    session.flush()  # the unique open_key is checked here: a concurrent twin fails now, not at commit
    session.add(_member(incident, event))
    session.flush()
    known = "" if entry else " (alarm not in the catalog: generic runbook)"
    session.add(_transition_entry(incident, event))
    session.add(note(incident, "opened", f"Opened as {severity.value}{known}", at=at))
    storm = _storm(session, playbook, incident, at=at)
    session.add_all(response.on_open(incident, event, playbook=playbook, now=now, storm=storm))
    return AlarmOutcome(AlarmAction.OPENED, incident)


def _join(session: Session, playbook: Playbook, incident: Incident, event: AlarmEvent, body: dict[str, Any],
          now: datetime) -> AlarmOutcome:
    """A correlated alarm joins `incident` (reopening it when it was resolved within the correlation window)."""
    at = event.state_change_time
    reopened = incident.status == IncidentStatus.RESOLVED
    if reopened:
        _revive(incident, event)
    member = repository.membership(session, incident.id, event.alarm_arn)
    if member is None:
        session.add(_member(incident, event))
    else:
        member.state, member.changed_at, member.open_key = AlarmState.ALARM.value, at, event.alarm_arn
    session.flush()  # the alarm's unique open_key: a racing twin fails here and re-runs
    incident.last_transition_at = max(at, incident.last_transition_at)
    session.add(_transition_entry(incident, event))
    catalog = playbook.catalog
    headline = catalog.is_cause_of(event.alarm_name, incident.alarm_name)
    relation = (f"cause of {incident.alarm_name}" if headline else
                f"symptom of {incident.alarm_name}" if catalog.is_cause_of(incident.alarm_name, event.alarm_name)
                else f"related to {incident.alarm_name}")
    session.add(note(incident, "correlated", f"{event.alarm_name} joined the incident ({relation})"
                     + (", reopening it" if reopened else ""), at=at, alarm=event.alarm_name, relation=relation))
    if reopened:
        incident.reopen_count += 1
    if headline:
        entry = playbook.entry_for(event.alarm_name)
        before = incident.title
        incident.title = entry.title if entry else event.alarm_name
        incident.alarm_name, incident.alarm_arn, incident.alarm = event.alarm_name, event.alarm_arn, body
        session.add(note(incident, "headline", f"Headline: {incident.title} (was {before}): the cause arrived "
                         "after its symptom", at=at, before=before))
    severity, before_severity = playbook.severity_for(event.alarm_name), Severity(incident.severity)
    escalated = _rank(severity) < _rank(before_severity)
    new_channel = False
    if escalated:
        incident.severity = severity
        session.add(note(incident, "escalated", f"Severity {before_severity.value} → {severity.value} "
                         f"({event.alarm_name} joined)", at=at, before=before_severity.value))
        if severity.opens_channel and not incident.channel_name:
            new_channel = True
            incident.channel_name = response.channel_name(
                day=at, alarm_name=incident.alarm_name, entry=playbook.entry_for(incident.alarm_name),
                prefix=catalog.prefix, region=_foreign_region(playbook, event),
            )
    session.add_all(response.on_join(incident, event, body, playbook=playbook, now=now, relation=relation,
                                     headline=headline, escalated=escalated, new_channel=new_channel,
                                     reopened=reopened))
    return AlarmOutcome(AlarmAction.JOINED, incident)


def _reopen(
    session: Session, playbook: Playbook, incident: Incident, event: AlarmEvent, body: dict[str, Any], now: datetime
) -> AlarmOutcome:
    at = event.state_change_time
    _revive(incident, event)
    incident.reopen_count += 1
    if event.alarm_arn == incident.alarm_arn:
        incident.alarm = body
    member = repository.membership(session, incident.id, event.alarm_arn)
    if member is None:  # unreachable: the incident was found through this alarm's membership
        member = _member(incident, event)
        session.add(member)
    member.state, member.changed_at, member.open_key = AlarmState.ALARM.value, at, event.alarm_arn
    session.flush()
    session.add(_transition_entry(incident, event))
    session.add(note(incident, "reopened", f"Reopened (ALARM again within the reopen window, #{incident.reopen_count})",
                     at=at))
    session.add_all(response.on_reopen(incident, event, playbook=playbook, now=now))
    return AlarmOutcome(AlarmAction.REOPENED, incident)


def _revive(incident: Incident, event: AlarmEvent) -> None:
    """A resolved incident open again, keyed by the alarm that reopened it (free: it was in no open incident)."""
    incident.status, incident.open_key, incident.resolved_at = IncidentStatus.OPEN, event.alarm_arn, None
    incident.acknowledged_at = incident.acknowledged_by = None
    incident.last_transition_at = event.state_change_time


def _member(incident: Incident, event: AlarmEvent) -> IncidentAlarm:
    at = event.state_change_time
    return IncidentAlarm(incident_id=incident.id, alarm_arn=event.alarm_arn, alarm_name=event.alarm_name,
                         state=AlarmState.ALARM.value, joined_at=at, changed_at=at, open_key=event.alarm_arn)


def _storm(session: Session, playbook: Playbook, incident: Incident, *, at: datetime) -> response.StormPart | None:
    """The storm this newly opened incident belongs to, if any: the one under way, or a new one when more than
    `storm_threshold` incidents opened within `storm_window` (this one included)."""
    policy = playbook.policy
    current = repository.current_storm(session)
    if current is not None and current.last_at >= at - policy.storm_window:
        current.last_at = max(current.last_at, at)
        # Counted in SQL: replicas adding incidents at once must not lose one (the digest renders up to it).
        session.execute(update(Storm).where(Storm.id == current.id).values(revision=Storm.revision + 1))
        return response.StormPart(current.id, first=False)
    if current is not None:
        current.open_key = None  # that storm is over
        session.flush()
    if repository.opened_since(session, at - policy.storm_window) <= policy.storm_threshold:
        return None
    storm = Storm(open_key="storm", started_at=at - policy.storm_window, last_at=at, revision=1, rendered=0,
                  channel=policy.alerts_channel)
    session.add(storm)
    session.flush()  # one current storm: a replica starting the same storm fails here and re-runs
    session.add(note(incident, "storm", "Alarm storm: alerts-channel announcements become one digest", at=at,
                     storm_id=storm.id))
    return response.StormPart(storm.id, first=True)


def _foreign_region(playbook: Playbook, event: AlarmEvent) -> str:
    """The alarm's region when it is not the default one (it goes into the channel name), else ""."""
    return event.region if event.region and event.region != playbook.policy.default_region else ""


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


def _close(session: Session, incident: Incident, *, at: datetime, by: str | None, now: datetime,
           source: str | None = None, reopen_window: timedelta | None = None) -> None:
    incident.status, incident.open_key, incident.resolved_at = IncidentStatus.RESOLVED, None, at
    for member in repository.alarms(session, incident.id, active=True):
        member.open_key = None
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
