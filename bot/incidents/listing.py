"""Incidents newest first, filtered and paged by an opaque cursor (the API's and the web list's one query).

The cursor carries the id of the last incident shown: ids only grow, so a page never repeats or skips an
incident, even while new ones arrive. To add a filter: a field on `IncidentFilter` and a clause in `_where`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.errors import BadInput
from bot.incidents.models import Incident

STATUSES = ("open", "acknowledged", "resolved")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
MAX_LIMIT = 1000
TEXT_MAX = 200


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """Which incidents to list; None means any. `since`/`until` bound the opening time, `text` searches titles
    and alarm names (case-insensitive)."""

    status: str | None = None
    severity: str | None = None
    alarm: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise BadInput("status must be open, acknowledged or resolved")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise BadInput("severity must be CRITICAL, HIGH, MEDIUM or LOW")
        if self.text is not None and len(self.text) > TEXT_MAX:
            raise BadInput(f"text search is longer than {TEXT_MAX} characters")
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise BadInput(f"{name} needs a time zone (e.g. 2026-12-01T10:00:00Z)")
        if self.since and self.until and self.since > self.until:
            raise BadInput("since is after until")

    @classmethod
    def parse(cls, *, status: str | None = None, severity: str | None = None, alarm: str | None = None,
              since: str | None = None, until: str | None = None, text: str | None = None) -> IncidentFilter:
        """A filter from query-string values: empty means any; dates are UTC days (`until` includes its day)."""
        return cls(status=status or None, severity=(severity or "").upper() or None, alarm=alarm or None,
                   since=parse_moment(since, name="since"), until=parse_moment(until, name="until", end_of_day=True),
                   text=(text or "").strip() or None)


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """One page of incidents and the cursor of the next one (None on the last page)."""

    incidents: Sequence[Incident]
    next_cursor: str | None


def page(session: Session, where: IncidentFilter, *, limit: int, cursor: str | None = None) -> IncidentPage:
    """Up to `limit` incidents matching `where`, newest first, after `cursor`; raises BadInput on a bad cursor."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"limit must be between 1 and {MAX_LIMIT}")
    statement = select(Incident).where(*_where(where)).order_by(Incident.id.desc()).limit(limit + 1)
    if cursor:
        statement = statement.where(Incident.id < decode_cursor(cursor))
    rows = session.execute(statement).scalars().all()
    more = len(rows) > limit
    shown = rows[:limit]
    return IncidentPage(shown, encode_cursor(shown[-1].id) if more and shown else None)


def alarm_names(session: Session) -> list[str]:
    """Every alarm name that has an incident, sorted (for the list page's filter)."""
    return list(session.execute(select(Incident.alarm_name).distinct().order_by(Incident.alarm_name)).scalars())


def parse_moment(value: str | None, *, name: str, end_of_day: bool = False) -> datetime | None:
    """`2026-12-01` or an ISO 8601 time; without a zone it is UTC. A bare `until` day runs to its last second."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{name} must be a date (2026-12-01) or an ISO 8601 time") from None
    if end_of_day and "T" not in value and " " not in value.strip():
        moment += timedelta(days=1) - timedelta(microseconds=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def encode_cursor(last_id: int) -> str:
    """The opaque cursor that continues after incident `last_id`."""
    return base64.urlsafe_b64encode(f"before:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The incident id a cursor continues after; raises BadInput for anything we did not issue."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput("cursor is not one this API issued") from None
    prefix, _, number = text.partition(":")
    if prefix != "before" or not number.isdigit():
        raise BadInput("cursor is not one this API issued")
    return int(number)


def _where(where: IncidentFilter) -> list[Any]:
    clauses: list[Any] = []
    if where.status:
        clauses.append(Incident.status == where.status)
    if where.severity:
        clauses.append(Incident.severity == where.severity)
    if where.alarm:
        clauses.append(Incident.alarm_name == where.alarm)
    if where.since:
        clauses.append(Incident.opened_at >= where.since)
    if where.until:
        clauses.append(Incident.opened_at <= where.until)
    if where.text:
        # LIKE wildcards typed by a person are meant literally.
        needle = "%" + where.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(or_(func.lower(Incident.title).like(needle, escape="\\"),
                           func.lower(Incident.alarm_name).like(needle, escape="\\")))
    return clauses
