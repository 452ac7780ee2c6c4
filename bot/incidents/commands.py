"""Application commands: what a transport asks of the incident domain, one method per request kind.

Each command owns its transaction (one `db.run` unit of work; the `IntegrityError` re-run for racing alarm
twins included), reads the injected clock, and wakes the relay once its outbox rows are committed. Transports
(`bot/transports/sns.py`, `slack.py`, …) parse and authenticate, then call exactly one of these; they never build
units of work themselves. Errors: `BadInput` (one-line reason) for a request that cannot be done (no such
incident, resolved already…); `SQLAlchemyError` when the store is unavailable.

To add a command (a PagerDuty webhook event, an acknowledge from the web page…): add a method here that does its
work in one `self._db.run(...)` through `bot/incidents/service.py`, calls `self._wake()` if it queued steps, and
returns a small result the transport renders; then call it from the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.alarms.models import alarm_body, alarm_from_body
from bot.clock import Clock, wall_clock
from bot.incidents import intake, messages, outcomes, pagerduty_events, quality, repository, response, review, service
from bot.incidents.intake import Receipt, ReceiptOutcome
from bot.incidents.models import Incident, IncidentStatus
from bot.incidents.pagerduty_events import PagerDutyReceipt, WebhookEvent
from bot.incidents.playbook import Playbook
from bot.incidents.review import ReviewFields
from bot.store import Database

_ATTEMPTS = 5
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Transition:
    """An acknowledge or resolve: the incident after it, and its status before (equal: it was a no-op)."""

    incident: Incident
    before: IncidentStatus

    @property
    def changed(self) -> bool:
        """False when the incident already was in the asked state."""
        return self.before != self.incident.status


@dataclass(frozen=True, slots=True)
class Status:
    """`/incident status`: one incident, or (outside an incident channel, no id given) the unresolved ones."""

    incident: Incident | None
    unresolved: list[Incident]


class IncidentCommands:
    """The incident domain's entry points for transports; built once by the app (`app.state.commands`)."""

    def __init__(self, db: Database, *, playbook: Playbook, clock: Clock = wall_clock,
                 wake: Callable[[], None] = lambda: None) -> None:
        self._db, self.playbook, self.clock, self._wake = db, playbook, clock, wake

    async def receive_alarm(self, *, message_id: str, topic_arn: str, message: str) -> Receipt:
        """Record one SNS notification and apply its alarm, exactly once per MessageId; raises BadInput for an
        alarm body with malformed fields."""
        body = alarm_body(message)
        event = alarm_from_body(body) if body is not None else None

        def work(session: Session) -> Receipt:
            return intake.record(session, playbook=self.playbook, message_id=message_id, topic_arn=topic_arn,
                                 body=body, event=event, now=self.clock())

        receipt = await self._retrying(work)
        if receipt.outcome not in {ReceiptOutcome.DUPLICATE, ReceiptOutcome.NOT_AN_ALARM}:
            self._wake()  # a redelivery queued nothing: no claim queries for it
        return receipt

    async def receive_pagerduty_event(self, *, event: WebhookEvent) -> PagerDutyReceipt:
        """Apply one authenticated PagerDuty webhook event exactly once per event id (a racing twin replica
        loses and sees `duplicate`)."""
        def work(session: Session) -> PagerDutyReceipt:
            return pagerduty_events.record(session, playbook=self.playbook, event=event, now=self.clock())

        receipt = await self._retrying(work)
        if receipt.outcome not in {"duplicate", "ignored", "stale", "unchanged"}:
            self._wake()
        return receipt

    async def acknowledge(self, *, incident_id: int | None, channel_id: str | None, by: str | None) -> Transition:
        """Acknowledge incident `incident_id`, else the one of `channel_id` (idempotent)."""
        return await self._transition(IncidentStatus.ACKNOWLEDGED, incident_id, channel_id, by)

    async def resolve(self, *, incident_id: int | None, channel_id: str | None, by: str | None) -> Transition:
        """Resolve incident `incident_id`, else the one of `channel_id` (idempotent)."""
        return await self._transition(IncidentStatus.RESOLVED, incident_id, channel_id, by)

    async def classify(self, *, incident_id: int | None, channel_id: str | None, kind: str,
                       by: str | None) -> Incident:
        """Record how incident `incident_id` (else the one of `channel_id`) turned out; raises BadInput for an
        unknown incident or outcome kind."""
        def work(session: Session) -> Incident:
            incident = service.find(session=session, incident_id=incident_id, channel_id=channel_id)
            return outcomes.record_outcome(session, incident.id, kind, by, self.clock())

        return await self._db.run(work)

    async def quality_report(self, *, window: timedelta) -> quality.QualityReport:
        """Pages, outcomes, MTTA and MTTR per alarm over the last `window` (read from the incident store)."""
        until = self.clock()
        return await self._db.run(lambda session: quality.quality_report(session, since=until - window, until=until))

    async def reopen(self, *, incident_id: int, by: str | None) -> Incident:
        """Reopen a resolved incident within the reopen window (the Reopen button); raises BadInput otherwise."""
        incident = await self._db.run(lambda session: service.reopen(
            session=session, playbook=self.playbook, incident_id=incident_id, by=by, now=self.clock()))
        self._wake()
        return incident

    async def note(self, *, incident_id: int | None, channel_id: str | None, text: str, by: str | None,
                   ) -> Incident:
        """`/incident note <text>`: a line on the timeline of incident `incident_id`, else of `channel_id`'s."""
        return await self._db.run(lambda session: service.add_note(
            session=session, incident_id=incident_id, channel_id=channel_id, text=text, by=by, now=self.clock()))

    async def save_review(self, *, incident_id: int, fields: ReviewFields, by: str | None) -> Incident:
        """Store a post-incident review (the same storage as the web review page) and post its one-paragraph
        summary to the team's incidents channel; raises BadInput for bad fields or an unknown incident."""
        def work(session: Session) -> Incident:
            now = self.clock()
            saved = review.save_review(session=session, incident_id=incident_id, review=fields, by=by, at=now)
            incident = service.find(session=session, incident_id=incident_id, channel_id=None)
            stored = ReviewFields.of(saved)
            summary = messages.review_summary(incident, summary=stored.summary, root_cause=stored.root_cause,
                                              impact=stored.impact, prevention=stored.prevention,
                                              owner=stored.owner, by=by)
            session.add_all(response.on_review(incident, summary, now=now))
            return incident

        incident = await self._db.run(work)
        self._wake()
        return incident

    async def review(self, *, incident_id: int) -> tuple[Incident, ReviewFields]:
        """An incident and its review as written so far (empty fields when none); raises BadInput when unknown."""
        def load(session: Session) -> tuple[Incident, ReviewFields]:
            incident = service.find(session=session, incident_id=incident_id, channel_id=None)
            return incident, ReviewFields.of(review.get_review(session, incident_id))

        return await self._db.run(load)

    async def declare(self, *, title: str, by: str | None) -> Incident:
        """Open an incident by hand: a channel, the declarer and responders invited, no page."""
        incident = await self._db.run(lambda session: service.declare(
            session=session, playbook=self.playbook, title=title, by=by, now=self.clock()))
        self._wake()
        return incident

    async def status(self, *, incident_id: int | None, channel_id: str | None) -> Status:
        """Incident `incident_id`, else the one of `channel_id`, else (no id, not an incident channel) the list
        of unresolved incidents; raises BadInput for an unknown id."""
        def load(session: Session) -> Status:
            if incident_id is None and (not channel_id or repository.by_channel(session, channel_id) is None):
                return Status(None, service.unresolved(session=session))
            return Status(service.find(session=session, incident_id=incident_id, channel_id=channel_id), [])

        return await self._db.run(load)

    async def find(self, *, incident_id: int) -> Incident:
        """One incident; raises BadInput when there is none."""
        return await self._db.run(
            lambda session: service.find(session=session, incident_id=incident_id, channel_id=None))

    async def alarm_window(self, *, incident_id: int,
                           fallback: timedelta) -> tuple[Incident, tuple[datetime, datetime]]:
        """The incident and the span a query about it should cover (see `service.alarm_window`)."""
        incident = await self.find(incident_id=incident_id)
        return incident, service.alarm_window(incident, fallback=fallback)

    async def _retrying(self, work: Callable[[Session], _T]) -> _T:
        """Run `work` in one transaction, again when a racing twin (another replica) won a unique key."""
        for attempt in range(_ATTEMPTS):
            try:
                return await self._db.run(work)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _transition(self, to: IncidentStatus, incident_id: int | None, channel_id: str | None,
                          by: str | None) -> Transition:
        def work(session: Session) -> Transition:
            incident = service.find(session=session, incident_id=incident_id, channel_id=channel_id)
            before = incident.status
            if to is IncidentStatus.ACKNOWLEDGED:
                service.acknowledge(session=session, incident_id=incident.id, by=by, now=self.clock())
            else:
                service.resolve(session=session, incident_id=incident.id, by=by, now=self.clock(),
                                reopen_window=self.playbook.policy.reopen_window)
            return Transition(incident, before)

        transition = await self._db.run(work)
        if transition.changed:
            self._wake()
        return transition

