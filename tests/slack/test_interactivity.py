"""Incident buttons: Acknowledge, Resolve and Run DLQ breakdown, pressed in Slack and handled after the ack."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SlackUser, wait_responses
from tests.slack.conftest import RecordingLogSearch
from tests.slack.logs import log_line, write_logs
from tests.support.alarms import metric_alarm
from tests.support.app import Bot


async def _alarm_incident(bot: Bot, at: datetime | None = None) -> dict[str, Any]:
    answer = await bot.deliver(metric_alarm("orders-pipeline-DLQSpike", at=at))
    assert answer.status_code == 200, answer.text
    [incident] = await bot.incidents()
    return incident


async def _until_status(bot: Bot, incident_id: int, status: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := await bot.incident(incident_id))["status"] != status:
        assert time.monotonic() < deadline, f"incident stayed {found['status']}"
        await asyncio.sleep(0.02)
    return found


async def test_acknowledge_button_acknowledges_and_queues_the_page_ack(alice: SlackUser, slack_bot: Bot,
                                                                      fake_slack: FakeSlack) -> None:
    """Pressing Acknowledge marks the incident acknowledged by the presser and queues the PagerDuty acknowledge."""
    incident = await _alarm_incident(slack_bot)
    started = time.monotonic()
    answer, response_url = await alice.click("incident_acknowledge", str(incident["id"]))
    assert answer.status_code == 200 and time.monotonic() - started < 3
    [post] = await wait_responses(fake_slack, response_url)
    # The message the button was on is replaced: its status says who took it, Acknowledge is gone.
    assert post["replace_original"] is True
    shown = json.dumps(post["blocks"])
    assert "acknowledged by <@U00ALICE01>" in shown
    assert "incident_acknowledge" not in shown and "incident_resolve" in shown
    found = await _until_status(slack_bot, incident["id"], "acknowledged")
    assert found["acknowledged_by"] == "U00ALICE01"
    assert [s["kind"] for s in found["steps"] if s["lane"] == "pager"] == ["page", "page"]  # trigger, acknowledge


async def test_resolve_button_resolves(alice: SlackUser, slack_bot: Bot, fake_slack: FakeSlack) -> None:
    """Pressing Resolve resolves the incident; pressing it again says it already was."""
    incident = await _alarm_incident(slack_bot)
    _, response_url = await alice.click("incident_resolve", str(incident["id"]))
    await wait_responses(fake_slack, response_url)
    assert (await _until_status(slack_bot, incident["id"], "resolved"))["resolved_at"]
    _, response_url = await alice.click("incident_resolve", str(incident["id"]))
    [post] = await wait_responses(fake_slack, response_url)
    shown = json.dumps(post["blocks"])
    assert "RESOLVED" in shown and "incident_resolve" not in shown and "incident_review" in shown


async def test_acknowledge_a_resolved_incident_is_refused_privately(alice: SlackUser, slack_bot: Bot,
                                                                   fake_slack: FakeSlack) -> None:
    """Acknowledging a resolved incident answers with the domain's reason, only to the presser."""
    incident = await _alarm_incident(slack_bot)
    _, response_url = await alice.click("incident_resolve", str(incident["id"]))
    await wait_responses(fake_slack, response_url)
    _, response_url = await alice.click("incident_acknowledge", str(incident["id"]))
    [post] = await wait_responses(fake_slack, response_url)
    assert post["response_type"] == "ephemeral"
    assert f"incident #{incident['id']} is already resolved" in post["text"]


async def test_dlq_breakdown_button_posts_the_breakdown_of_the_alarm_window(
    alice: SlackUser, slack_bot: Bot, fake_slack: FakeSlack, logs_dir: Path, log_search: RecordingLogSearch
) -> None:
    """Run DLQ breakdown queries the minutes before the alarm and posts counts, shares and hints in the channel."""
    fired = datetime.now(UTC) - timedelta(minutes=30)
    lines = [log_line(fired - timedelta(minutes=2, seconds=i), order_id=f"ORD-{i}", operator="parse",
                      status="error", error_type="parse_error", dlq=True) for i in range(90)]
    lines += [log_line(fired - timedelta(minutes=1, seconds=i), order_id=f"ORD-V{i}", operator="validate",
                       status="error", error_type="validation_error", dlq=True) for i in range(10)]
    # Long before the alarm: outside the alarm window, must not be counted.
    lines += [log_line(fired - timedelta(hours=3), order_id="ORD-OLD", operator="dedup", status="error",
                       error_type="duplicate", dlq=True)]
    write_logs(logs_dir, lines)
    incident = await _alarm_incident(slack_bot, at=fired)

    answer, response_url = await alice.click("incident_dlq_breakdown", str(incident["id"]))
    assert answer.status_code == 200
    [post] = await wait_responses(fake_slack, response_url)
    shown = json.dumps(post)
    assert post["response_type"] == "in_channel" and post["replace_original"] is False
    assert "parse_error" in shown and "90%" in shown and "validation_error" in shown
    assert "duplicate" not in shown
    assert "schema change" in shown
    [(_, start, end)] = log_search.queries
    assert start < fired - timedelta(minutes=2) and abs((end - fired).total_seconds()) < 1


async def test_button_for_unknown_incident_says_so(alice: SlackUser, fake_slack: FakeSlack) -> None:
    """A button naming an incident that does not exist is acked at once and gets a private one-line answer."""
    started = time.monotonic()
    answer, response_url = await alice.click("incident_acknowledge", "4242")
    assert answer.status_code == 200 and time.monotonic() - started < 1
    [post] = await wait_responses(fake_slack, response_url)
    assert post["response_type"] == "ephemeral"
    assert "no incident #4242" in post["text"]
