"""Slack app (Bolt) mounted at /slack/events — placeholder until the Slack issue lands."""

from __future__ import annotations

from fastapi import FastAPI

from bot.settings import Settings


def mount_slack(app: FastAPI, settings: Settings) -> None:
    """Mount the Slack endpoints on `app`."""
