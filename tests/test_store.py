"""Schema management: fresh and older databases reach head, replicas can upgrade at once, models match."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from bot.incidents.models import Base
from bot.store import current_revision, sync_url, upgrade


def test_fresh_database_reaches_head(database_url: str) -> None:
    """An empty database is brought to the newest revision."""
    upgrade(database_url)
    assert current_revision(database_url) == "0005_exactly_claims"


def test_older_database_keeps_its_incidents(database_url: str) -> None:
    """A database at the first revision, with an incident in it, upgrades and keeps the incident."""
    upgrade(database_url, "0001")
    engine = create_engine(sync_url(database_url))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO incidents (title, alarm_name, alarm_arn, open_key, severity, status, source, region, "
            "opened_at, last_transition_at, reopen_count, alarm) VALUES ('t', 'a', 'arn', 'arn', 'CRITICAL', 'open', "
            "'alarm', 'us-east-1', :now, :now, 0, '{}')"), {"now": now})
    upgrade(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT title, acknowledged_by FROM incidents")).one() == ("t", None)
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar() == 0
    engine.dispose()


def test_models_match_migrations(database_url: str) -> None:
    """The SQLAlchemy models and the Alembic revisions describe the same schema."""
    upgrade(database_url)
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def _upgrade(url: str) -> None:
    upgrade(url)


@pytest.mark.slow
def test_replicas_starting_together_upgrade_once(database_url: str) -> None:
    """Four processes upgrading the same empty database at once all succeed and leave it at head."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_upgrade, args=(database_url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert current_revision(database_url) == "0005_exactly_claims"
