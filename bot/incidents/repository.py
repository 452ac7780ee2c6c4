"""Queries over incidents, timeline and outbox: select() statements only, no business rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, Select, and_, bindparam, exists, func, or_, select, text, update
from sqlalchemy.orm import Session, aliased, selectinload

from bot.incidents.models import (
    Incident,
    IncidentAlarm,
    IncidentGraph,
    IncidentMessage,
    IncidentSource,
    IncidentStatus,
    OutboxMessage,
    Storm,
    TimelineEntry,
)
from bot.incidents.steps import Lane, StepStatus

# Any constant shared by every replica: correlated alarms are applied one at a time (PostgreSQL; SQLite's
# BEGIN IMMEDIATE already serializes writers), so two related alarms racing on two replicas make one incident.
_CORRELATION_LOCK = 0x1BC1DE48


def open_for_alarm(session: Session, alarm_arn: str) -> Incident | None:
    """The unresolved incident this alarm is an active member of, if any."""
    row = open_alarm(session, alarm_arn)
    return session.get(Incident, row.incident_id) if row else None


def open_alarm(session: Session, alarm_arn: str) -> IncidentAlarm | None:
    """The alarm's membership of its unresolved incident, if any."""
    result = session.execute(select(IncidentAlarm).where(IncidentAlarm.open_key == alarm_arn))
    return result.scalar_one_or_none()


def latest_for_alarm(session: Session, alarm_arn: str) -> Incident | None:
    """The most recently opened incident this alarm belongs (or belonged) to, resolved or not."""
    result = session.execute(
        select(Incident).join(IncidentAlarm, IncidentAlarm.incident_id == Incident.id)
        .where(IncidentAlarm.alarm_arn == alarm_arn).order_by(Incident.id.desc()).limit(1)
    )
    return result.scalar_one_or_none()


def membership(session: Session, incident_id: int, alarm_arn: str) -> IncidentAlarm | None:
    """The latest row of `alarm_arn` in incident `incident_id`, active or not."""
    result = session.execute(
        select(IncidentAlarm).where(IncidentAlarm.incident_id == incident_id, IncidentAlarm.alarm_arn == alarm_arn)
        .order_by(IncidentAlarm.id.desc()).limit(1)
    )
    return result.scalar_one_or_none()


def alarms(session: Session, incident_id: int, *, active: bool = False) -> Sequence[IncidentAlarm]:
    """The incident's alarms in joining order (only those still tracking the open incident when `active`)."""
    statement = select(IncidentAlarm).where(IncidentAlarm.incident_id == incident_id).order_by(IncidentAlarm.id)
    if active:
        statement = statement.where(IncidentAlarm.open_key.is_not(None))
    return session.execute(statement).scalars().all()


def correlation_candidates(session: Session, alarm_names: Sequence[str], *, region: str,
                           opened_since: datetime) -> Sequence[Incident]:
    """Alarm incidents of `region` holding one of `alarm_names` that are unresolved or opened since
    `opened_since`: unresolved first, then newest first."""
    if not alarm_names:
        return []
    result = session.execute(
        select(Incident).join(IncidentAlarm, IncidentAlarm.incident_id == Incident.id)
        .where(IncidentAlarm.alarm_name.in_(list(alarm_names)), Incident.source == IncidentSource.ALARM,
               Incident.region == region,
               or_(Incident.resolved_at.is_(None), Incident.opened_at >= opened_since))
        .order_by(Incident.resolved_at.is_not(None), Incident.id.desc())
    )
    return list(dict.fromkeys(result.scalars().all()))


def lock_correlation(session: Session) -> None:
    """Apply correlated alarms one at a time until this transaction ends (a no-op on SQLite, already serial)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CORRELATION_LOCK})


def opened_since(session: Session, moment: datetime) -> int:
    """How many incidents alarms opened at or after `moment`."""
    result = session.execute(
        select(func.count()).select_from(Incident)
        .where(Incident.source == IncidentSource.ALARM, Incident.opened_at >= moment)
    )
    return int(result.scalar_one())


def current_storm(session: Session) -> Storm | None:
    """The storm under way (or last under way, not yet closed), if any."""
    return session.execute(select(Storm).where(Storm.open_key.is_not(None))).scalar_one_or_none()


def storm_incidents(session: Session, storm: Storm) -> Sequence[Incident]:
    """Alarm incidents opened during the storm (its window included), oldest first."""
    result = session.execute(
        select(Incident).where(Incident.source == IncidentSource.ALARM, Incident.opened_at >= storm.started_at,
                               Incident.opened_at <= storm.last_at).order_by(Incident.id)
    )
    return result.scalars().all()


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


def alarm_states(session: Session, incident: Incident) -> list[tuple[str, str]]:
    """The incident's alarms with their last known state, oldest first, as its messages list them (a declared
    incident has none)."""
    return [(member.alarm_name, member.state) for member in alarms(session, incident.id)]


def keep_message(session: Session, *, incident_id: int, role: str, channel: str, ts: str, at: datetime) -> None:
    """Remember a message that follows the incident (one per role and channel; a repost replaces the ts)."""
    found = session.execute(
        select(IncidentMessage).where(IncidentMessage.incident_id == incident_id, IncidentMessage.role == role,
                                      IncidentMessage.channel == channel)
    ).scalar_one_or_none()
    if found is None:
        session.add(IncidentMessage(incident_id=incident_id, role=role, channel=channel, ts=ts, posted_at=at))
    else:
        found.ts, found.posted_at = ts, at


def living_messages(session: Session, incident_id: int) -> Sequence[IncidentMessage]:
    """The messages that follow the incident, oldest first."""
    result = session.execute(
        select(IncidentMessage).where(IncidentMessage.incident_id == incident_id).order_by(IncidentMessage.id)
    )
    return result.scalars().all()


def save_graph(session: Session, *, incident_id: int, png: bytes, at: datetime) -> None:
    """Keep (or replace) the incident's metric graph."""
    found = session.get(IncidentGraph, incident_id)
    if found is None:
        session.add(IncidentGraph(incident_id=incident_id, png=png, created_at=at))
    else:
        found.png, found.created_at = png, at


def share_graph(session: Session, *, incident_id: int, file_id: str) -> None:
    """Remember the chat file the incident's graph was shared as."""
    found = session.get(IncidentGraph, incident_id)
    if found is not None:
        found.slack_file_id = file_id[:32] or None


def graph_file(session: Session, incident_id: int) -> str | None:
    """The chat file id of the incident's shared graph, or None."""
    found = session.get(IncidentGraph, incident_id)
    return found.slack_file_id if found else None


def graph(session: Session, incident_id: int) -> bytes | None:
    """The incident's metric graph as PNG bytes, or None."""
    found = session.get(IncidentGraph, incident_id)
    return found.png if found else None
