"""Slash commands: acknowledged within Slack's 3 s, answered through response_url, bad arguments refused."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SlackUser, wait_responses
from tests.slack.conftest import RecordingLogSearch
from tests.slack.logs import log_line, write_logs
from tests.support.app import Bot


def _text(post: dict[str, object]) -> str:
    return json.dumps(post, ensure_ascii=False)


async def test_trace_is_acked_fast_and_answered_in_channel(alice: SlackUser, fake_slack: FakeSlack,
                                                           logs_dir: Path) -> None:
    """`/trace ORD-12345` is acked in under 3 s and the order's log lines arrive in the channel, oldest first."""
    now = datetime.now(UTC)
    write_logs(logs_dir, [
        log_line(now - timedelta(minutes=9), order_id="ORD-12345", operator="parse"),
        log_line(now - timedelta(minutes=8), order_id="ORD-12345", operator="enrich", latency_ms=5000,
                 status="error", error_type="timeout", message="Customer API timeout after 30s"),
        log_line(now - timedelta(minutes=7), order_id="ORD-99999", operator="sink"),
    ])
    started = time.monotonic()
    answer, response_url = await alice.command("/trace", "ORD-12345")
    assert time.monotonic() - started < 3
    assert answer.status_code == 200
    assert answer.json()["response_type"] == "ephemeral"
    assert "Running" in answer.json()["text"]

    [post] = await wait_responses(fake_slack, response_url)
    assert post["response_type"] == "in_channel"
    shown = _text(post)
    assert "Trace one order" in shown
    assert "timeout" in shown and "5000" in shown
    assert shown.index("parse") < shown.index("enrich")
    assert "ORD-99999" not in shown and "sink" not in shown


async def test_dlq_breakdown_shows_shares_and_parse_error_hint(alice: SlackUser, fake_slack: FakeSlack,
                                                               logs_dir: Path) -> None:
    """`/dlq-breakdown 2h` counts DLQ records by error type with shares and says parse errors point at a schema."""
    now = datetime.now(UTC)
    lines = [log_line(now - timedelta(minutes=30, seconds=i), order_id=f"ORD-{i}", operator="parse",
                      status="error", error_type="parse_error", dlq=True) for i in range(85)]
    lines += [log_line(now - timedelta(minutes=20, seconds=i), order_id=f"ORD-D{i}", operator="dedup",
                       status="error", error_type="duplicate", dlq=True) for i in range(15)]
    lines += [log_line(now - timedelta(minutes=10), order_id="ORD-OK", operator="sink")]
    write_logs(logs_dir, lines)

    answer, response_url = await alice.command("/dlq-breakdown", "2h")
    assert answer.status_code == 200
    assert "2h" in answer.json()["text"]
    [post] = await wait_responses(fake_slack, response_url)
    shown = _text(post)
    assert post["response_type"] == "in_channel"
    assert "parse_error" in shown and "85" in shown and "85%" in shown
    assert "duplicate" in shown and "15%" in shown
    assert "schema change" in shown


async def test_slow_operators_over_default_window(alice: SlackUser, fake_slack: FakeSlack, logs_dir: Path,
                                                  log_search: RecordingLogSearch) -> None:
    """`/slow-operators` without a window looks back over the query's default hour and names the slowest step."""
    now = datetime.now(UTC)
    write_logs(logs_dir, [
        log_line(now - timedelta(minutes=5), order_id="ORD-1", operator="enrich", latency_ms=4200),
        log_line(now - timedelta(minutes=5), order_id="ORD-1", operator="parse", latency_ms=3),
    ])
    _, response_url = await alice.command("/slow-operators")
    [post] = await wait_responses(fake_slack, response_url)
    assert "enrich" in _text(post)
    [(_, start, end)] = log_search.queries
    assert end - start == timedelta(hours=1)


async def test_trace_injection_is_refused_and_nothing_runs(alice: SlackUser, fake_slack: FakeSlack,
                                                           log_search: RecordingLogSearch) -> None:
    """An order id carrying query syntax gets the usage line in the ack and no query is run."""
    answer, response_url = await alice.command("/trace", 'ORD-1" | stats count(*)')
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    assert "Usage: `/trace ORD-12345 [window]`" in body["text"]
    answer, response_url = await alice.command("/trace", 'ORD-1"|stats')
    assert "order_id must be ORD-" in answer.json()["text"]
    assert log_search.queries == []
    assert fake_slack.responses(response_url) == []


async def test_unknown_window_gets_usage(alice: SlackUser, log_search: RecordingLogSearch) -> None:
    """`/dlq-breakdown 5x` is refused in the ack, naming the window and the usage."""
    answer, _ = await alice.command("/dlq-breakdown", "5x")
    text = answer.json()["text"]
    assert "unknown window '5x'" in text
    assert "Usage: `/dlq-breakdown [window]`" in text
    assert log_search.queries == []


async def test_unknown_subcommand_gets_usage(alice: SlackUser) -> None:
    """`/incident frobnicate` is refused with the list of subcommands."""
    answer, _ = await alice.command("/incident", "frobnicate 12")
    text = answer.json()["text"]
    assert answer.json()["response_type"] == "ephemeral"
    assert "unknown subcommand 'frobnicate'" in text
    assert "/incident status|ack|resolve [id]" in text


async def test_unknown_command_is_answered_not_dropped(alice: SlackUser) -> None:
    """A slash command the bot does not serve gets a short ephemeral reply instead of a 404."""
    answer, _ = await alice.command("/deploy", "now")
    assert answer.status_code == 200
    assert "does not know /deploy" in answer.json()["text"]


async def test_declare_then_ack_and_status_in_the_incident_channel(
    alice: SlackUser, slack_bot: Bot, fake_slack: FakeSlack
) -> None:
    """`/incident declare` opens an incident and its channel; `/incident ack` and `status` there act on it."""
    answer, response_url = await alice.command("/incident", "declare Checkout is slow")
    assert answer.status_code == 200
    [post] = await wait_responses(fake_slack, response_url)
    assert post["response_type"] == "in_channel"
    assert "declared by <@U00ALICE01>" in post["text"]
    [incident] = await slack_bot.incidents()
    assert (incident["title"], incident["source"], incident["status"]) == ("Checkout is slow", "declared", "open")

    await slack_bot.drain()
    channel = fake_slack.channel(incident["channel"])
    assert channel is not None and "U00ALICE01" in channel.members

    _, response_url = await alice.command("/incident", "ack", channel_id=channel.id)
    [post] = await wait_responses(fake_slack, response_url)
    assert f"Incident #{incident['id']}" in post["text"] and "acknowledged by <@U00ALICE01>" in post["text"]
    assert post["response_type"] == "ephemeral"  # the channel hears it once, from the outbox
    acknowledged = await slack_bot.incident(incident["id"])
    assert (acknowledged["status"], acknowledged["acknowledged_by"]) == ("acknowledged", "U00ALICE01")
    await slack_bot.drain()
    assert any("acknowledged by <@U00ALICE01>" in m["text"] for m in fake_slack.messages(channel.id))

    _, response_url = await alice.command("/incident", "status", channel_id=channel.id)
    [post] = await wait_responses(fake_slack, response_url)
    assert "Checkout is slow" in post["text"] and "ACKNOWLEDGED" in post["text"]

    _, response_url = await alice.command("/incident", f"resolve {incident['id']}")
    await wait_responses(fake_slack, response_url)
    assert (await slack_bot.incident(incident["id"]))["status"] == "resolved"


async def test_ack_outside_an_incident_channel_says_how(alice: SlackUser, fake_slack: FakeSlack) -> None:
    """`/incident ack` in a channel that belongs to no incident replies privately with how to name one."""
    answer, response_url = await alice.command("/incident", "ack")
    assert answer.status_code == 200
    [post] = await wait_responses(fake_slack, response_url)
    assert post["response_type"] == "ephemeral"
    assert "belongs to no incident" in post["text"]


async def test_status_outside_an_incident_channel_lists_open_incidents(alice: SlackUser,
                                                                        fake_slack: FakeSlack) -> None:
    """`/incident status` in #alerts lists the unresolved incidents."""
    _, response_url = await alice.command("/incident", "declare Payments down")
    await wait_responses(fake_slack, response_url)
    _, response_url = await alice.command("/incident", "status")
    [post] = await wait_responses(fake_slack, response_url)
    assert "1 unresolved incident" in post["text"] and "Payments down" in post["text"]


HOSTILE = "x` <!channel> <!everyone> <@U123> <https://evil|x> ```y"
LIVE = ("<!channel>", "<!everyone>", "<!here>", "<@U123", "<https://evil", "```y")


async def test_trace_shows_a_hostile_log_line_inertly(alice: SlackUser, fake_slack: FakeSlack,
                                                      logs_dir: Path) -> None:
    """A log line carrying mentions, a link and backticks shows in the /trace table as text: nobody notified,
    nothing linked, the code block not closed early."""
    now = datetime.now(UTC)
    write_logs(logs_dir, [log_line(now - timedelta(minutes=5), order_id="ORD-66666", operator=HOSTILE,
                                   status="error", error_type="timeout", message=HOSTILE)])
    answer, response_url = await alice.command("/trace", "ORD-66666")
    assert answer.status_code == 200
    [post] = await wait_responses(fake_slack, response_url)
    shown = _text(post)
    assert "&lt;!channel&gt;" in shown  # the line is there, as text
    for live in LIVE:
        assert live not in shown, live


async def test_declared_title_is_inert(alice: SlackUser, fake_slack: FakeSlack, slack_bot: Bot) -> None:
    """`/incident declare` with mentions and backticks in the title: the channel and the reply show it as text."""
    answer, response_url = await alice.command("/incident", f"declare {HOSTILE}")
    assert answer.status_code == 200
    [post] = await wait_responses(fake_slack, response_url)
    await slack_bot.settle()
    shown = [_text(post)] + [_text(m) for name in fake_slack.channel_names() for m in fake_slack.messages(name)]
    assert any("&lt;!channel&gt;" in text for text in shown)
    for text in shown:
        for live in LIVE:
            assert live not in text, live
