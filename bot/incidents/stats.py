"""Incident statistics for the stats page: incidents per week and per alarm, MTTA and MTTR per week.

Computed from the incidents opened in the window (medians, so one forgotten incident does not hide a trend).
To add a figure: a field on `WeekStats` filled in `weekly`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.incidents.models import Incident


@dataclass(frozen=True, slots=True)
class WeekStats:
    """One ISO week (starting Monday 00:00 UTC): how many incidents opened, median MTTA/MTTR in minutes."""

    start: datetime
    count: int
    mtta_minutes: float | None
    mttr_minutes: float | None


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything the stats page shows."""

    weeks: list[WeekStats]
    per_alarm: list[tuple[str, int]]
    total: int


def weekly(session: Session, *, now: datetime, weeks: int = 12, top_alarms: int = 10) -> Stats:
    """The last `weeks` weeks up to `now`, oldest first, and the alarms with the most incidents in them."""
    first = _monday(now) - timedelta(weeks=weeks - 1)
    rows = session.execute(
        select(Incident.alarm_name, Incident.opened_at, Incident.acknowledged_at, Incident.resolved_at)
        .where(Incident.opened_at >= first)
    ).all()
    buckets: dict[datetime, list[tuple[float | None, float | None]]] = {
        first + timedelta(weeks=i): [] for i in range(weeks)
    }
    alarms: Counter[str] = Counter()
    for alarm_name, opened, acknowledged, resolved in rows:
        week = _monday(opened)
        if week in buckets:
            buckets[week].append((_minutes(opened, acknowledged), _minutes(opened, resolved)))
            alarms[alarm_name] += 1
    return Stats(
        weeks=[WeekStats(start=start, count=len(items), mtta_minutes=_median([a for a, _ in items]),
                         mttr_minutes=_median([r for _, r in items])) for start, items in buckets.items()],
        per_alarm=alarms.most_common(top_alarms),
        total=sum(alarms.values()),
    )


def _monday(moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() / 60 if end else None


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(median(known), 1) if known else None
