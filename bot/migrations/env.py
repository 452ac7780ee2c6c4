"""Alembic environment: always run by `bot.store.upgrade`, which passes an open connection."""

from __future__ import annotations

from alembic import context

from bot.incidents.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
