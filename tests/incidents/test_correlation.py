"""Correlated alarms against the fake Slack and PagerDuty: a cascade is one incident, one channel, one page."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.incidents.test_response import wired
from tests.support.alarms import HIGH_TOPIC, metric_alarm
from tests.support.app import Bot, BotFactory
from tests.support.clock import FakeClock

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
PREFIX = "orders-pipeline-"
# The guide's chain: broker down → consumer lag → latency → window completeness.
ALARMS: dict[str, dict[str, Any]] = {
    "KafkaBrokerDown": {"metric": "kafka_brokers_alive", "threshold": 3, "value": 2,
                        "comparison": "LessThanThreshold"},
    "ConsumerLagHigh": {"metric": "consumer_lag_records", "threshold": 50000, "value": 72000},
    "LatencyP99High": {"metric": "latency_p99_ms", "threshold": 5000, "value": 9100},
    "WindowCompletenessLow": {"metric": "window_completeness_pct", "threshold": 95, "value": 81,
                              "comparison": "LessThanThreshold"},
    "DLQSpike": {"metric": "DLQRecordCount", "threshold": 100, "value": 152},
    "CheckpointFailure": {"metric": "checkpoint_failures", "threshold": 0, "value": 3},
}
CASCADE = ("KafkaBrokerDown", "ConsumerLagHigh", "LatencyP99High", "WindowCompletenessLow")


def alarm(key: str, *, at: datetime, state: str = "ALARM") -> dict[str, Any]:
    """A CloudWatch body for catalog alarm `key`."""
    return metric_alarm(PREFIX + key, state, "ALARM" if state == "OK" else "OK", at=at, **ALARMS[key])


def texts(slack: FakeSlack, channel: str) -> list[str]:
    """Every message in a fake channel, blocks flattened to text."""
    return [m.get("text", "") + json.dumps(m.get("blocks", [])) for m in slack.messages(channel)]


async def deliver(bot: Bot, key: str, *, at: datetime, state: str = "ALARM") -> str:
    """Deliver one alarm state change; returns the intake outcome."""
    answer = await bot.deliver(alarm(key, at=at, state=state), topic=HIGH_TOPIC)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["outcome"])


async def test_cascade_is_one_incident_one_channel_one_page(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """Broker down, then lag, latency and completeness within 5 minutes: one incident, channel and page; each
    symptom's first runbook steps and queries land in that channel; it resolves only when the last alarm is OK."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        outcomes = [await deliver(bot, key, at=T0 + timedelta(minutes=n)) for n, key in enumerate(CASCADE)]
        assert outcomes == ["opened", "joined", "joined", "joined"]
        await bot.settle()
        [incident] = await bot.incidents()
        assert incident["title"] == "Kafka broker down" and incident["severity"] == "CRITICAL"
        channel = incident["channel"]
        assert fake_slack.channel_names() == ["alerts", channel]
        assert len(fake_pagerduty.events) == 1 and len(fake_pagerduty.open_incidents()) == 1
        detail = await bot.incident(incident["id"])
        assert [(a["alarm_name"], a["state"]) for a in detail["alarms"]] == [(PREFIX + k, "ALARM") for k in CASCADE]
        posted = texts(fake_slack, channel)
        for key in CASCADE[1:]:
            assert any(t.startswith(f":link: {PREFIX}{key} joined") for t in posted), key
        [lag_runbook] = [t for t in posted if t.startswith("Runbook: Consumer lag high")]
        assert "2. Assess" not in lag_runbook, lag_runbook
        assert len(texts(fake_slack, "alerts")) == 1  # the one announcement

        for n, key in enumerate(CASCADE[:-1]):
            assert await deliver(bot, key, at=T0 + timedelta(minutes=20 + n), state="OK") == "cleared"
        await bot.settle()
        assert (await bot.incident(incident["id"]))["status"] == "open"
        assert len(fake_pagerduty.open_incidents()) == 1
        assert await deliver(bot, CASCADE[-1], at=T0 + timedelta(minutes=30), state="OK") == "resolved"
        await bot.settle()
        detail = await bot.incident(incident["id"])
        assert detail["status"] == "resolved"
        assert {a["state"] for a in detail["alarms"]} == {"OK"}
        assert fake_pagerduty.open_incidents() == []
        assert any("resolved after 30 min" in t for t in texts(fake_slack, channel))


async def test_cause_after_symptom_takes_the_headline_and_escalates(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A HIGH lag incident gains KafkaBrokerDown: the broker becomes the headline, the incident CRITICAL, and it
    gets its channel and page then."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        assert await deliver(bot, "ConsumerLagHigh", at=T0) == "opened"
        await bot.settle()
        assert fake_slack.channel_names() == ["alerts"] and fake_pagerduty.events == []
        assert await deliver(bot, "KafkaBrokerDown", at=T0 + timedelta(minutes=2)) == "joined"
        await bot.settle()
        [incident] = await bot.incidents()
        assert (incident["title"], incident["severity"]) == ("Kafka broker down", "CRITICAL")
        assert incident["alarm_name"] == PREFIX + "KafkaBrokerDown"
        assert incident["channel_id"] and fake_slack.channel(incident["channel"]) is not None
        assert len(fake_pagerduty.open_incidents()) == 1
        detail = await bot.incident(incident["id"])
        kinds = [e["kind"] for e in detail["timeline"]]
        assert "headline" in kinds and "escalated" in kinds
        assert "Kafka broker down" in fake_slack.topic(incident["channel"]) or "KafkaBrokerDown" in fake_slack.topic(
            incident["channel"])


async def test_unrelated_and_late_alarms_open_their_own_incidents(make_bot: BotFactory) -> None:
    """DLQ spike stands alone; a symptom long after its cause's incident resolved (outside the correlation
    window) opens a new incident."""
    async with make_bot() as bot:
        assert await deliver(bot, "CheckpointFailure", at=T0) == "opened"
        assert await deliver(bot, "DLQSpike", at=T0 + timedelta(minutes=1)) == "opened"
        assert await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=2)) == "joined"
        assert len(await bot.incidents()) == 2
        assert await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=3), state="OK") == "cleared"
        assert await deliver(bot, "CheckpointFailure", at=T0 + timedelta(minutes=4), state="OK") == "resolved"
        # 36 minutes later: past the reopen window (30 min) and the correlation window (15 min from opening).
        assert await deliver(bot, "LatencyP99High", at=T0 + timedelta(minutes=40)) == "opened"
        assert len(await bot.incidents()) == 3


async def test_symptom_within_the_window_reopens_the_resolved_incident(make_bot: BotFactory) -> None:
    """A related alarm within CORRELATION_WINDOW of a resolved incident's opening joins (and reopens) it."""
    async with make_bot(reopen_window="1m") as bot:
        assert await deliver(bot, "KafkaBrokerDown", at=T0) == "opened"
        assert await deliver(bot, "KafkaBrokerDown", at=T0 + timedelta(minutes=2), state="OK") == "resolved"
        assert await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=10)) == "joined"
        [incident] = await bot.incidents()
        assert incident["status"] == "open" and incident["reopen_count"] == 1
        assert await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=12), state="OK") == "resolved"


async def test_racing_cascade_on_two_replicas_makes_one_incident(make_bot: BotFactory) -> None:
    """The four cascade alarms and their twins, delivered all at once to two replicas sharing the database, make
    one incident holding each alarm once."""
    async with make_bot() as first, make_bot() as second:
        bodies = [(key, alarm(key, at=T0 + timedelta(seconds=n))) for n, key in enumerate(CASCADE)]
        deliveries = [bot.deliver(body, message_id=f"{key}-{copy}", topic=HIGH_TOPIC)
                      for key, body in bodies for copy in range(2) for bot in (first, second)]
        answers = await asyncio.gather(*deliveries)
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        outcomes = [a.json()["outcome"] for a in answers]
        assert outcomes.count("opened") == 1, outcomes
        [incident] = await first.incidents()
        detail = await second.incident(incident["id"])
        assert sorted(a["alarm_name"] for a in detail["alarms"]) == sorted(PREFIX + k for k in CASCADE)


async def test_resolve_by_hand_frees_every_alarm(make_bot: BotFactory) -> None:
    """After `/incident resolve` each of the incident's alarms may open (or reopen) an incident again."""
    clock = FakeClock(T0 + timedelta(minutes=5))
    async with make_bot(clock=clock) as bot:
        await deliver(bot, "KafkaBrokerDown", at=T0)
        await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=1))
        [incident] = await bot.incidents()
        await bot.app.state.commands.resolve(incident_id=incident["id"], channel_id=None, by="U00ALICE01")
        # Resolved by a person while the alarm was in ALARM: its OK is only noted on the resolved incident.
        assert await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=6), state="OK") == "noted"
        assert await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=7)) == "reopened"
        assert len(await bot.incidents()) == 1


async def test_alarms_of_another_region_are_not_correlated(make_bot: BotFactory) -> None:
    """A broker down in eu-west-1 is not the cause of lag in us-east-1: two incidents."""
    async with make_bot() as bot:
        broker = alarm("KafkaBrokerDown", at=T0)
        broker["AlarmArn"] = broker["AlarmArn"].replace("us-east-1", "eu-west-1")
        assert (await bot.deliver(broker)).json()["outcome"] == "opened"
        assert await deliver(bot, "ConsumerLagHigh", at=T0 + timedelta(minutes=1)) == "opened"
        assert len(await bot.incidents()) == 2


async def test_channel_names_carry_a_foreign_region(make_bot: BotFactory) -> None:
    """The same CRITICAL alarm in another region gets its own channel name (no `-2`, `-3` guessing)."""
    async with make_bot() as bot:
        broker = alarm("KafkaBrokerDown", at=T0)
        broker["AlarmArn"] = broker["AlarmArn"].replace("us-east-1", "eu-west-1")
        await bot.deliver(broker)
        await deliver(bot, "KafkaBrokerDown", at=T0)
        names = sorted(i["channel"] for i in await bot.incidents())
        assert names == [f"inc-{T0:%Y%m%d}-kafka-broker-down", f"inc-{T0:%Y%m%d}-kafka-broker-down-eu-west-1"]
