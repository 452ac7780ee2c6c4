"""Fixtures for the web view: a bot with Sign in with Slack against the fake Slack's OpenID provider, clients
from loopback and from elsewhere, and the sign-in dance a browser does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET
from tests.support.app import Bot, BotFactory

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oidc-client-secret-for-tests"
SESSION_SECRET = "a-session-secret-of-at-least-32-characters"
TEAM_ID = "T0001"
BOT_URL = "http://bot.test"
REMOTE = ("203.0.113.7", 50000)  # TEST-NET-3: not loopback
HELPER_TOKEN = "helper-token-for-bot-client"  # lets `Bot.incidents()` & co. read the API in web tests


def sign_in_settings(fake: FakeSlack, public_url: str = BOT_URL, **more: Any) -> dict[str, Any]:
    """Settings for a bot whose web view signs people in with the fake Slack (and posts to it)."""
    fake.add_oidc_client(CLIENT_ID, CLIENT_SECRET, f"{public_url}/login/callback")
    return {"slack_client_id": CLIENT_ID, "slack_client_secret": CLIENT_SECRET, "slack_team_id": TEAM_ID,
            "slack_oidc_url": fake.oidc_url, "slack_api_url": fake.api_url, "web_session_secret": SESSION_SECRET,
            "public_url": public_url, "slack_bot_token": SLACK_TOKEN, "slack_signing_secret": SIGNING_SECRET,
            **more}


def client_for(bot: Bot, *, client: tuple[str, int] = REMOTE, base_url: str = BOT_URL) -> httpx.AsyncClient:
    """Another HTTP client on the same app, connecting from `client` (an address elsewhere by default)."""
    from bot.app import NoTracebacks

    transport = httpx.ASGITransport(app=NoTracebacks(bot.app), client=client)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


async def sign_in(client: httpx.AsyncClient, next_path: str = "/") -> httpx.Response:
    """Follow the sign-in redirects as a browser would: bot → fake Slack's authorize page → bot's callback."""
    start = await client.get("/login", params={"next": next_path})
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient() as browser:  # the fake Slack is a real server
        back = await browser.get(start.headers["location"])
    assert back.status_code == 302, back.text
    return await client.get(back.headers["location"])


@pytest.fixture
def web_bot(make_bot: BotFactory, fake_slack: FakeSlack) -> Callable[..., AbstractAsyncContextManager[Bot]]:
    """`async with web_bot(**more_settings) as bot:` — sign-in configured, Slack pointing at the fake; `bot.client`
    carries HELPER_TOKEN unless `api_tokens` is given."""

    @asynccontextmanager
    async def start(**more: Any) -> AsyncIterator[Bot]:
        from bot.app import build_adapters
        from bot.settings import Settings

        overrides = sign_in_settings(fake_slack, **{"api_tokens": [HELPER_TOKEN], **more})
        adapters = build_adapters(Settings(_env_file=None, **overrides))
        async with make_bot(adapters=adapters, **overrides) as bot:
            if HELPER_TOKEN in overrides["api_tokens"]:
                bot.client.headers["Authorization"] = f"Bearer {HELPER_TOKEN}"
            yield bot

    fake_slack.sign_in_as("U00ALICE01")
    return start
