"""Shared fixtures: databases (SQLite and the real PostgreSQL), SNS signing, and the app under test."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.sns.signing import SnsSigner, generate_identity

pytest_plugins = ["tests.fakes.fixtures", "tests.support.app", "tests.support.moto"]

FIXTURES = Path(__file__).parent / "fixtures"
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _root_logging_as_pytest_set_it() -> Iterator[None]:
    """A CLI test (`demo`, `serve`) configures logging for the process: its handler writes to that test's captured
    stderr, closed afterwards. Each test gets the root logger back as pytest set it, so later log lines reach
    pytest's capture instead of a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _postgres_reason() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at 127.0.0.1:5432 does not answer ({type(exc).__name__})"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session (skipped if no server, failed under CI=true)."""
    reason = _postgres_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI needs it")
        pytest.skip(reason)
    name = f"incident_bot_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a fresh SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'incident-bot.db'}"
        return
    url = request.getfixturevalue("postgres_server")
    _reset_postgres(url)
    yield url


def _reset_postgres(url: str) -> None:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(scope="session")
def sns_identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[SnsSigner, Path]:
    """A signing key and its self-signed certificate, made for this run (nothing downloaded)."""
    key, cert = generate_identity(tmp_path_factory.mktemp("sns-identity"))
    return SnsSigner.from_file(key), cert


@pytest.fixture
def signer(sns_identity: tuple[SnsSigner, Path]) -> SnsSigner:
    """Signs SNS deliveries the way AWS does."""
    return sns_identity[0]
