"""Outside text cannot notify or link anyone: hostile alarm fields go through the whole CRITICAL flow inertly."""

from __future__ import annotations

from typing import Any

from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.incidents.test_response import T0, wired
from tests.support.alarms import metric_alarm
from tests.support.app import BotFactory

HOSTILE = "x` <!channel> *boom* <!everyone> <@U123> <https://evil|x> [y](https://evil) ```z"
# Live markup the hostile text must not produce; `*boom*` is harmless inside a code span, so it is checked only
# where the bot puts the title in bold (the announcement).
LIVE = ("<!channel>", "<!everyone>", "<!here>", "<@U123", "<https://evil", "|evil", "```z")


def mrkdwn_texts(message: Any) -> list[str]:
    """Every text of a message Slack would parse as mrkdwn: the top-level `text` and each mrkdwn text object
    (plain_text objects, such as headers, show `<!channel>` as it is and notify nobody)."""
    found: list[str] = []
    if isinstance(message, dict):
        if message.get("type") in {"mrkdwn", "message", None} and isinstance(message.get("text"), str):
            found.append(message["text"])
        for value in message.values():
            if isinstance(value, dict | list):
                found += mrkdwn_texts(value)
    elif isinstance(message, list):
        for item in message:
            found += mrkdwn_texts(item)
    return found


def everything_posted(slack: FakeSlack) -> list[str]:
    """Every mrkdwn text the fake Slack received, in every channel."""
    return [text for name in slack.channel_names() for m in slack.messages(name) for text in mrkdwn_texts(m)]


def hostile_alarm() -> dict[str, Any]:
    """The DLQ spike alarm with outside text everywhere an attacker (or a careless colleague) could put it."""
    body = metric_alarm(at=T0)
    body["AlarmName"] = f"orders-pipeline-DLQSpike {HOSTILE}"
    body["AlarmArn"] = body["AlarmArn"] + "-hostile"
    body["AlarmDescription"] = HOSTILE
    body["NewStateReason"] = HOSTILE
    body["Trigger"]["Dimensions"] = [{"name": "Job", "value": HOSTILE}]
    return body


async def test_hostile_alarm_fields_notify_and_link_nobody(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A CRITICAL alarm whose name, description, reason and dimensions carry mentions, links and backticks yields
    a channel, a page and posts in which none of it is live."""
    async with make_bot(**wired(fake_slack, fake_pagerduty, unknown_alarm_severity="CRITICAL")) as bot:
        answer = await bot.deliver(hostile_alarm())
        assert answer.status_code == 200, answer.text
        await bot.settle()
        [incident] = await bot.incidents()
        assert incident["channel_id"]
        posted = everything_posted(fake_slack)
        assert len(posted) >= 3  # announcement, summary, runbook
        assert any("&lt;!channel&gt;" in p for p in posted)  # shown, as text
        for text in posted:
            for live in LIVE:
                assert live not in text, (live, text[max(0, text.find(live) - 300):text.find(live) + 50])
        [announcement] = [m["text"] for m in fake_slack.messages("alerts")]
        assert "∗boom∗" in announcement and "*boom*" not in announcement  # the title cannot end the bold early
        assert fake_pagerduty.events
