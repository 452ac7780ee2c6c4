"""The storm guard against the fakes: many unrelated alarms at once make one digest in the alerts channel, updated in
place, while CRITICAL incidents still get their channel and page and Slack's rate limits are kept."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.incidents.test_correlation import ALARMS, PREFIX
from tests.incidents.test_response import wired
from tests.support.alarms import HIGH_TOPIC, metric_alarm
from tests.support.app import BotFactory

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
# Four CRITICAL alarms that are not each other's causes or symptoms, spread through the storm.
CRITICAL_AT = {4: "DLQSpike", 12: "CheckpointFailure", 19: "KafkaBrokerDown", 27: "FirehoseDeliveryFailed"}
ALARMS_WITH_FIREHOSE = {**ALARMS, "FirehoseDeliveryFailed": {"metric": "firehose_failed_put_count", "threshold": 0,
                                                            "value": 12}}


def storm_bodies(count: int = 30) -> list[dict[str, Any]]:
    """`count` unrelated alarms within one minute: unknown ones (HIGH) and the four CRITICAL ones."""
    bodies = []
    for n in range(count):
        at = T0 + timedelta(seconds=2 * n)
        key = CRITICAL_AT.get(n)
        if key:
            bodies.append(metric_alarm(PREFIX + key, at=at, **ALARMS_WITH_FIREHOSE[key]))
        else:
            bodies.append(metric_alarm(f"{PREFIX}StormNoise{n:02d}", at=at, metric=f"noise_{n}", value=3,
                                       threshold=1))
    return bodies


@pytest.mark.slow
async def test_thirty_unrelated_alarms_make_one_digest_and_every_critical_its_channel_and_page(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """30 alarms in a minute: 10 announcements, then one storm digest updated in place up to 30 incidents with
    links to the incident channels; 4 channels and 4 pages; the fake's 1 message/s/channel gives few 429s."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        started = time.monotonic()
        for body in storm_bodies():
            answer = await bot.deliver(body, topic=HIGH_TOPIC)
            assert answer.json()["outcome"] == "opened", answer.text
        await bot.settle(timeout=120)
        elapsed = time.monotonic() - started

        incidents = await bot.incidents()
        assert len(incidents) == 30
        critical = [i for i in incidents if i["severity"] == "CRITICAL"]
        assert len(critical) == 4 and all(i["channel_id"] for i in critical)
        assert len(fake_slack.channel_names()) == 1 + 4
        assert len(fake_pagerduty.open_incidents()) == 4

        alerts = fake_slack.messages("alerts")
        digests = [m for m in alerts if m["text"].startswith("Alarm storm")]
        assert len(digests) == 1, [m["text"][:80] for m in alerts]
        [digest] = digests
        assert len(alerts) == 10 + 1  # the incidents before the storm were announced one by one
        assert "edited" in digest and digest["text"].startswith("Alarm storm: 30 incidents")
        shown = json.dumps(digest["blocks"])
        assert "*CRITICAL* 4" in shown and "*HIGH* 26" in shown
        assert all(f"<#{i['channel_id']}>" in shown for i in critical)
        assert "StormNoise29" in shown
        update_calls = len(fake_slack.calls_to("chat.update"))
        assert update_calls < 30  # coalesced: an update shows every incident opened by then

        # Paced, not discovered: at most a handful of 429s, and the alerts channel never above ~1 message/s.
        assert len(fake_slack.rate_limited) <= 3, fake_slack.rate_limited
        assert elapsed >= (len(alerts) - 4) * 1.0


async def test_below_the_threshold_every_incident_is_announced(make_bot: BotFactory) -> None:
    """Ten incidents within the window are no storm (more than STORM_THRESHOLD is): ten alerts, no digest."""
    async with make_bot() as bot:
        for body in storm_bodies(10):
            await bot.deliver(body, topic=HIGH_TOPIC)
        await bot.settle()
        posted = [p.message.text for p in bot.app.state.adapters.chat.posts if p.channel_id == "R-alerts"]
        assert len(posted) == 10 and not any(t.startswith("Alarm storm") for t in posted)


async def test_storm_threshold_and_window_are_settings(make_bot: BotFactory) -> None:
    """STORM_THRESHOLD=3: the fourth incident within STORM_WINDOW starts a storm; one a window later ends it."""
    async with make_bot(storm_threshold=3, storm_window="5m") as bot:
        bodies = storm_bodies(6)
        for body in bodies:
            await bot.deliver(body, topic=HIGH_TOPIC)
        await bot.deliver(metric_alarm(f"{PREFIX}AfterTheStorm", at=T0 + timedelta(minutes=12), metric="late",
                                       value=3, threshold=1), topic=HIGH_TOPIC)
        await bot.settle()
        chat = bot.app.state.adapters.chat
        posted = [p for p in chat.posts if p.channel_id == "R-alerts"]
        texts = [p.message.text for p in posted]
        assert sum(t.startswith("Alarm storm") for t in texts) == 1
        assert len(posted) == 3 + 1 + 1, texts
        [digest] = [t for t in texts if t.startswith("Alarm storm")]
        assert digest.startswith("Alarm storm: 6 incidents")


def test_digest_shows_hostile_alarm_names_inert() -> None:
    """Alarm names in the digest are escaped; only the bot's own channel links are live."""
    from bot.incidents.messages import storm_digest
    from bot.incidents.models import Incident

    incidents = [Incident(id=n, title="t", alarm_name="<!channel> x&y", severity="HIGH", opened_at=T0,
                          channel_id="C0000001" if n == 1 else None, channel_name="inc-x") for n in (1, 2)]
    shown = json.dumps(storm_digest(incidents).blocks, ensure_ascii=False)
    assert "<!channel>" not in shown and "&lt;!channel&gt; x&amp;y × 2" in shown
    assert "<#C0000001>" in shown and "Without a channel" in shown
