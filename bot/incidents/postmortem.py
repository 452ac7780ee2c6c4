"""The post-incident context, filled from the timeline: transitions, page, acknowledgement, MTTA/MTTR, queries,
and how the page turned out (the latest outcome noted)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.incidents.models import Incident, TimelineEntry
from bot.incidents.outcomes import LABELS


def postmortem_context(incident: Incident, timeline: Sequence[TimelineEntry]) -> dict[str, Any]:
    """Everything `runbooks/post-incident.md` renders, with None where the timeline has nothing."""
    paged = next((e for e in timeline if e.kind == "page" and e.data.get("action") == "trigger"), None)
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
            "acknowledged_at": _iso(incident.acknowledged_at),
            "resolved_at": _iso(incident.resolved_at),
            "channel": incident.channel_name,
        },
        "mtta_minutes": _minutes(incident.opened_at, incident.acknowledged_at),
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
        "outcome": _outcome(classified),
        "root_cause": None,
        "prevention": None,
        "impact": None,
    }


def _outcome(entry: TimelineEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    kind = str(entry.data.get("outcome") or "")
    return {"kind": kind, "label": LABELS.get(kind, kind), "by": entry.data.get("by"), "at": _iso(entry.at)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() / 60, 1) if end else None
