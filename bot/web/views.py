"""What each page shows, read in one database transaction per page: plain data for the templates.

Domain objects in, dicts and dataclasses out; no HTTP here beyond the types the pages pass in.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from bot.alarms.models import alarm_from_body
from bot.errors import BadInput, ConfigError
from bot.incidents import listing, repository, stats
from bot.incidents.listing import IncidentFilter
from bot.incidents.models import Incident, IncidentReview, TimelineEntry
from bot.incidents.playbook import Playbook
from bot.incidents.review import ReviewFields, get_review
from bot.web import present

GRAPH_ROUTE = "/api/incidents/{incident_id}/graph.png"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the incident list."""

    incident: Incident
    mtta: float | None
    mttr: float | None


@dataclass(frozen=True, slots=True)
class ListView:
    rows: list[Row]
    next_cursor: str | None
    alarms: list[str]


@dataclass(slots=True)
class Entry:
    """One timeline entry as shown: its text, the tables of a query result, the lines of a posted message."""

    at: datetime
    kind: str
    summary: str
    details: list[str] = field(default_factory=list)
    tables: list[present.Table] = field(default_factory=list)


@dataclass(slots=True)
class DetailView:
    incident: Incident
    mtta: float | None
    mttr: float | None
    links: list[tuple[str, str]]
    page_status: str | None
    alarm: dict[str, Any] | None
    timeline: list[Entry]
    runbook_html: Any
    review: IncidentReview | None


def incident_list(session: Session, where: IncidentFilter, *, limit: int, cursor: str | None) -> ListView:
    """The list page: one page of incidents with MTTA/MTTR, and the alarm names for the filter."""
    found = listing.page(session, where, limit=limit, cursor=cursor)
    rows = [Row(i, present.span_minutes(i.opened_at, i.acknowledged_at),
                present.span_minutes(i.opened_at, i.resolved_at)) for i in found.incidents]
    return ListView(rows=rows, next_cursor=found.next_cursor, alarms=listing.alarm_names(session))


def incident_detail(session: Session, incident_id: int, *, playbook: Playbook, team_id: str) -> DetailView | None:
    """The incident page, or None when there is no such incident."""
    incident = repository.get(session, incident_id)
    if incident is None:
        return None
    entries = repository.timeline(session, incident_id)
    links: list[tuple[str, str]] = []
    if incident.channel_id and not incident.channel_id.startswith("R-"):
        team = f"&team={quote(team_id)}" if team_id else ""
        links.append((f"Slack #{incident.channel_name}",
                      f"https://slack.com/app_redirect?channel={quote(incident.channel_id)}{team}"))
    alarm, runbook_html = None, None
    if incident.alarm:
        with suppress(BadInput, ConfigError):
            event = alarm_from_body(incident.alarm)
            context = playbook.context(event, incident_id=incident.id, channel=incident.channel_name)
            alarm = {**context["alarm"], "metric": context.get("metric"), "condition": context.get("condition_text"),
                     "observed": context.get("observed_text"), "threshold": context.get("threshold_text")}
            named = {"alarm": "CloudWatch alarm", "dashboard": "Dashboard", "logs_insights": "Logs Insights",
                     "runbook": "Runbook"}
            links += [(label, context["links"][key]) for key, label in named.items() if context["links"].get(key)]
            runbook_html = present.markdown(playbook.runbook(event, context), shift_headings=2)
    return DetailView(
        incident=incident, mtta=present.span_minutes(incident.opened_at, incident.acknowledged_at),
        mttr=present.span_minutes(incident.opened_at, incident.resolved_at), links=links,
        page_status=_page_status(entries), alarm=alarm, timeline=[_entry(e) for e in entries],
        runbook_html=runbook_html, review=get_review(session, incident_id),
    )


def review_form(session: Session, incident_id: int) -> tuple[Incident, ReviewFields, IncidentReview | None] | None:
    """The incident, its review's fields (empty when none yet) and the stored review, or None."""
    incident = repository.get(session, incident_id)
    if incident is None:
        return None
    review = get_review(session, incident_id)
    return incident, ReviewFields.of(review), review


def weekly_stats(session: Session, *, now: datetime) -> stats.Stats:
    """The stats page's figures."""
    return stats.weekly(session, now=now)


def _page_status(entries: list[TimelineEntry] | Any) -> str | None:
    pages = [e for e in entries if e.kind == "page"]
    if not pages:
        return None
    return str(pages[-1].summary)


def _entry(entry: TimelineEntry) -> Entry:
    shown = Entry(at=entry.at, kind=entry.kind, summary=entry.summary)
    data = entry.data or {}
    blocks = data.get("blocks")
    if isinstance(blocks, list):
        shown.tables = present.query_tables(blocks)
        if entry.kind != "query":
            shown.details = present.block_texts(blocks)[:6]
    elif data.get("text"):
        shown.details = [str(data["text"])]
    if entry.kind == "alarm" and data.get("reason"):
        shown.details.append(str(data["reason"]))
    return shown
