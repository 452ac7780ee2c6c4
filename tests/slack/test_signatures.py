"""Only requests signed by Slack reach the listeners; without a signing secret the endpoint says so in one line."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET, signed_headers
from tests.slack.conftest import RecordingLogSearch
from tests.support.app import Bot, BotFactory


def _declare_body(fake_slack: FakeSlack) -> tuple[bytes, str]:
    response_url = fake_slack.response_url()
    form = {"command": "/incident", "text": "declare Forged incident", "user_id": "U00ALICE01",
            "channel_id": "C00000001", "team_id": "T0001", "response_url": response_url, "trigger_id": "1.2.3"}
    return urlencode(form).encode(), response_url


@pytest.mark.parametrize(("case", "headers"), [
    ("unsigned", lambda body: {"content-type": "application/x-www-form-urlencoded"}),
    ("wrong secret", lambda body: signed_headers(body, secret="not-the-" + SIGNING_SECRET)),
    ("stale (6 min old)", lambda body: signed_headers(body, age=6 * 60)),
])
async def test_badly_signed_requests_get_401_and_do_nothing(
    slack_bot: Bot, fake_slack: FakeSlack, log_search: RecordingLogSearch, case: str, headers: object
) -> None:
    """Unsigned, wrongly signed and stale requests get 401; no incident is declared and nothing is posted."""
    body, response_url = _declare_body(fake_slack)
    answer = await slack_bot.client.post("/slack/events", content=body, headers=headers(body))  # type: ignore[operator]
    assert answer.status_code == 401, case
    await asyncio.sleep(0.2)  # room for any (wrongly) started background work to show itself
    assert await slack_bot.incidents() == []
    assert fake_slack.responses(response_url) == []
    assert log_search.queries == []


async def test_tampered_body_gets_401(slack_bot: Bot, fake_slack: FakeSlack) -> None:
    """A body changed after signing fails verification."""
    body, _ = _declare_body(fake_slack)
    headers = signed_headers(body)
    answer = await slack_bot.client.post("/slack/events", content=body.replace(b"Forged", b"Forget"),
                                         headers=headers)
    assert answer.status_code == 401
    assert await slack_bot.incidents() == []


async def test_without_signing_secret_the_endpoint_answers_503_in_one_line(make_bot: BotFactory) -> None:
    """With SLACK_SIGNING_SECRET unset, /slack/events says what to set instead of mounting Bolt."""
    async with make_bot(slack_signing_secret="", slack_bot_token="xoxb-test-token") as bot:
        answer = await bot.client.post("/slack/events", content=b"command=%2Ftrace&text=ORD-1",
                                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 503
    assert answer.json() == {"error": "Slack is not configured: set SLACK_SIGNING_SECRET"}


async def test_without_bot_token_the_endpoint_names_it(make_bot: BotFactory) -> None:
    """A signing secret without a bot token is also reported as unconfigured, naming SLACK_BOT_TOKEN."""
    async with make_bot(slack_signing_secret=SIGNING_SECRET, slack_bot_token="") as bot:
        answer = await bot.client.post("/slack/events", content=b"")
    assert answer.status_code == 503
    assert answer.json() == {"error": "Slack is not configured: set SLACK_BOT_TOKEN"}
