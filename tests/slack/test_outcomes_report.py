"""A week of pages classified in Slack (outcome buttons and `/incident outcome`), then the alert-quality report:
`incident-bot report --json`, `/incident report`, the post-incident report's outcome and the weekly post."""

from __future__ import annotations

import json
import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.incidents.quality import iso_week
from bot.weekly_report import WeeklyReporter
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SlackUser, wait_responses
from tests.support.alarms import HIGH_TOPIC, metric_alarm
from tests.support.app import Bot

DLQ = "orders-pipeline-DLQSpike"
LAG = "orders-pipeline-ConsumerLagHigh"


async def _page(bot: Bot, name: str, opened: datetime, *, topic: str | None = None) -> dict[str, Any]:
    """The alarm goes to ALARM at `opened`: a new incident, its side effects performed."""
    extra = {"topic": topic} if topic else {}
    answer = await bot.deliver(metric_alarm(name, at=opened), **extra)
    assert answer.status_code == 200, answer.text
    await bot.settle()
    return max(await bot.incidents(), key=lambda i: i["id"])


async def _clear(bot: Bot, name: str, at: datetime, *, topic: str | None = None) -> None:
    extra = {"topic": topic} if topic else {}
    answer = await bot.deliver(metric_alarm(name, state="OK", old="ALARM", at=at), **extra)
    assert answer.status_code == 200, answer.text
    await bot.settle()


async def _say(user: SlackUser, fake: FakeSlack, text: str, *, channel_id: str | None = None) -> dict[str, Any]:
    answer, url = await user.command("/incident", text, channel_id=channel_id)
    assert answer.status_code == 200, answer.text
    [post] = await wait_responses(fake, url)
    return post


async def _press(user: SlackUser, fake: FakeSlack, kind: str, incident_id: int) -> dict[str, Any]:
    answer, url = await user.click(f"incident_outcome_{kind}", str(incident_id))
    assert answer.status_code == 200, answer.text
    [post] = await wait_responses(fake, url)
    return post


def _spread(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"median": round(statistics.median(ordered), 1),
            "p90": round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)}


def _seconds(incident: dict[str, Any], field: str) -> float:
    start = datetime.fromisoformat(incident["opened_at"].replace("Z", "+00:00"))
    return (datetime.fromisoformat(incident[field].replace("Z", "+00:00")) - start).total_seconds()


@pytest.mark.slow
async def test_a_week_of_outcomes_makes_the_report(alice: SlackUser, slack_bot: Bot, fake_slack: FakeSlack,
                                                   database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven DLQ pages (six false positives) and three late lag alerts: the report counts, rates and flags them."""
    now = datetime.now(UTC).replace(microsecond=0)
    dlq: list[dict[str, Any]] = []
    for day in range(5):  # one page a day, cleared by the alarm after 20 minutes
        opened = now - timedelta(days=6 - day, hours=2)
        dlq.append(await _page(slack_bot, DLQ, opened))
        await _clear(slack_bot, DLQ, opened + timedelta(minutes=20))
    for minutes_ago, lasted in ((90, 30), (12, 12)):  # two recent ones, acknowledged in Slack before they clear
        incident = await _page(slack_bot, DLQ, now - timedelta(minutes=minutes_ago))
        if minutes_ago == 90:
            answer, url = await alice.click("incident_acknowledge", str(incident["id"]))
            await wait_responses(fake_slack, url)
        else:
            await _say(alice, fake_slack, f"ack {incident['id']}")
        await _clear(slack_bot, DLQ, now - timedelta(minutes=minutes_ago - lasted))
        dlq.append(incident)
    lag = []
    for hours_ago in (30, 20, 10):
        incident = await _page(slack_bot, LAG, now - timedelta(hours=hours_ago), topic=HIGH_TOPIC)
        await _clear(slack_bot, LAG, now - timedelta(hours=hours_ago - 1), topic=HIGH_TOPIC)
        lag.append(incident)

    # The resolved message in the incident channel asks how the page turned out, with one button per outcome.
    first = await slack_bot.incident(dlq[0]["id"])
    resolved = next(m for m in fake_slack.messages(first["channel_id"]) if "resolved after" in m["text"])
    buttons = [e["action_id"] for b in resolved["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["incident_outcome_actionable", "incident_outcome_false-positive",
                       "incident_outcome_duplicate", "incident_outcome_missed"]

    # Six false positives and one actionable, through the buttons and the command (with and without an id).
    for incident in dlq[:3]:
        post = await _press(alice, fake_slack, "false-positive", incident["id"])
        assert f"#{incident['id']}" in post["text"] and "false positive" in post["text"]
    for incident in dlq[3:5]:
        await _say(alice, fake_slack, f"outcome false-positive {incident['id']}")
    channel = (await slack_bot.incident(dlq[5]["id"]))["channel_id"]
    post = await _say(alice, fake_slack, "outcome false-positive", channel_id=channel)
    assert post["response_type"] == "in_channel" and f"#{dlq[5]['id']}" in post["text"]
    await _press(alice, fake_slack, "duplicate", dlq[6]["id"])  # changed minds: the latest classification wins
    await _say(alice, fake_slack, f"outcome actionable {dlq[6]['id']}")
    for incident in lag:
        await _say(alice, fake_slack, f"outcome missed {incident['id']}")
    answer, _ = await alice.command("/incident", f"outcome bogus {dlq[0]['id']}")
    assert answer.json()["response_type"] == "ephemeral" and "unknown outcome 'bogus'" in answer.json()["text"]

    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["report", "--since", "7d", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["alarm"]: row for row in json.loads(result.output)["alarms"]}
    stored = [await slack_bot.incident(i["id"]) for i in dlq]
    assert rows[DLQ]["pages"] == 7 and rows[DLQ]["incidents"] == 7
    assert rows[DLQ]["false_positives"] == 6 and rows[DLQ]["false_positive_rate"] == round(6 / 7, 3)
    assert rows[DLQ]["outcomes"] == {"actionable": 1, "false-positive": 6, "duplicate": 0, "missed": 0,
                                     "unclassified": 0}
    assert rows[DLQ]["mtta_seconds"] == _spread([_seconds(i, "acknowledged_at") for i in stored
                                                 if i["acknowledged_at"]])
    assert rows[DLQ]["mttr_seconds"] == _spread([_seconds(i, "resolved_at") for i in stored])
    assert rows[DLQ]["mttr_seconds"]["median"] == 20 * 60
    assert rows[DLQ]["alarm_seconds"] == round(sum(_seconds(i, "resolved_at") for i in stored))
    assert rows[DLQ]["flags"] == ["too-many-false-positives"]
    assert rows[LAG]["pages"] == 3 and rows[LAG]["false_positive_rate"] == 0.0
    assert rows[LAG]["flags"] == ["too-many-missed"]
    assert rows[LAG]["mtta_seconds"] == {"median": None, "p90": None}

    # The same numbers in Slack, and the outcome in the post-incident report.
    post = await _say(alice, fake_slack, "report 7d")
    assert post["response_type"] == "in_channel"
    assert f"*{DLQ}*: 7 pages" in post["text"] and "more than 5 false positives a week" in post["text"]
    postmortem = (await slack_bot.client.get(f"/api/incidents/{dlq[6]['id']}/postmortem")).text
    assert "**Outcome:** actionable (classified by U00ALICE01" in postmortem

    # The weekly post: once per ISO week, whichever replica looks first.
    monday = now - timedelta(days=now.weekday()) + timedelta(days=7)
    slot_time = monday.replace(hour=9, minute=30)
    reporter: WeeklyReporter = slack_bot.app.state.weekly_reporter
    reporter.now = lambda: slot_time - timedelta(hours=1)
    assert await reporter.tick() is None  # not due yet on Monday 08:30
    reporter.now = lambda: slot_time
    assert await reporter.tick() == iso_week(slot_time)
    twin = WeeklyReporter(slack_bot.app.state.db, slack_bot.app.state.adapters.chat, channel="#alerts",
                          slot=(0, 9, 0), now=lambda: slot_time + timedelta(hours=2), replica="replica-b")
    assert await twin.tick() is None
    assert await reporter.tick() is None
    weekly = [m for m in fake_slack.messages("alerts") if m["text"].startswith("*Alert quality")]
    assert len(weekly) == 1
