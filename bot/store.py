"""The database: sessions run on database threads, Alembic upgrades at start.

The app is async, the database work is not: a unit of work is a plain function of a `Session`, and
`Database.run` executes it in one transaction on a database thread, costing the event loop one hand-off instead of
one per statement. SQLite (the embedded default) gets a single thread, so writes of this process queue in order
rather than spinning on the file lock; PostgreSQL gets a small pool. Every SQLite transaction is
`BEGIN IMMEDIATE` in WAL mode, so another process's writer waits on the busy timeout instead of failing halfway
through. Upgrades are serialized across processes (a file lock for SQLite, an advisory lock for PostgreSQL) so
several replicas can start at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x1BC1DE47  # any constant shared by every replica
T = TypeVar("T")


def sync_url(url: str) -> str:
    """The URL with the driver we use: pysqlite or psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _tune_sqlite(engine: Any) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED, which fails under write contention).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine, its session factory, and the thread(s) units of work run on."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            options.update(pool_size=8, max_overflow=4, pool_pre_ping=True)
        self.engine: Engine = create_engine(sync_url(url), **options)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._threads = ThreadPoolExecutor(max_workers=1 if self.is_sqlite else 8, thread_name_prefix="db")

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in one transaction on a database thread: commit on return, roll back on error."""
        context = contextvars.copy_context()  # log context bound by the transport follows the work
        return await asyncio.get_running_loop().run_in_executor(self._threads, context.run, self.transact, work)

    def transact(self, work: Callable[[Session], T]) -> T:
        """The blocking half of `run`, for callers already off the event loop."""
        with self.sessions() as session, session.begin():
            return work(session)

    async def ping(self, timeout: float = 0.9) -> bool:
        """True when the database answers a read within `timeout` seconds.

        It runs on a thread of its own, not the database thread(s): `/readyz` must answer at once even while
        intake waits on a locked SQLite file (busy timeout 10 s) or every PostgreSQL connection is busy.
        """
        try:
            await asyncio.wait_for(asyncio.to_thread(self._probe, timeout), timeout)
        except Exception:
            return False
        return True

    def _probe(self, timeout: float) -> None:
        path = _sqlite_path(self.url)
        if path is None:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        # A connection of its own with a short busy timeout: a held lock fails the probe instead of stalling it.
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout / 2)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """Hold the cross-process lock `name` while the block runs: yields True, or False at once when another
        process (replica) holds it. PostgreSQL: a session advisory lock; SQLite: a lock file beside the database."""
        path = _sqlite_path(self.url)
        if path is None and self.is_sqlite:
            yield True  # an in-memory database belongs to this process alone
            return
        if path is not None:
            # Opening an empty local lock file is as quick as a syscall; not worth a thread hop.
            with open(f"{path}.{name}-lock", "w") as handle:  # noqa: ASYNC230
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        conn = await asyncio.to_thread(self.engine.connect)
        try:
            held = bool(await asyncio.to_thread(
                lambda: conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()))
            try:
                yield held
            finally:
                if held:
                    await asyncio.to_thread(
                        lambda: conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key}))
        finally:
            await asyncio.to_thread(conn.close)

    async def dispose(self) -> None:
        """Close every pooled connection and stop the database threads."""
        await asyncio.get_running_loop().run_in_executor(self._threads, self.engine.dispose)
        self._threads.shutdown(wait=True)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`; safe when several processes call it at once."""
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    try:
        with _migration_lock(url), engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Held until this transaction ends: replicas starting together run the upgrade one after another.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    path = _sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
