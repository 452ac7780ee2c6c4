"""How each page turned out: actionable, false positive, duplicate, or missed (found late).

`record_outcome` is the one way in, whichever transport calls it (`/incident outcome`, the buttons on the resolved
message); the latest classification wins and every one is noted on the timeline, which is where the
post-incident report reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import BadInput
from bot.incidents import repository
from bot.incidents.models import Incident, Outcome, TimelineEntry

KINDS = ("actionable", "false-positive", "duplicate", "missed")
LABELS = {"actionable": "actionable", "false-positive": "false positive", "duplicate": "duplicate",
          "missed": "missed (found late)"}


def parse_kind(text: str) -> str:
    """`actionable`, `false-positive` (also `fp`, `false_positive`), `duplicate`, `missed`; BadInput otherwise."""
    word = text.strip().lower().replace("_", "-")
    word = {"fp": "false-positive", "falsepositive": "false-positive", "dup": "duplicate"}.get(word, word)
    if word not in KINDS:
        # Transports escape error reasons where they show them (Slack: the Bolt error handler).
        raise BadInput(f"unknown outcome '{text.strip()[:30]}'; use one of {', '.join(KINDS)}")
    return word


def record_outcome(session: Session, incident_id: int, kind: str, by: str | None, at: datetime) -> Incident:
    """Classify incident `incident_id` as `kind` (replacing an earlier classification) and note it on the timeline;
    raises BadInput for an unknown incident or kind."""
    kind = parse_kind(kind)
    incident = repository.get(session, incident_id)
    if incident is None:
        raise BadInput(f"no incident #{incident_id}")
    row = session.get(Outcome, incident_id)
    before = row.kind if row is not None else None
    if row is None:
        session.add(Outcome(incident_id=incident_id, kind=kind, by=by, at=at))
    else:
        row.kind, row.by, row.at = kind, by, at
    change = f" (was {LABELS[before]})" if before and before != kind else ""
    session.add(TimelineEntry(incident_id=incident_id, at=at, kind="outcome",
                              summary=f"Classified {LABELS[kind]} by {by or 'someone'}{change}",
                              data={"outcome": kind, "by": by, "previous": before}))
    return incident


def outcomes_of(session: Session, incident_ids: Iterable[int]) -> dict[int, str]:
    """The recorded outcome of each incident that has one."""
    ids = list(incident_ids)
    if not ids:
        return {}
    rows = session.execute(select(Outcome.incident_id, Outcome.kind).where(Outcome.incident_id.in_(ids)))
    return {incident_id: kind for incident_id, kind in rows}
