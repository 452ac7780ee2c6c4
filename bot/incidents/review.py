"""The post-incident review: five fields people write after an incident, saved with who and when.

The web page (`/incidents/{id}/review`) and the Slack review modal store the same fields through `save_review`;
the post-incident report (`runbooks/post-incident.md`) shows them. To add a field: a column on
`IncidentReview` (with an Alembic revision), an entry in `FIELDS`, and the report template.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.orm import Session

from bot.errors import BadInput
from bot.incidents import repository
from bot.incidents.models import IncidentReview, TimelineEntry

# Slack's plain_text_input holds at most 3,000 characters: the same limit here keeps both doors equal.
TEXT_MAX = 3000
OWNER_MAX = 200


@dataclass(frozen=True, slots=True)
class ReviewFields:
    """What a person writes; empty strings for what is not written yet."""

    summary: str = ""
    root_cause: str = ""
    impact: str = ""
    prevention: str = ""
    owner: str = ""

    @classmethod
    def of(cls, review: IncidentReview | None) -> ReviewFields:
        """The fields of a stored review (all empty when there is none)."""
        if review is None:
            return cls()
        return cls(summary=review.summary, root_cause=review.root_cause, impact=review.impact,
                   prevention=review.prevention, owner=review.owner)


# (field, label) in the order people fill them in; the labels are the web form's and the Slack modal's.
FIELDS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"), ("root_cause", "Root cause"), ("impact", "Impact"), ("prevention", "Prevention"),
    ("owner", "Owner"),
)


def get_review(session: Session, incident_id: int) -> IncidentReview | None:
    """The incident's review, or None when nobody wrote one yet."""
    return session.get(IncidentReview, incident_id)


def save_review(*, session: Session, incident_id: int, review: ReviewFields, by: str | None,
                at: datetime) -> IncidentReview:
    """Create or replace the review of an incident and note it on the timeline; raises BadInput on bad fields."""
    cleaned = _checked(review)
    if repository.get(session, incident_id) is None:
        raise BadInput(f"no incident #{incident_id}")
    stored = session.get(IncidentReview, incident_id)
    if stored is None:
        stored = IncidentReview(incident_id=incident_id, updated_at=at)
        session.add(stored)
    for item in fields(ReviewFields):
        setattr(stored, item.name, getattr(cleaned, item.name))
    stored.updated_by, stored.updated_at = by, at
    session.add(TimelineEntry(incident_id=incident_id, at=at, kind="review",
                              summary=f"Post-incident review saved by {by or 'someone'}", data={"by": by}))
    return stored


def _checked(review: ReviewFields) -> ReviewFields:
    values: dict[str, str] = {}
    for name, label in FIELDS:
        text = getattr(review, name).replace("\r\n", "\n").strip()
        limit = OWNER_MAX if name == "owner" else TEXT_MAX
        if len(text) > limit:
            raise BadInput(f"{label} is longer than {limit:,} characters")
        if name == "owner" and "\n" in text:
            raise BadInput("Owner must be one line")
        values[name] = text
    return ReviewFields(**values)
