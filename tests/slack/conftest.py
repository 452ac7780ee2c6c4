"""Fixtures for the Slack app tests: a bot with Slack configured against the fake Slack, and a signed client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_adapters
from bot.incidents.ports import LogSearch, QueryResult
from bot.settings import Settings
from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET, SlackUser
from tests.support.app import Bot, BotFactory


@dataclass
class RecordingLogSearch:
    """The real log engine, remembering every query it was asked to run (a port fake, not a patch)."""

    engine: LogSearch
    queries: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    async def run(self, query: str, *, start: datetime, end: datetime, limit: int | None = None) -> QueryResult:
        """Record, then run on the real engine."""
        self.queries.append((query, start, end))
        return await self.engine.run(query, start=start, end=end, limit=limit)


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    """The directory the bot's LOCAL_LOGS glob (`tmp_path/logs/*.jsonl`) reads."""
    path = tmp_path / "logs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def log_search(logs_dir: Path) -> RecordingLogSearch:
    """The DuckDB engine over `logs_dir`, recording the queries the bot runs."""
    settings = Settings(_env_file=None, local_logs=str(logs_dir / "*.jsonl"))
    return RecordingLogSearch(build_adapters(settings).logs)


@pytest.fixture
async def slack_bot(make_bot: BotFactory, fake_slack: FakeSlack, log_search: RecordingLogSearch,
                    ) -> AsyncIterator[Bot]:
    """A running bot whose Slack app verifies with SIGNING_SECRET and whose Web API is the fake Slack."""
    overrides: dict[str, Any] = {"slack_signing_secret": SIGNING_SECRET, "slack_bot_token": SLACK_TOKEN,
                 "slack_api_url": fake_slack.api_url}
    adapters = build_adapters(Settings(_env_file=None, **overrides))
    adapters.logs = log_search
    async with make_bot(adapters=adapters, **overrides) as bot:
        yield bot


@pytest.fixture
def alice(slack_bot: Bot, fake_slack: FakeSlack) -> SlackUser:
    """Alice, typing commands and pressing buttons in #alerts."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    return SlackUser(bot=slack_bot, fake=fake_slack, user_id="U00ALICE01", channel_id=alerts.id)
