"""The one Bolt error handler: domain errors become short Slack replies and one log line, never a traceback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.app import build_adapters
from bot.errors import QueryError
from bot.incidents.ports import QueryResult
from bot.settings import Settings
from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET, SlackUser, wait_responses
from tests.support.app import Bot, BotFactory


class BrokenLogSearch:
    """A log engine that fails the way it is told to."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def run(self, query: str, *, start: datetime, end: datetime, limit: int | None = None) -> QueryResult:
        """Raise the configured error."""
        raise self.error


@pytest.fixture
async def broken_bot(make_bot: BotFactory, fake_slack: FakeSlack,
                     request: pytest.FixtureRequest) -> AsyncIterator[Bot]:
    """A bot whose log engine raises `request.param`."""
    overrides: dict[str, Any] = {"slack_signing_secret": SIGNING_SECRET, "slack_bot_token": SLACK_TOKEN,
                 "slack_api_url": fake_slack.api_url}
    adapters = build_adapters(Settings(_env_file=None, **overrides))
    adapters.logs = BrokenLogSearch(request.param)
    async with make_bot(adapters=adapters, **overrides) as bot:
        yield bot


@pytest.mark.parametrize(("broken_bot", "reply", "event"), [
    (QueryError("unsupported command 'dedup' at 12"), "the query could not run: unsupported command 'dedup'",
     "slack_query_failed"),
    (RuntimeError("disk on fire\nsecond line"), "Something went wrong on our side", "slack_request_failed"),
], indirect=["broken_bot"])
async def test_failures_after_the_ack_reply_privately_and_log_one_line(
    broken_bot: Bot, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, reply: str, event: str
) -> None:
    """A query error shows its message, anything else a generic line; each logs one event without traceback."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    user = SlackUser(bot=broken_bot, fake=fake_slack, user_id="U00ALICE01", channel_id=alerts.id)
    with capture_logs() as logs:
        started = time.monotonic()
        answer, response_url = await user.command("/dlq-breakdown", "1h")
        assert answer.status_code == 200 and time.monotonic() - started < 1
        assert "Running" in answer.json()["text"]
        [post] = await wait_responses(fake_slack, response_url)
    assert post["response_type"] == "ephemeral"
    assert reply in post["text"]
    assert "disk on fire" not in post["text"]
    [logged] = [entry for entry in logs if entry["event"] == event]
    assert "\n" not in logged["error"] and "exc_info" not in logged
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
