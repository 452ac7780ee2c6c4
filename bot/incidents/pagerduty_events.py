"""PagerDuty → incident: one V3 webhook event becomes at most one incident change, exactly once.

The transport (`bot/transports/pagerduty.py`) authenticates the delivery and parses it into `WebhookEvent`;
`IncidentCommands.receive_pagerduty_event` then applies it (`record`) in ONE transaction with its event id
stored (redeliveries are no-ops).
The incident is found by `data.incident_key` (the dedup key the bot sent, `response.dedup_key`), or, for events
about notes and responders that carry only the PagerDuty incident, by the PagerDuty incident id learnt earlier.
Events for incidents the bot did not page for are recorded as `ignored`.

Order: status events (acknowledged, unacknowledged, resolved) older than the last one applied are `stale` and
change nothing, so a late or reordered delivery never moves an incident backwards. The bot's own acknowledgement
or resolution, echoed back by PagerDuty, finds the incident already in that state and changes nothing.

To handle another event type: add it to `EVENT_TYPES` (the `pagerduty setup` subscription) and to `_apply`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, field_validator
from sqlalchemy.orm import Session

from bot.incidents import repository, response, service
from bot.incidents.models import Incident, PagerDutyEventSeen
from bot.incidents.playbook import Playbook
from bot.presentation.mrkdwn import escape

PAGERDUTY = response.PAGERDUTY
# What `incident-bot pagerduty setup` subscribes to. `incident.triggered` tells us the PagerDuty incident (its
# link) as soon as the page opens it, before anyone acts on it.
EVENT_TYPES = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reassigned",
    "incident.escalated",
    "incident.responder.added",
    "incident.annotated",
)
STATUS_EVENTS = frozenset({"incident.acknowledged", "incident.unacknowledged", "incident.resolved"})
NOTE_LIMIT = 500
_ATTEMPTS = 5

Text = Annotated[str, Field(max_length=2000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Reference(_Model):
    """A PagerDuty reference (user, service, incident…): `summary` is its display name."""

    id: Annotated[str, Field(max_length=64)] = ""
    type: Annotated[str, Field(max_length=64)] = ""
    summary: Text = ""
    html_url: Text = ""
    # User references carry no email; accepted when a payload has one (saves a REST lookup).
    email: Annotated[str | None, Field(max_length=254)] = None


class EventData(_Model):
    """`event.data`: an incident, or an incident_note / incident_responder pointing at one."""

    type: Annotated[str, Field(max_length=64)] = ""
    id: Annotated[str, Field(max_length=64)] = ""
    html_url: HttpUrl | None = None
    number: int | None = None
    status: Annotated[str, Field(max_length=32)] = ""
    incident_key: Annotated[str | None, Field(max_length=255)] = None
    title: Text = ""
    assignees: Annotated[list[Reference], Field(max_length=100)] = Field(default_factory=list)
    incident: Reference | None = None  # incident_note, incident_responder
    content: Annotated[str, Field(max_length=20000)] = ""  # incident_note
    user: Reference | None = None  # incident_responder
    message: Text = ""  # incident_responder

    @field_validator("html_url")
    @classmethod
    def _web_url(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and value.scheme not in ("https", "http"):
            raise ValueError("must be an http(s) URL")
        return value


class WebhookEvent(_Model):
    """`event` of a V3 webhook body."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    event_type: Annotated[str, Field(min_length=1, max_length=64)]
    resource_type: Annotated[str, Field(max_length=64)] = "incident"
    occurred_at: AwareDatetime
    agent: Reference | None = None
    data: EventData


class Webhook(_Model):
    """A V3 webhook body: `{"event": {...}}`."""

    event: WebhookEvent


@dataclass(frozen=True, slots=True)
class PagerDutyReceipt:
    """What one event did: `duplicate`, `ignored`, `stale`, `unchanged`, `linked`, `acknowledged`,
    `unacknowledged`, `resolved` or `noted`."""

    outcome: str
    incident_id: int | None = None


def record(session: Session, *, playbook: Playbook, event: WebhookEvent, now: datetime) -> PagerDutyReceipt:
    """The unit of work of one event: dedup by event id, apply it, store the id (one transaction)."""
    if session.get(PagerDutyEventSeen, event.id) is not None:
        return PagerDutyReceipt("duplicate")
    incident = _incident_of(session, event.data)
    receipt = PagerDutyReceipt("ignored")
    if incident is not None:
        receipt = PagerDutyReceipt(_apply(session, playbook, incident, event, now), incident.id)
    session.add(PagerDutyEventSeen(
        event_id=event.id, event_type=event.event_type, occurred_at=event.occurred_at, received_at=now,
        outcome=receipt.outcome, incident_id=receipt.incident_id,
    ))
    return receipt


def _incident_of(session: Session, data: EventData) -> Incident | None:
    if data.incident_key:
        incident_id = response.incident_id_from_dedup_key(data.incident_key)
        return repository.get(session, incident_id) if incident_id is not None else None
    pagerduty_id = data.incident.id if data.incident else data.id if data.type == "incident" else ""
    return repository.by_pagerduty_id(session, pagerduty_id) if pagerduty_id else None


def _apply(session: Session, playbook: Playbook, incident: Incident, event: WebhookEvent, now: datetime) -> str:
    kind, data, at = event.event_type, event.data, event.occurred_at
    if kind in STATUS_EVENTS and incident.pagerduty_changed_at and at < incident.pagerduty_changed_at:
        session.add(service.note(incident, "stale", f"Late PagerDuty {kind} ignored (older than the last change)",
                                 at=at, source=PAGERDUTY, event_id=event.id))
        return "stale"
    outcome = "unchanged"
    if data.type == "incident" and data.html_url is not None:
        before = incident.pagerduty_url
        service.link_pagerduty(session=session, now=now, incident_id=incident.id, url=str(data.html_url),
                               pagerduty_id=data.id, number=data.number, at=at)
        outcome = "linked" if incident.pagerduty_url != before else outcome
    if kind in STATUS_EVENTS:
        incident.pagerduty_changed_at = max(at, incident.pagerduty_changed_at or at)
    # No agent: PagerDuty itself acted (an acknowledgement timing out, an escalation rule).
    who = _name(event.agent) if event.agent else None
    if kind == "incident.acknowledged" and incident.status == "open":
        service.acknowledge(session=session, now=now, incident_id=incident.id, by=who, source=PAGERDUTY, at=at,
                            mention=_people([event.agent]))
        return "acknowledged"
    if kind == "incident.unacknowledged" and incident.status == "acknowledged":
        service.unacknowledge(session=session, now=now, playbook=playbook, incident_id=incident.id, by=who,
                              source=PAGERDUTY, at=at)
        return "unacknowledged"
    if kind == "incident.resolved" and incident.status != "resolved":
        service.resolve(session=session, now=now, incident_id=incident.id, by=who, source=PAGERDUTY, at=at,
                        reopen_window=playbook.policy.reopen_window)
        return "resolved"
    line = _line(kind, who, data)
    if line is None:
        return outcome
    summary, text, invite = line
    service.record_event(session=session, now=now, incident_id=incident.id, kind="pagerduty", summary=summary,
                         line=f":pager: {text}", source=PAGERDUTY, at=at, invite=invite,
                         event_type=kind, event_id=event.id)
    return "noted"


def _line(kind: str, who: str | None, data: EventData) -> tuple[str, str, list[str]] | None:
    """(timeline summary, channel line in escaped mrkdwn, people to invite) for an informational event."""
    actor = who or "PagerDuty"
    if kind in ("incident.reassigned", "incident.escalated"):
        names = ", ".join(_name(a) for a in data.assignees) or "nobody"
        verb = "Escalated" if kind == "incident.escalated" else "Reassigned"
        by = f" (by {who})" if who else ""
        return (f"{verb} in PagerDuty to {names}{by}", f"{verb} in PagerDuty to *{escape(names)}*{escape(by)}.",
                _people(data.assignees))
    if kind == "incident.responder.added" and data.user is not None:
        name = _name(data.user)
        said = f": “{data.message}”" if data.message else ""
        return (f"Responder {name} added in PagerDuty by {actor}{said}",
                f"{escape(actor)} asked *{escape(name)}* to help in PagerDuty{escape(said)}.", _people([data.user]))
    if kind == "incident.annotated" and data.content:
        content = data.content if len(data.content) <= NOTE_LIMIT else data.content[: NOTE_LIMIT - 1] + "…"
        return (f"Note in PagerDuty by {actor}: {content}", f"Note in PagerDuty by {escape(actor)}: {escape(content)}",
                [])
    return None


def _name(reference: Reference | None) -> str:
    if reference is None:
        return "PagerDuty"
    return " ".join(reference.summary.split())[:100] or reference.email or reference.id or "PagerDuty"


def _people(references: Sequence[Reference | None]) -> list[str]:
    """How the relay finds each PagerDuty user in Slack: their email, else `pagerduty:<user id>`."""
    found = []
    for reference in references:
        if reference is None or not reference.type.startswith("user"):
            continue
        if reference.email:
            found.append(reference.email)
        elif reference.id:
            found.append(f"pagerduty:{reference.id}")
    return found


