"""SQLAlchemy tables: incidents, their timeline, SNS deliveries and PagerDuty webhook events seen, the outbox,
page outcomes, the weekly report claims, reviews, the messages that follow each incident and its metric graph.

Schema changes go through an Alembic revision in `bot/migrations/versions/` (the app upgrades at start).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.alarms.severity import Severity
from bot.incidents.steps import Lane, StepStatus

E = TypeVar("E", bound=StrEnum)


class IncidentStatus(StrEnum):
    """An incident is open until someone acknowledges it, and resolved when its alarm clears or by hand."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class IncidentSource(StrEnum):
    """Where an incident came from."""

    ALARM = "alarm"
    DECLARED = "declared"


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EnumText(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its plain string value (same column type as before; reads back as the enum)."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    alarm_name: Mapped[str] = mapped_column(String(255))
    alarm_arn: Mapped[str] = mapped_column(String(1024), index=True)
    # Equal to alarm_arn while the incident is not resolved, NULL afterwards: the unique constraint is what keeps
    # one open incident per alarm even when two deliveries race on two replicas.
    open_key: Mapped[str | None] = mapped_column(String(1024), unique=True)
    severity: Mapped[Severity] = mapped_column(EnumText(Severity))
    status: Mapped[IncidentStatus] = mapped_column(EnumText(IncidentStatus), default=IncidentStatus.OPEN)
    source: Mapped[IncidentSource] = mapped_column(EnumText(IncidentSource), default=IncidentSource.ALARM)
    region: Mapped[str] = mapped_column(String(32), default="")
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    last_transition_at: Mapped[datetime]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    channel_id: Mapped[str | None] = mapped_column(String(64))
    channel_name: Mapped[str | None] = mapped_column(String(80))
    alarm: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The PagerDuty incident behind our page (learnt from its webhooks), and when PagerDuty last changed our
    # status: an older PagerDuty event never moves the incident backwards.
    pagerduty_url: Mapped[str | None] = mapped_column(String(1024))
    pagerduty_id: Mapped[str | None] = mapped_column(String(64), index=True)
    pagerduty_changed_at: Mapped[datetime | None]

    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="incident", order_by="TimelineEntry.id", cascade="all, delete-orphan"
    )


class IncidentAlarm(Base):
    """One alarm of an incident: the one that opened it and every correlated alarm that joined it."""

    __tablename__ = "incident_alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    alarm_arn: Mapped[str] = mapped_column(String(1024), index=True)
    alarm_name: Mapped[str] = mapped_column(String(255), index=True)
    # The alarm's last known CloudWatch state (ALARM, OK, INSUFFICIENT_DATA) and when it changed.
    state: Mapped[str] = mapped_column(String(32))
    joined_at: Mapped[datetime]
    changed_at: Mapped[datetime]
    # Equal to alarm_arn while the alarm is an active member of an unresolved incident, NULL afterwards: the unique
    # constraint keeps one unresolved incident per alarm even when deliveries race on two replicas.
    open_key: Mapped[str | None] = mapped_column(String(1024), unique=True)


class Storm(Base):
    """An alarm storm: more incidents opened within the storm window than the threshold. Its digest is one message
    in the alerts channel (`ts`), updated in place; `revision` counts incidents added, `rendered` the last shown."""

    __tablename__ = "storms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "storm" while this storm is the current one, NULL once over: at most one current storm, even across replicas.
    open_key: Mapped[str | None] = mapped_column(String(16), unique=True)
    started_at: Mapped[datetime]
    last_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(Integer, default=0)
    rendered: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[str | None] = mapped_column(String(32))


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class Delivery(Base):
    """One SNS message we accepted; its MessageId is the idempotency key for redeliveries."""

    __tablename__ = "deliveries"

    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    topic_arn: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(32))
    alarm_name: Mapped[str | None] = mapped_column(String(255))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))


class PagerDutyEventSeen(Base):
    """One PagerDuty webhook event we applied; its event id is the idempotency key for redeliveries."""

    __tablename__ = "pagerduty_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))


class OutboxMessage(Base):
    """A side effect to perform (post, page, query…), written in the same transaction as the incident change."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "run_after"), Index("ix_outbox_lane", "incident_id", "lane"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    # Steps of one incident run in order within a lane (chat, pager, reminder); lanes run side by side.
    lane: Mapped[Lane] = mapped_column(EnumText(Lane))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[StepStatus] = mapped_column(EnumText(StepStatus), default=StepStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    # Counted when claimed, before anything is sent: a step claimed before whose outcome was never recorded
    # (a crash, a lost answer) may have reached the vendor, so its executor looks before it acts again.
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The replica (`<replica id>#<pid>`) holding the lease; a restarted replica takes back its own at once.
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class IncidentReview(Base):
    """The post-incident review of one incident: written on the web page (and the Slack review modal)."""

    __tablename__ = "incident_reviews"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    prevention: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class Outcome(Base):
    """How a page turned out (actionable, false-positive, duplicate, missed): the latest classification wins."""

    __tablename__ = "incident_outcomes"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    by: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]


class WeeklyReportClaim(Base):
    """One row per ISO week whose quality report was posted: the primary key is what lets only one replica post."""

    __tablename__ = "weekly_report_claims"

    week: Mapped[str] = mapped_column(String(10), primary_key=True)  # e.g. 2026-W49
    claimed_at: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(128))


class IncidentMessage(Base):
    """A message the bot posted about an incident that follows it (updated in place with chat.update): `role` is
    `summary` (top of the incident channel), `announcement` (alerts channel) or `alert` (a HIGH alert)."""

    __tablename__ = "incident_messages"
    __table_args__ = (UniqueConstraint("incident_id", "role", "channel", name="uq_incident_messages_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime]


class IncidentGraph(Base):
    """The PNG graph of an incident's alarm metric (served at `/api/incidents/{id}/graph.png`)."""

    __tablename__ = "incident_graphs"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    # The file once shared in the incident channel: the summary shows it as an image block.
    slack_file_id: Mapped[str | None] = mapped_column(String(32))


class HealthState(Base):
    """The pipeline health colour last announced in the alerts channel (one row per watched pipeline)."""

    __tablename__ = "health_state"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    colour: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime]
