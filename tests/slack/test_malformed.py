"""Malformed but signed Slack requests get a one-line 400, bad timestamps 401, impossible ids a private
"no incident" — never a 503 or an exception after the acknowledgement."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import pytest
from structlog.testing import capture_logs

from tests.slack.client import SlackUser, signature, signed_headers
from tests.support.app import Bot


@pytest.mark.parametrize(("payload", "reason"), [
    ("", "payload is not valid JSON"),
    ("[]", "must be a JSON object"),
    ("[" * 1000 + "]" * 1000, "payload is not valid JSON"),
    ('{"a":' * 40 + "1" + "}" * 40, "nested deeper"),
    (json.dumps({"type": "block_actions", "actions": []}), "actions"),
    (json.dumps({"type": "block_actions", "actions": [7]}), "actions"),
    (json.dumps({"type": "block_actions", "user": 5, "actions": [{"action_id": "x"}]}), "user"),
    ('{"type": "block_actions", "x": NaN}', "not valid JSON"),
    (json.dumps({"type": "block_actions", "actions": [{"action_id": "x", "value": "1\u0000"}]}), "NUL"),
    (json.dumps({"type": "block_actions", "user": {"id": "U" * 65}, "actions": [{"action_id": "x"}]}), "user"),
])
async def test_malformed_signed_payloads_get_400(slack_bot: Bot, payload: str, reason: str) -> None:
    """A signed interaction whose payload Slack would never send is refused with 400 and a one-line reason."""
    body = urlencode({"payload": payload}).encode()
    answer = await slack_bot.client.post("/slack/events", content=body, headers=signed_headers(body))
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error"]
    assert "\n" not in answer.json()["error"]


async def test_nul_in_a_command_gets_400(slack_bot: Bot) -> None:
    """A NUL character (which PostgreSQL cannot store, e.g. in a declared incident's title) is refused."""
    body = urlencode({"command": "/incident", "text": "declare disk\x00full", "user_id": "U00ALICE01",
                      "channel_id": "C1", "response_url": "https://hooks.slack.com/x"}).encode()
    answer = await slack_bot.client.post("/slack/events", content=body, headers=signed_headers(body))
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]


async def test_deep_signed_json_body_gets_400(slack_bot: Bot) -> None:
    """A signed JSON body (the Events API shape) nested 1000 deep is refused, not a recursion crash."""
    body = b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    headers = {**signed_headers(body), "content-type": "application/json"}
    answer = await slack_bot.client.post("/slack/events", content=body, headers=headers)
    assert answer.status_code == 400


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "-5", "99999999999999999999", "1.5"])
async def test_non_numeric_timestamp_gets_401(slack_bot: Bot, timestamp: str) -> None:
    """A timestamp that is not a number of seconds is a failed verification, whatever the signature says."""
    body = b"command=%2Fincident&text=status"
    headers = {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": timestamp,
               "x-slack-signature": signature(body, timestamp)}
    answer = await slack_bot.client.post("/slack/events", content=body, headers=headers)
    assert answer.status_code == 401, answer.text


async def test_unsigned_junk_gets_401_before_parsing(slack_bot: Bot) -> None:
    """An unsigned malformed payload is refused as unauthenticated, not parsed."""
    body = urlencode({"payload": "[]"}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=" + "0" * 64}
    answer = await slack_bot.client.post("/slack/events", content=body, headers=headers)
    assert answer.status_code == 401


@pytest.mark.parametrize("text", ["ack 2147483648", "resolve 99999999999", "ack " + "9" * 30, "ack ²", "status 0"])
async def test_impossible_incident_ids_in_commands_are_a_private_no(alice: SlackUser, text: str) -> None:
    """An id no incident can have gets a private refusal in the acknowledgement itself."""
    with capture_logs() as logs:
        answer, response_url = await alice.command("/incident", text)
        await asyncio.sleep(0.2)
    assert answer.status_code == 200
    reply = answer.json()
    assert reply["response_type"] == "ephemeral"
    assert "no incident" in reply["text"] or "not an incident id" in reply["text"]
    assert alice.fake.responses(response_url) == []
    assert not [entry for entry in logs if entry["log_level"] == "error"]


@pytest.mark.parametrize("value", ["1" * 30, "²", "2147483648", "-1", ""])
async def test_impossible_button_values_are_a_private_no(alice: SlackUser, value: str) -> None:
    """A button carrying an impossible incident id answers privately; nothing fails after the ack."""
    with capture_logs() as logs:
        answer, response_url = await alice.click("incident_acknowledge", value)
        assert answer.status_code == 200
        deadline = time.monotonic() + 5
        while not alice.fake.responses(response_url) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    [reply] = alice.fake.responses(response_url)
    assert reply["response_type"] == "ephemeral"
    assert "no incident" in reply["text"] or "no incident id" in reply["text"]
    assert not [entry for entry in logs if entry["log_level"] == "error"]
