"""The post-incident review: saved with who and when, replaced on a second save, refused when malformed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from bot.errors import BadInput
from bot.incidents.models import Incident
from bot.incidents.postmortem import postmortem_context
from bot.incidents.review import ReviewFields, get_review, save_review
from bot.store import Database, upgrade

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Database:
    """A migrated database with one incident (#1)."""
    upgrade(database_url)
    database = Database(database_url)

    def add(session: Session) -> None:
        session.add(Incident(title="DLQ spike", alarm_name="a", alarm_arn="arn", severity="CRITICAL",
                             status="resolved", source="alarm", region="us-east-1", opened_at=AT,
                             last_transition_at=AT, reopen_count=0, alarm={}))

    database.transact(add)
    return database


def test_saving_twice_keeps_one_review_with_the_last_author(db: Database) -> None:
    """The second save replaces the fields and records its author and time; each save is on the timeline."""
    db.transact(lambda s: save_review(session=s, incident_id=1, by="U1", at=AT,
                                      review=ReviewFields(summary=" first ", owner="@a")))
    later = AT.replace(hour=11)
    db.transact(lambda s: save_review(session=s, incident_id=1, by="U2", at=later,
                                      review=ReviewFields(summary="second", root_cause="cause\r\nline 2")))

    def check(session: Session) -> None:
        review = get_review(session, 1)
        assert review is not None
        assert (review.summary, review.root_cause, review.owner) == ("second", "cause\nline 2", "")
        assert (review.updated_by, review.updated_at) == ("U2", later)
        incident = session.get(Incident, 1)
        assert incident is not None
        context = postmortem_context(incident, [], review)
        assert context["summary"] == "second" and context["owner"] is None
        assert context["review"] == {"by": "U2", "at": "2026-12-01T11:00:00Z"}
        kinds = [e.kind for e in session.get(Incident, 1).timeline]  # type: ignore[union-attr]
        assert kinds == ["review", "review"]

    db.transact(check)
    db.engine.dispose()


def test_bad_reviews_are_refused(db: Database) -> None:
    """An unknown incident, an owner on two lines or an over-long field raise BadInput naming the field."""
    cases = [(2, ReviewFields(summary="x"), "no incident #2"),
             (1, ReviewFields(owner="a\nb"), "Owner must be one line"),
             (1, ReviewFields(prevention="x" * 3001), "Prevention is longer than 3,000 characters")]
    for incident_id, review, reason in cases:
        with pytest.raises(BadInput, match=reason):
            db.transact(lambda s, i=incident_id, r=review: save_review(session=s, incident_id=i, review=r,
                                                                       by=None, at=AT))
    assert db.transact(lambda s: get_review(s, 1)) is None
    db.engine.dispose()
