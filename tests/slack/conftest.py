"""Fixtures for the Slack app tests: a bot with Slack configured against the fake Slack, and a signed client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET, SlackUser
from tests.support.app import Bot, BotFactory


@pytest.fixture
async def slack_bot(make_bot: BotFactory, fake_slack: FakeSlack) -> AsyncIterator[Bot]:
    """A running bot whose Slack app verifies with SIGNING_SECRET and whose Web API is the fake Slack."""
    async with make_bot(slack_signing_secret=SIGNING_SECRET, slack_bot_token=SLACK_TOKEN,
                        slack_api_url=fake_slack.api_url) as bot:
        yield bot


@pytest.fixture
def alice(slack_bot: Bot, fake_slack: FakeSlack) -> SlackUser:
    """Alice, typing commands and pressing buttons in #alerts."""
    return SlackUser(bot=slack_bot, fake=fake_slack, user_id="U00ALICE01",
                     channel_id=fake_slack.channel("alerts").id)  # type: ignore[union-attr]


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    """The directory the bot's LOCAL_LOGS glob (`tmp_path/logs/*.jsonl`) reads."""
    path = tmp_path / "logs"
    path.mkdir(exist_ok=True)
    return path
