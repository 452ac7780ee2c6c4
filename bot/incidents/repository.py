"""Queries over incidents, timeline and outbox: select() statements only, no business rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, Select, and_, bindparam, exists, func, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from bot.incidents.models import Incident, IncidentStatus, OutboxMessage, TimelineEntry
from bot.incidents.steps import Lane, StepStatus


def open_for_alarm(session: Session, alarm_arn: str) -> Incident | None:
    """The unresolved incident of this alarm, if any."""
    result = session.execute(select(Incident).where(Incident.open_key == alarm_arn))
    return result.scalar_one_or_none()


def latest_for_alarm(session: Session, alarm_arn: str) -> Incident | None:
    """The most recently opened incident of this alarm, resolved or not."""
    result = session.execute(
        select(Incident).where(Incident.alarm_arn == alarm_arn).order_by(Incident.id.desc()).limit(1)
    )
    return result.scalar_one_or_none()


def get(session: Session, incident_id: int, *, with_timeline: bool = False) -> Incident | None:
    """One incident by id, optionally with its timeline loaded."""
    statement = select(Incident).where(Incident.id == incident_id)
    if with_timeline:
        statement = statement.options(selectinload(Incident.timeline))
    return (session.execute(statement)).scalar_one_or_none()


def by_channel(session: Session, channel_id: str) -> Incident | None:
    """The incident whose dedicated channel this is."""
    result = session.execute(select(Incident).where(Incident.channel_id == channel_id).limit(1))
    return result.scalar_one_or_none()


def newest(session: Session, *, limit: int = 100, status: IncidentStatus | None = None) -> Sequence[Incident]:
    """Incidents, newest first."""
    statement = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if status:
        statement = statement.where(Incident.status == status)
    return (session.execute(statement)).scalars().all()


def timeline(session: Session, incident_id: int) -> Sequence[TimelineEntry]:
    """The incident's timeline, oldest first."""
    result = session.execute(
        select(TimelineEntry).where(TimelineEntry.incident_id == incident_id).order_by(TimelineEntry.id)
    )
    return result.scalars().all()


def _due_statement(*, by_lane: bool) -> Select[OutboxMessage]:
    """Pending outbox rows that may run now: due, unclaimed, and first of their incident's lane."""
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        and_(
            earlier.incident_id == OutboxMessage.incident_id,
            earlier.lane == OutboxMessage.lane,
            earlier.status == StepStatus.PENDING,
            earlier.id < OutboxMessage.id,
        )
    )
    now = bindparam("now", type_=OutboxMessage.run_after.type)
    statement = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == StepStatus.PENDING,
            OutboxMessage.run_after <= now,
            (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until < now),
            ~blocked,
        )
        .order_by(OutboxMessage.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    if by_lane:
        statement = statement.where(OutboxMessage.lane == bindparam("lane", type_=OutboxMessage.lane.type))
    return statement


# Built once: constructing the alias and subquery cost ~100× more than running the query on SQLite, and every
# lane worker asks after every change.
_DUE = {False: _due_statement(by_lane=False), True: _due_statement(by_lane=True)}


def due_steps(session: Session, *, now: datetime, limit: int, lane: Lane | None = None) -> Sequence[OutboxMessage]:
    """Pending outbox rows that may run now: due, unclaimed, and first of their incident's lane (of `lane` only,
    when given)."""
    params: dict[str, object] = {"now": now, "limit": limit}
    if lane is not None:
        params["lane"] = lane
    return session.execute(_DUE[lane is not None], params).scalars().all()


def claim_step(session: Session, step_id: int, *, now: datetime, until: datetime, owner: str = "") -> bool:
    """Lease one outbox row to `owner` and count the claim; False when another worker holds it."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == step_id,
            OutboxMessage.status == StepStatus.PENDING,
            (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until < now),
        )
        .values(locked_until=until, claimed_by=owner or None, claims=OutboxMessage.claims + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def claim_steps(session: Session, step_ids: Sequence[int], *, now: datetime, until: datetime,
                owner: str) -> list[int]:
    """Lease these outbox rows to `owner` in one statement, counting each claim; returns the ids it got (those
    another worker holds are left out)."""
    if not step_ids:
        return []
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(step_ids),
            OutboxMessage.status == StepStatus.PENDING,
            (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until < now),
        )
        .values(locked_until=until, claimed_by=owner or None, claims=OutboxMessage.claims + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars().all())


def incidents_by_id(session: Session, incident_ids: Sequence[int]) -> dict[int, Incident]:
    """The incidents with these ids, by id (one query)."""
    if not incident_ids:
        return {}
    result = session.execute(select(Incident).where(Incident.id.in_(set(incident_ids))))
    return {incident.id: incident for incident in result.scalars().all()}


def extend_leases(session: Session, step_ids: Sequence[int], *, until: datetime, owner: str = "") -> None:
    """Keep the lease of steps this worker (`owner`) is still performing (the heartbeat)."""
    if step_ids:
        statement = update(OutboxMessage).where(OutboxMessage.id.in_(step_ids),
                                                OutboxMessage.status == StepStatus.PENDING)
        if owner:
            statement = statement.where(OutboxMessage.claimed_by == owner)
        session.execute(statement.values(locked_until=until).execution_options(synchronize_session=False))


def lease_holders(session: Session, *, prefix: str, now: datetime) -> Sequence[str]:
    """Distinct owners starting with `prefix` that hold a live lease on a pending step."""
    result = session.execute(
        select(OutboxMessage.claimed_by).distinct().where(
            OutboxMessage.status == StepStatus.PENDING, OutboxMessage.locked_until >= now,
            OutboxMessage.claimed_by.startswith(prefix, autoescape=True))
    )
    return [owner for owner in result.scalars().all() if owner]


def release_leases(session: Session, owners: Sequence[str]) -> int:
    """Drop the leases `owners` hold (they are gone); returns how many steps are free again."""
    if not owners:
        return 0
    result = session.execute(
        update(OutboxMessage).where(OutboxMessage.status == StepStatus.PENDING,
                                    OutboxMessage.claimed_by.in_(owners), OutboxMessage.locked_until.is_not(None))
        .values(locked_until=None).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def pending_step(session: Session, incident_id: int, *, kind: str) -> OutboxMessage | None:
    """The first pending outbox row of this kind for the incident, if any."""
    result = session.execute(
        select(OutboxMessage).where(OutboxMessage.incident_id == incident_id, OutboxMessage.kind == kind,
                                    OutboxMessage.status == StepStatus.PENDING).order_by(OutboxMessage.id).limit(1)
    )
    return result.scalar_one_or_none()


def by_pagerduty_id(session: Session, pagerduty_id: str) -> Incident | None:
    """The incident whose page became this PagerDuty incident (newest first)."""
    result = session.execute(
        select(Incident).where(Incident.pagerduty_id == pagerduty_id).order_by(Incident.id.desc()).limit(1)
    )
    return result.scalar_one_or_none()


def steps(session: Session, incident_id: int) -> Sequence[OutboxMessage]:
    """Every outbox row of an incident, in order."""
    result = session.execute(
        select(OutboxMessage).where(OutboxMessage.incident_id == incident_id).order_by(OutboxMessage.id)
    )
    return result.scalars().all()


def pending_before(session: Session, moment: datetime) -> int:
    """How many outbox rows are pending and due by `moment` (the demo and tests wait for this to reach 0)."""
    result = session.execute(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.status == StepStatus.PENDING, OutboxMessage.run_after <= moment)
    )
    return int(result.scalar_one())
