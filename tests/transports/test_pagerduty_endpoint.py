"""`POST /pagerduty/webhook` at the edge: configuration, size, signature, shape — each refused with one line."""

from __future__ import annotations

import hashlib
import hmac
import json

from bot.transports.pagerduty import signature_matches
from tests.support.app import BotFactory
from tests.support.pagerduty import SECRET, deliver, incident_data, sign, webhook


def test_signature_rules() -> None:
    """Any `v1=` entry matching any secret passes; other versions, other bodies and empty secrets do not."""
    body = b'{"event": {}}'
    good = hmac.new(b"s2", body, hashlib.sha256).hexdigest()
    assert signature_matches(body, f"v1=deadbeef, v1={good}", ["s1", "s2"])
    assert signature_matches(body, f"v1={good.upper()}", ["s2"])
    assert not signature_matches(body, f"v0={good}", ["s2"])
    assert not signature_matches(body + b" ", f"v1={good}", ["s2"])
    assert not signature_matches(body, "v1=" + hmac.new(b"", body, hashlib.sha256).hexdigest(), [""])
    assert not signature_matches(body, "", ["s2"])


async def test_not_configured_answers_503(make_bot: BotFactory) -> None:
    """Without PAGERDUTY_WEBHOOK_SECRETS the endpoint says what to set, as /slack/events does."""
    async with make_bot(pagerduty_webhook_secrets=[]) as bot:
        answer = await deliver(bot, webhook("incident.acknowledged", incident_data(1)))
        assert answer.status_code == 503
        assert answer.json() == {"error": "PagerDuty webhooks are not configured: set PAGERDUTY_WEBHOOK_SECRETS"}


async def test_bad_bodies_get_a_one_line_4xx(make_bot: BotFactory) -> None:
    """Oversized 413, not JSON 400, a JSON that is not a V3 webhook 400 naming the field; nothing is stored."""
    async with make_bot(pagerduty_webhook_secrets=["other", SECRET]) as bot:
        big = b'{"event": "' + b"x" * (300 * 1024) + b'"}'
        assert (await deliver(bot, big)).status_code == 413
        answer = await deliver(bot, b"{not json")
        assert answer.status_code == 400 and "\n" not in answer.json()["error"]
        body = webhook("incident.acknowledged", incident_data(1))
        del body["event"]["occurred_at"]
        answer = await deliver(bot, json.dumps(body).encode())
        assert answer.status_code == 400
        assert answer.json()["error"] == "not a PagerDuty V3 webhook: event.occurred_at: Field required"
        naive = webhook("incident.acknowledged", incident_data(1))
        naive["event"]["occurred_at"] = "2026-12-01T10:00:00"
        assert (await deliver(bot, naive)).status_code == 400
        scripted = webhook("incident.acknowledged", {**incident_data(1), "html_url": "javascript:alert(1)"})
        assert (await deliver(bot, scripted)).status_code == 400


async def test_signature_is_checked_before_parsing(make_bot: BotFactory) -> None:
    """Garbage with a bad signature is refused 401, not 400: nothing is parsed before authentication."""
    async with make_bot(pagerduty_webhook_secrets=[SECRET]) as bot:
        answer = await deliver(bot, b"{not json", signature=sign(b"something else", SECRET))
        assert answer.status_code == 401
