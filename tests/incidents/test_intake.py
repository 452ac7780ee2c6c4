"""Alarm intake end to end through POST /sns: incidents open, repeat, resolve and reopen exactly once."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.alarms.bodies import anomaly
from tests.support.alarms import HIGH_TOPIC, composite_alarm, metric_alarm
from tests.support.app import BotFactory

CW = Path(__file__).parent.parent / "fixtures" / "cloudwatch-alarms"
T0 = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


async def test_alarm_opens_one_critical_incident(make_bot: BotFactory) -> None:
    """A CRITICAL alarm in ALARM becomes one open incident with the catalog's severity and a channel name."""
    async with make_bot() as bot:
        answer = await bot.deliver(metric_alarm(at=T0))
        assert answer.status_code == 200
        assert answer.json()["outcome"] == "opened"
        [incident] = await bot.incidents()
        assert incident["alarm_name"] == "orders-pipeline-DLQSpike"
        assert incident["severity"] == "CRITICAL"
        assert incident["status"] == "open"
        assert incident["channel"] == "inc-20261124-dlq-spike"
        assert incident["opened_at"].startswith("2026-11-24T10:30:00")
        detail = await bot.incident(incident["id"])
        kinds = [entry["kind"] for entry in detail["timeline"]]
        assert kinds[:2] == ["alarm", "opened"]
        assert detail["timeline"][0]["summary"] == "orders-pipeline-DLQSpike: OK → ALARM"


async def test_redelivery_is_a_noop(make_bot: BotFactory) -> None:
    """The same MessageId delivered twice answers 2xx both times and changes nothing the second time."""
    async with make_bot() as bot:
        message_id = str(uuid.uuid4())
        first = await bot.deliver(metric_alarm(at=T0), message_id=message_id)
        second = await bot.deliver(metric_alarm(at=T0), message_id=message_id)
        assert (first.status_code, second.status_code) == (200, 200)
        assert second.json()["outcome"] == "duplicate"
        [incident] = await bot.incidents()
        detail = await bot.incident(incident["id"])
        assert [e["kind"] for e in detail["timeline"]].count("alarm") == 1


async def test_concurrent_twin_deliveries_make_one_incident(make_bot: BotFactory) -> None:
    """Ten copies of one delivery arriving together still make exactly one incident and one timeline entry."""
    async with make_bot() as bot:
        message_id = str(uuid.uuid4())
        answers = await asyncio.gather(*(bot.deliver(metric_alarm(at=T0), message_id=message_id) for _ in range(10)))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        outcomes = sorted(a.json()["outcome"] for a in answers)
        assert outcomes.count("opened") == 1 and outcomes.count("duplicate") == 9
        [incident] = await bot.incidents()
        detail = await bot.incident(incident["id"])
        assert [e["kind"] for e in detail["timeline"]].count("alarm") == 1


async def test_concurrent_distinct_alarm_messages_make_one_incident(make_bot: BotFactory) -> None:
    """Two different ALARM messages for one alarm racing each other open one incident; the other repeats it."""
    async with make_bot() as bot:
        answers = await asyncio.gather(*(bot.deliver(metric_alarm(at=T0 + timedelta(seconds=i))) for i in range(6)))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        outcomes = sorted(a.json()["outcome"] for a in answers)
        assert outcomes.count("opened") == 1 and outcomes.count("repeated") == 5
        assert len(await bot.incidents()) == 1


async def test_repeated_alarm_adds_to_timeline(make_bot: BotFactory) -> None:
    """A second ALARM while open is recorded on the same incident's timeline."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm(at=T0))
        answer = await bot.deliver(metric_alarm(at=T0 + timedelta(minutes=3), old="ALARM", value=400))
        assert answer.json()["outcome"] == "repeated"
        [incident] = await bot.incidents()
        detail = await bot.incident(incident["id"])
        values = [e["data"].get("value") for e in detail["timeline"] if e["kind"] == "alarm"]
        assert values == [152.0, 400.0]


async def test_ok_resolves_and_late_alarm_reopens_within_window(make_bot: BotFactory) -> None:
    """OK resolves the incident; an ALARM 10 minutes later (window 30 min) reopens the same incident."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm(at=T0))
        resolved = await bot.deliver(metric_alarm(state="OK", old="ALARM", at=T0 + timedelta(minutes=20)))
        assert resolved.json()["outcome"] == "resolved"
        [incident] = await bot.incidents()
        assert incident["status"] == "resolved"
        assert incident["resolved_at"].startswith("2026-11-24T10:50:00")
        again = await bot.deliver(metric_alarm(at=T0 + timedelta(minutes=30)))
        assert again.json()["outcome"] == "reopened"
        [incident] = await bot.incidents()
        assert (incident["status"], incident["reopen_count"], incident["resolved_at"]) == ("open", 1, None)


async def test_alarm_after_reopen_window_opens_new_incident(make_bot: BotFactory) -> None:
    """An ALARM long after resolution is a new incident, not a reopen."""
    async with make_bot(reopen_window=timedelta(minutes=5)) as bot:
        await bot.deliver(metric_alarm(at=T0))
        await bot.deliver(metric_alarm(state="OK", old="ALARM", at=T0 + timedelta(minutes=10)))
        answer = await bot.deliver(metric_alarm(at=T0 + timedelta(minutes=20)))
        assert answer.json()["outcome"] == "opened"
        incidents = await bot.incidents()
        assert [i["status"] for i in incidents] == ["open", "resolved"]


async def test_late_ok_and_stale_alarm_do_not_flip_state(make_bot: BotFactory) -> None:
    """An OK older than the incident's last change, or an ALARM older than its resolution, is recorded but ignored."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm(at=T0))
        stale_ok = await bot.deliver(metric_alarm(state="OK", old="ALARM", at=T0 - timedelta(minutes=1)))
        assert stale_ok.json()["outcome"] == "stale"
        await bot.deliver(metric_alarm(state="OK", old="ALARM", at=T0 + timedelta(minutes=5)))
        stale_alarm = await bot.deliver(metric_alarm(at=T0 + timedelta(minutes=2)))
        assert stale_alarm.json()["outcome"] == "stale"
        [incident] = await bot.incidents()
        assert incident["status"] == "resolved"


async def test_ok_without_open_incident_is_ignored(make_bot: BotFactory) -> None:
    """An OK for an alarm with no open incident is accepted and changes nothing."""
    async with make_bot() as bot:
        answer = await bot.deliver(metric_alarm(state="OK", old="INSUFFICIENT_DATA", at=T0))
        assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
        assert await bot.incidents() == []


async def test_insufficient_data_is_noted(make_bot: BotFactory) -> None:
    """INSUFFICIENT_DATA while open goes on the timeline without resolving."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm(at=T0))
        answer = await bot.deliver(metric_alarm(state="INSUFFICIENT_DATA", old="ALARM", at=T0 + timedelta(minutes=1)))
        assert answer.json()["outcome"] == "noted"
        [incident] = await bot.incidents()
        assert incident["status"] == "open"


async def test_unknown_alarm_opens_with_default_severity(make_bot: BotFactory) -> None:
    """An alarm the catalog does not know still opens an incident, with UNKNOWN_ALARM_SEVERITY."""
    async with make_bot(unknown_alarm_severity="MEDIUM") as bot:
        answer = await bot.deliver(metric_alarm("some-team-DiskFull", metric="DiskUsed", at=T0), topic=HIGH_TOPIC)
        assert answer.json()["outcome"] == "opened"
        [incident] = await bot.incidents()
        assert (incident["severity"], incident["title"], incident["channel"]) == ("MEDIUM", "some-team-DiskFull", None)


async def test_high_alarm_has_no_channel(make_bot: BotFactory) -> None:
    """A HIGH alarm opens an incident without a dedicated channel."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm("orders-pipeline-ConsumerLagHigh", metric="consumer_lag_records",
                                       threshold=50000, value=72000, at=T0), topic=HIGH_TOPIC)
        [incident] = await bot.incidents()
        assert (incident["severity"], incident["channel"]) == ("HIGH", None)


async def test_every_alarm_kind_is_accepted(make_bot: BotFactory) -> None:
    """AWS's metric and metric-math examples, an anomaly-detection band and a composite alarm each open one."""
    async with make_bot() as bot:
        for path in sorted(CW.glob("*.json")):
            body = json.loads(path.read_text())
            body["AlarmName"] = body["AlarmArn"] = f"example-{path.stem}"
            answer = await bot.deliver(body)
            assert answer.json()["outcome"] == "opened", path.name
        band = anomaly(json.loads((CW / "metric-math-alarm.json").read_text()))
        band["AlarmName"] = band["AlarmArn"] = "example-anomaly-band"
        assert (await bot.deliver(band)).json()["outcome"] == "opened"
        answer = await bot.deliver(composite_alarm(at=T0))
        assert answer.json()["outcome"] == "opened"
        names = {i["alarm_name"] for i in await bot.incidents()}
        assert names == {"example-metric-alarm", "example-metric-math-alarm", "example-anomaly-band",
                         "orders-pipeline-DataLossComposite"}


async def test_non_alarm_notification_is_accepted_once(make_bot: BotFactory) -> None:
    """A test message published to the topic is accepted (2xx, so SNS stops retrying) and opens nothing."""
    async with make_bot() as bot:
        answer = await bot.deliver("hello from the console", subject="test")
        assert answer.status_code == 200 and answer.json()["outcome"] == "not_an_alarm"
        assert await bot.incidents() == []
