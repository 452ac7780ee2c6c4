"""`incident-bot` commands: deploy (placeholder, filled in by its issue)."""

from __future__ import annotations

from bot.cli.app import app  # noqa: F401
