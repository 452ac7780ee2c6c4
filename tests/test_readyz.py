"""`/readyz` answers within a second, even when another process holds the SQLite file locked."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.app import BotFactory


async def test_readyz_answers_fast_while_sqlite_is_locked(make_bot: BotFactory, database_url: str) -> None:
    """An exclusive lock held by another connection makes /readyz say 503 within 1 s, then ready again."""
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite file lock")
    path = Path(database_url.removeprefix("sqlite:///"))
    async with make_bot() as bot:
        assert (await bot.client.get("/readyz")).status_code == 200
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("CREATE TABLE IF NOT EXISTS lock_probe (x)")
        try:
            started = time.monotonic()
            answer = await bot.client.get("/readyz")
            elapsed = time.monotonic() - started
            assert elapsed < 1.0, elapsed
            assert answer.status_code == 503 and answer.json() == {"error": "database unreachable"}
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert (await bot.client.get("/readyz")).status_code == 200
