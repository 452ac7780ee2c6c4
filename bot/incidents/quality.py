"""Signal-to-noise per alarm from the incident store: pages, outcomes, false-positive rate, MTTA/MTTR, time in
ALARM, and the guide's flags (more than 5 false positives a week, more than 2 missed).

Counted over incidents opened by alarms in [since, until); pages are the openings and reopenings (each one woke
someone) in that span. Declared incidents have no alarm and are counted apart. Medians are the usual median,
p90 the nearest rank.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.incidents.models import Incident, TimelineEntry, WeeklyReportClaim
from bot.incidents.outcomes import KINDS, LABELS, outcomes_of
from bot.presentation.mrkdwn import escape

FP_PER_WEEK = 5
MISSED_PER_WEEK = 2
FLAG_TEXT = {
    "too-many-false-positives": f"more than {FP_PER_WEEK} false positives a week: investigate the threshold",
    "too-many-missed": f"more than {MISSED_PER_WEEK} missed: the alarm finds problems late",
}


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The report of one span: one entry per alarm, most pages first."""

    since: datetime
    until: datetime
    alarms: list[dict[str, Any]]
    declared: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The `report --json` shape."""
        return {"since": _iso(self.since), "until": _iso(self.until), "alarms": self.alarms,
                "declared": self.declared}


def quality_report(session: Session, *, since: datetime, until: datetime) -> QualityReport:
    """Build the report from incidents, their timelines and their outcomes."""
    incidents = session.execute(
        select(Incident).where(Incident.opened_at >= since, Incident.opened_at < until).order_by(Incident.id)
    ).scalars().all()
    outcomes = outcomes_of(session, (i.id for i in incidents))
    entries: dict[int, list[TimelineEntry]] = defaultdict(list)
    if incidents:
        rows = session.execute(
            select(TimelineEntry).where(TimelineEntry.incident_id.in_([i.id for i in incidents]),
                                        TimelineEntry.kind.in_(("opened", "reopened", "resolved")))
            .order_by(TimelineEntry.at, TimelineEntry.id)
        ).scalars()
        for entry in rows:
            entries[entry.incident_id].append(entry)
    by_alarm: dict[str, list[Incident]] = defaultdict(list)
    declared = [i for i in incidents if i.source != "alarm"]
    for incident in incidents:
        if incident.source == "alarm":
            by_alarm[incident.alarm_name].append(incident)
    weeks = max(1.0, (until - since) / timedelta(days=7))
    alarms = [_alarm_row(name, group, outcomes, entries, since=since, until=until, weeks=weeks)
              for name, group in by_alarm.items()]
    alarms.sort(key=lambda row: (-row["pages"], row["alarm"]))
    return QualityReport(since, until, alarms, {
        "incidents": len(declared),
        "missed": sum(1 for i in declared if outcomes.get(i.id) == "missed"),
    })


def _alarm_row(name: str, incidents: Sequence[Incident], outcomes: dict[int, str],
               entries: dict[int, list[TimelineEntry]], *, since: datetime, until: datetime,
               weeks: float) -> dict[str, Any]:
    counts = {kind: sum(1 for i in incidents if outcomes.get(i.id) == kind) for kind in KINDS}
    classified = sum(counts.values())
    pages = sum(1 for i in incidents for e in entries[i.id] if e.kind in ("opened", "reopened")
                and since <= e.at < until)
    flags = []
    if counts["false-positive"] > FP_PER_WEEK * weeks:
        flags.append("too-many-false-positives")
    if counts["missed"] > MISSED_PER_WEEK * weeks:
        flags.append("too-many-missed")
    return {
        "alarm": name,
        "pages": pages,
        "incidents": len(incidents),
        "outcomes": counts | {"unclassified": len(incidents) - classified},
        "false_positives": counts["false-positive"],
        "false_positive_rate": round(counts["false-positive"] / classified, 3) if classified else None,
        "mtta_seconds": _spread([(i.acknowledged_at - i.opened_at).total_seconds()
                                 for i in incidents if i.acknowledged_at]),
        "mttr_seconds": _spread([(i.resolved_at - i.opened_at).total_seconds() for i in incidents if i.resolved_at]),
        "alarm_seconds": round(sum(_in_alarm(entries[i.id], since=since, until=until) for i in incidents)),
        "flags": flags,
    }


def _spread(seconds: list[float]) -> dict[str, float | None]:
    """Median and nearest-rank p90; None for both without samples."""
    if not seconds:
        return {"median": None, "p90": None}
    ordered = sorted(seconds)
    p90 = ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]
    return {"median": round(statistics.median(ordered), 1), "p90": round(p90, 1)}


def _in_alarm(entries: Sequence[TimelineEntry], *, since: datetime, until: datetime) -> float:
    """Seconds between each opening (or reopening) and the next resolution, within [since, until)."""
    total, opened = 0.0, None
    for entry in entries:
        if entry.kind in ("opened", "reopened"):
            opened = opened or entry.at
        elif opened is not None:
            total += _overlap(opened, entry.at, since, until)
            opened = None
    if opened is not None:
        total += _overlap(opened, until, since, until)
    return total


def _overlap(start: datetime, end: datetime, since: datetime, until: datetime) -> float:
    return max(0.0, (min(end, until) - max(start, since)).total_seconds())


def report_text(report: QualityReport) -> str:
    """The report in Slack mrkdwn (also the CLI's text output): one line per alarm, flags last."""
    days = (report.until - report.since) / timedelta(days=1)
    lines = [f"*Alert quality, last {days:g} days* ({report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC)"]
    if not report.alarms:
        lines.append("No alarm opened an incident in this span. :white_check_mark:")
    for row in report.alarms:
        outcomes = ", ".join(f"{n} {LABELS[k]}" for k, n in row["outcomes"].items() if n and k in LABELS)
        unclassified = row["outcomes"]["unclassified"]
        if unclassified:
            outcomes = f"{outcomes}, {unclassified} not classified" if outcomes else f"{unclassified} not classified"
        rate = row["false_positive_rate"]
        parts = [f"{row['pages']} page{'s' if row['pages'] != 1 else ''}",
                 f"{row['incidents']} incident{'s' if row['incidents'] != 1 else ''} ({outcomes})",
                 f"false positives {rate:.0%}" if rate is not None else "false positives n/a",
                 f"MTTA {_span(row['mtta_seconds'])}", f"MTTR {_span(row['mttr_seconds'])}",
                 f"{_duration(row['alarm_seconds'])} in ALARM"]
        line = f"• *{escape(row['alarm'])}*: " + " · ".join(parts)
        for flag in row["flags"]:
            line += f"\n    :triangular_flag_on_post: {FLAG_TEXT[flag]}"
        lines.append(line)
    if report.declared["incidents"]:
        lines.append(f"Declared by hand: {report.declared['incidents']} ({report.declared['missed']} classified "
                     "missed by the alarms).")
    lines.append("_Classify pages with `/incident outcome <actionable|false-positive|duplicate|missed> [id]`._")
    return "\n\n".join(lines)  # one paragraph per alarm: long reports split between alarms into Slack sections


def _span(spread: dict[str, float | None]) -> str:
    median, p90 = spread["median"], spread["p90"]
    if median is None or p90 is None:
        return "n/a"
    return f"median {_duration(median)}, p90 {_duration(p90)}"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def iso_week(moment: datetime) -> str:
    """`2026-W49`: the key of the weekly report's claim."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def claim_week(session: Session, *, week: str, at: datetime, by: str) -> bool:
    """Take the week's report for this replica: True once per week across replicas (the row's key decides)."""
    if session.get(WeeklyReportClaim, week) is not None:
        return False
    session.add(WeeklyReportClaim(week=week, claimed_at=at, claimed_by=by[:128]))
    session.flush()  # a twin replica's insert fails here on the primary key (the caller treats that as taken)
    return True


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
