"""Talk to the bot's Slack endpoint as Slack does: signed form posts for commands and button clicks.

Signing follows Slack: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the signing secret, sent in
`X-Slack-Signature` next to `X-Slack-Request-Timestamp`. Results come back through a `response_url` served by the
fake Slack; `wait_responses` polls it because Bolt posts after acknowledging, on the same event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.fakes.slack_api import FakeSlack
from tests.support.app import Bot

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's request signature for `body` sent at `timestamp`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET, age: float = 0.0) -> dict[str, str]:
    """Headers of a form post signed `age` seconds ago."""
    timestamp = str(int(time.time() - age))
    return {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature(body, timestamp, secret)}


async def wait_responses(fake: FakeSlack, response_url: str, count: int = 1,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
    """The posts to `response_url` once there are `count` of them; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        posts = fake.responses(response_url)
        if len(posts) >= count:
            return posts
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} post(s) to the response_url within {timeout} s, got {posts}")
        await asyncio.sleep(0.02)


@dataclass
class SlackUser:
    """A workspace member typing slash commands and clicking buttons in one channel."""

    bot: Bot
    fake: FakeSlack
    user_id: str
    channel_id: str

    async def command(self, command: str, text: str = "", *, channel_id: str | None = None,
                      ) -> tuple[httpx.Response, str]:
        """Send a signed slash command; returns the HTTP answer (the ack) and the command's response_url."""
        response_url = self.fake.response_url()
        form = {
            "token": "legacy-verification-token", "team_id": "T0001", "team_domain": "fake",
            "channel_id": channel_id or self.channel_id, "channel_name": "alerts", "user_id": self.user_id,
            "user_name": "alice", "command": command, "text": text, "api_app_id": "A0001",
            "response_url": response_url, "trigger_id": "1.2.3",
        }
        body = urlencode(form).encode()
        answer = await self.bot.client.post("/slack/events", content=body, headers=signed_headers(body))
        return answer, response_url

    async def click(self, action_id: str, value: str, *, message_ts: str | None = None,
                    channel_id: str | None = None) -> tuple[httpx.Response, str]:
        """Press an incident button (a block_actions payload); returns the ack and the response_url. With
        `message_ts` the click is on that real message of the fake (its blocks sent along, its response_url able
        to replace it); the trigger_id is a fresh one from the fake, valid 3 s."""
        channel = channel_id or self.channel_id
        stored = next((m for m in self.fake.messages(channel) if m["ts"] == message_ts), None) if message_ts else None
        ts = message_ts or "1.000001"
        response_url = self.fake.response_url(channel=channel if stored else "", ts=ts if stored else "")
        message = {"ts": ts, "text": (stored or {}).get("text", "incident"), **(
            {"blocks": stored["blocks"]} if stored and stored.get("blocks") else {})}
        payload = {
            "type": "block_actions", "team": {"id": "T0001", "domain": "fake"},
            "user": {"id": self.user_id, "username": "alice", "team_id": "T0001"},
            "api_app_id": "A0001", "token": "legacy-verification-token",
            "trigger_id": self.fake.trigger_id(self.user_id),
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel, "name": "alerts"},
            "message": message,
            "response_url": response_url,
            "actions": [{"type": "button", "action_id": action_id, "block_id": f"incident-{value}",
                         "value": value, "text": {"type": "plain_text", "text": action_id},
                         "action_ts": str(time.time())}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        answer = await self.bot.client.post("/slack/events", content=body, headers=signed_headers(body))
        return answer, response_url

    async def submit_view(self, view: dict[str, Any], values: dict[str, str]) -> httpx.Response:
        """Submit a modal the bot opened (a view_submission payload): `values` by block id, a `U…` value for the
        owner's user select, text for the plain-text inputs."""
        state: dict[str, Any] = {}
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block["element"]
            given = values.get(block["block_id"])
            if element["type"] == "users_select":
                entry = {"type": "users_select", "selected_user": given}
            else:
                entry = {"type": element["type"], "value": given}
            state[block["block_id"]] = {element["action_id"]: entry}
        payload = {
            "type": "view_submission", "team": {"id": "T0001", "domain": "fake"},
            "user": {"id": self.user_id, "username": "alice", "team_id": "T0001"},
            "api_app_id": "A0001", "token": "legacy-verification-token", "trigger_id": self.fake.trigger_id(),
            "view": {**view, "id": "V0001", "team_id": "T0001", "state": {"values": state}, "hash": "1.abc"},
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.bot.client.post("/slack/events", content=body, headers=signed_headers(body))
