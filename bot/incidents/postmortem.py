"""The post-incident context, filled from the timeline (transitions, page, acknowledgement, MTTA/MTTR, queries,
how the page turned out) and from the review people wrote (summary, root cause, impact, prevention, owner)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.incidents.models import Incident, IncidentReview, TimelineEntry
from bot.incidents.outcomes import LABELS


def postmortem_context(incident: Incident, timeline: Sequence[TimelineEntry],
                       review: IncidentReview | None = None) -> dict[str, Any]:
    """Everything `runbooks/post-incident.md` renders, with None where the timeline or the review has nothing."""
    paged = next((e for e in timeline if e.kind == "page" and e.data.get("action") == "trigger"), None)
    resolution = next((e for e in reversed(timeline) if e.kind == "resolved"), None)
    # The first acknowledgement counts, even when it was later withdrawn (unacknowledged, reopened).
    first_ack = next((e for e in timeline if e.kind == "acknowledged"), None)
    acknowledged_at = first_ack.at if first_ack else incident.acknowledged_at
    classified = next((e for e in reversed(timeline) if e.kind == "outcome"), None)
    return {
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "alarm_name": incident.alarm_name,
            "alarm_arn": incident.alarm_arn,
            "opened_at": _iso(incident.opened_at),
            "acknowledged_at": _iso(acknowledged_at),
            "resolved_at": _iso(incident.resolved_at),
            "channel": incident.channel_name,
            "pagerduty_url": incident.pagerduty_url,
        },
        # Who resolved it where: "in PagerDuty by Alice Oncall", "by U123" (Slack), "alarm back to OK".
        "resolved_how": _resolved_how(resolution.data) if resolution else None,
        "mtta_minutes": _minutes(incident.opened_at, acknowledged_at),
        "mttr_minutes": _minutes(incident.opened_at, incident.resolved_at),
        "paged_at": _iso(paged.at) if paged else None,
        "page_status": (paged.data.get("status") if paged else None) or ("not paged" if paged is None else "sent"),
        "timeline": [{"at": _iso(e.at), "kind": e.kind, "summary": e.summary} for e in timeline],
        "transitions": [
            {"at": _iso(e.at), "old_state": e.data.get("old_state"), "new_state": e.data.get("new_state"),
             "reason": e.data.get("reason", "")}
            for e in timeline if e.kind == "alarm"
        ],
        "queries": [{"name": e.data.get("query", ""), "headline": e.summary} for e in timeline if e.kind == "query"],
        "summary": (review.summary or None) if review else None,
        "root_cause": (review.root_cause or None) if review else None,
        "prevention": (review.prevention or None) if review else None,
        "impact": (review.impact or None) if review else None,
        "owner": (review.owner or None) if review else None,
        "review": {"by": review.updated_by, "at": _iso(review.updated_at)} if review else None,
        "outcome": _outcome(classified),
    }


def _resolved_how(data: dict[str, Any]) -> str:
    by, source = data.get("by"), data.get("source")
    if source == "pagerduty":
        return f"in PagerDuty by {by}" if by else "in PagerDuty"
    return f"by {by}" if by else "alarm back to OK"


def _outcome(entry: TimelineEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    kind = str(entry.data.get("outcome") or "")
    return {"kind": kind, "label": LABELS.get(kind, kind), "by": entry.data.get("by"), "at": _iso(entry.at)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() / 60, 1) if end else None
