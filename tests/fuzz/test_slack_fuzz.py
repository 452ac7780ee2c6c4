"""Fuzzing POST /slack/events: signed slash commands with hostile text, signed interaction payloads mutated or
made of any JSON, and timestamps that are not numbers. No 5xx, no error-level log line, nothing raised after
an acknowledgement."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.slack_api import FakeSlack
from tests.fuzz.conftest import errors_in
from tests.fuzz.server import FuzzBot
from tests.fuzz.strategies import dumps, hostile_text, json_values, nested
from tests.slack.client import signature

pytestmark = pytest.mark.slow

COMMANDS = ["/incident", "/trace", "/dlq-breakdown", "/slow-operators", "/unknown"]
ACTIONS = ["incident_acknowledge", "incident_resolve", "incident_dlq_breakdown", "other"]
incident_text = st.one_of(
    hostile_text,
    st.tuples(st.sampled_from(["status", "ack", "resolve", "declare", "ACK", "nope"]),
              st.one_of(st.integers(-5, 10**40).map(str), hostile_text, st.just(""))).map(" ".join),
)


@st.composite
def command(draw: st.DrawFn, response_url: str) -> bytes:
    """A slash command form with hostile fields (the response_url stays the fake's: no request leaves loopback)."""
    name = draw(st.sampled_from(COMMANDS))
    form = {"command": name, "text": draw(incident_text if name == "/incident" else hostile_text),
            "user_id": draw(st.sampled_from(["U00ALICE01", "U00BOB0001"])), "channel_id": "C0ALERTS",
            "team_id": "T0001", "response_url": response_url, "trigger_id": "1.2.3"}
    if draw(st.integers(0, 4)) == 0:
        form[draw(st.sampled_from([*form, "payload"]))] = draw(hostile_text)
    return urlencode(form, encoding="utf-8", errors="surrogatepass").encode()


@st.composite
def interaction(draw: st.DrawFn, response_url: str) -> bytes:
    """A block_actions payload with hostile values, or any JSON at all, as the `payload` form field."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        payload: Any = draw(json_values)
    elif kind == 1:
        return urlencode({"payload": nested(draw(st.integers(1, 1200)), array=draw(st.booleans())).decode()}).encode()
    else:
        action: dict[str, Any] = {"action_id": draw(st.sampled_from(ACTIONS)), "type": "button",
                                  "value": draw(st.one_of(st.integers(-1, 10**30).map(str), hostile_text)),
                                  "block_id": "b"}
        payload = {"type": "block_actions", "user": {"id": "U00ALICE01"}, "team": {"id": "T0001"},
                   "channel": {"id": "C0ALERTS"}, "response_url": response_url, "actions": [action]}
        if kind == 3:
            key = draw(st.sampled_from(["type", "user", "team", "channel", "actions", "container", "message",
                                        "view", "authorizations", "enterprise", "event"]))
            payload[key] = draw(json_values)
    data = dumps(payload, draw(st.integers(0, 2))).decode("utf-8", "surrogatepass")
    return urlencode({"payload": data}, encoding="utf-8", errors="surrogatepass").encode()


def _post(bot: FuzzBot, body: bytes, timestamp: str | None = None, *, good_signature: bool = True) -> Any:
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    sig = signature(body, stamp) if good_signature else "v0=" + "0" * 64
    headers = {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": stamp,
               "x-slack-signature": sig}
    return bot.client.post("/slack/events", content=body, headers=headers)


def test_slack_requests_with_hostile_content(fuzz_bot: FuzzBot, fake_slack: FakeSlack,
                                             captured: list[dict[str, Any]], caplog: pytest.LogCaptureFixture,
                                             ) -> None:
    """600 signed commands, interactions and bad timestamps: 200, 400 or 401 — never 5xx, never an error."""
    response_url = fake_slack.response_url()
    statuses: dict[int, int] = {}

    @settings(max_examples=600, deadline=None, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=st.one_of(command(response_url), interaction(response_url)),
           timestamp=st.one_of(st.none(), st.none(), st.from_regex(r"[!-~]([ -~]{0,18}[!-~])?", fullmatch=True)),
           good_signature=st.sampled_from([True, True, True, False]))
    def run(body: bytes, timestamp: str | None, good_signature: bool) -> None:
        answer = _post(fuzz_bot, body, timestamp, good_signature=good_signature)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code in (200, 400, 401, 404), (answer.status_code, answer.text, body[:300])
        if (timestamp is not None and not timestamp.isdigit()) or not good_signature:
            assert answer.status_code == 401, (answer.status_code, timestamp, body[:200])

    run()
    time.sleep(2)  # listeners keep running after their acknowledgement
    details = fuzz_bot.wait_settled(lanes=("pager", "chat"))  # incidents declared or acknowledged by the fuzz
    failed = [(d["id"], s) for d in details for s in d["steps"] if s["lane"] != "reminder" and s["status"] != "done"]
    assert failed == []
    assert errors_in(captured, caplog) == []
    assert sum(statuses.values()) >= 600, statuses
    assert statuses.get(200) and statuses.get(400) and statuses.get(401), statuses
