"""The incident response against fake Slack and PagerDuty servers: channel, page, runbook, resolution, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.fixtures import ROUTING_KEY, SLACK_TOKEN
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.support.alarms import HIGH_TOPIC, metric_alarm
from tests.support.app import Bot, BotFactory
from tests.support.clock import FakeClock

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
CHANNEL = f"inc-{T0:%Y%m%d}-dlq-spike"


def wired(slack: FakeSlack, pagerduty: FakePagerDuty, **extra: Any) -> dict[str, Any]:
    """Settings that point the bot at the fakes."""
    return {
        "slack_bot_token": SLACK_TOKEN, "slack_api_url": slack.api_url, "pagerduty_routing_key": ROUTING_KEY,
        "pagerduty_events_url": pagerduty.events_url, "slack_alerts_channel": "#alerts",
        "slack_responders_critical": ["U00ALICE01", "bob@example.com"], **extra,
    }


def texts(slack: FakeSlack, channel: str) -> list[str]:
    """Every message in a fake channel, blocks flattened to text."""
    import json

    return [m.get("text", "") + json.dumps(m.get("blocks", [])) for m in slack.messages(channel)]


async def open_critical(bot: Bot) -> dict[str, Any]:
    """Deliver the DLQ spike alarm, let the relay work, return the incident."""
    answer = await bot.deliver(metric_alarm(at=T0))
    assert answer.status_code == 200, answer.text
    # Slack's 5xx are retried by the outbox (with its look-up first), on its backoff: a storm takes ~25 s.
    await bot.settle(timeout=60)
    [incident] = await bot.incidents()
    return incident


async def test_critical_alarm_opens_channel_pages_and_posts_runbook(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A CRITICAL alarm yields exactly one channel, one page, the summary and the runbook."""
    fake_slack.add_usergroup("flink-oncall", ["W00CAROL01"])  # the runbook invites @flink-oncall
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        assert fake_slack.channel_names().count(CHANNEL) == 1
        assert incident["channel"] == CHANNEL and incident["channel_id"]
        assert {"U00ALICE01", "U00BOB0001", "W00CAROL01"} <= fake_slack.members(CHANNEL)
        detail = await bot.incident(incident["id"])
        [invite] = [e for e in detail["timeline"] if e["summary"].startswith("Invited")]
        assert invite["data"]["unknown"] == ["data-platform"]  # no such group in this workspace: said, not hidden
        assert "CRITICAL" in fake_slack.topic(CHANNEL)
        assert {b["title"] for b in fake_slack.bookmarks(CHANNEL)} >= {"Alarm", "Dashboard"}
        posted = texts(fake_slack, CHANNEL)
        assert any("DLQRecordCount" in t and "152" in t for t in posted), posted
        assert any("Runbook" in t for t in posted)
        assert any(CHANNEL in t or incident["channel_id"] in t for t in texts(fake_slack, "alerts"))
        [page] = fake_pagerduty.open_incidents()
        assert page.dedup_key == f"incident-bot/{incident['id']}"
        assert len(fake_pagerduty.events) == 1


async def test_ok_resolves_page_and_posts_filled_postmortem(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """OK resolves the page, says how long it took and posts the post-incident template filled in."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        await bot.deliver(metric_alarm(state="OK", old="ALARM", at=T0 + timedelta(minutes=12)))
        await bot.settle()
        assert fake_pagerduty.open_incidents() == []
        assert fake_pagerduty.incident(f"incident-bot/{incident['id']}").status == "resolved"
        posted = texts(fake_slack, CHANNEL)
        assert any("resolved after 12 min" in t for t in posted), posted
        assert any("Post-incident" in t for t in posted)
        assert "RESOLVED" in fake_slack.topic(CHANNEL)
        report = (await bot.client.get(f"/api/incidents/{incident['id']}/postmortem")).text
        assert "12" in report and "orders-pipeline-DLQSpike" in report


async def test_high_alarm_pages_nobody(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A HIGH alarm posts its runbook steps to the alerts channel, mentioning HIGH responders; no channel, no page."""
    async with make_bot(**wired(fake_slack, fake_pagerduty, slack_responders_high=["carol@example.com"])) as bot:
        await bot.deliver(metric_alarm("orders-pipeline-ConsumerLagHigh", metric="consumer_lag_records",
                                       threshold=50000, value=72000, at=T0), topic=HIGH_TOPIC)
        await bot.settle()
        assert fake_pagerduty.events == []
        assert fake_slack.channel_names() == ["alerts"]
        [alert] = texts(fake_slack, "alerts")
        assert "72000" in alert and "/incident declare" in alert
        assert alert.startswith("<@W00CAROL01>")


async def test_flapping_reuses_the_channel_and_pages_again(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """ALARM, OK, ALARM within the reopen window: one channel, one incident, paged again under one dedup key."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        await open_critical(bot)
        await bot.deliver(metric_alarm(state="OK", old="ALARM", at=T0 + timedelta(minutes=5)))
        await bot.settle()
        await bot.deliver(metric_alarm(at=T0 + timedelta(minutes=8)))
        await bot.settle()
        assert fake_slack.channel_names().count(CHANNEL) == 1
        assert len(await bot.incidents()) == 1
        assert any("reopened" in t for t in texts(fake_slack, CHANNEL))
        assert len(fake_pagerduty.open_incidents()) == 1


@pytest.mark.slow
async def test_slack_429_and_500_storm_still_does_everything_once(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """With Slack answering 429 and 500 for a while, every step still happens exactly once."""
    fake_slack.fail_next("conversations.create", status=500, times=4)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1, times=3)
    fake_slack.fail_next("chat.postMessage", status=503, times=4)
    fake_pagerduty.fail_next(status=500, times=3)
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        assert fake_slack.channel_names().count(CHANNEL) == 1
        posted = texts(fake_slack, CHANNEL)
        assert sum(t.startswith("Runbook:") for t in posted) == 1
        assert sum(t.startswith("CRITICAL: orders-pipeline-DLQSpike is in ALARM") for t in posted) == 1
        assert len(fake_pagerduty.open_incidents()) == 1
        detail = await bot.incident(incident["id"])
        assert all(step["status"] == "done" for step in detail["steps"] if step["lane"] != "reminder")


@pytest.mark.slow
async def test_restart_mid_incident_resumes_pending_steps(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A bot stopped while Slack is down resumes on restart and finishes every step once."""
    fake_slack.fail_next("*", status=500, times=1000)
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        await bot.deliver(metric_alarm(at=T0))
        await bot.drain()
    fake_slack.reset_faults() if hasattr(fake_slack, "reset_faults") else fake_slack._faults.clear()
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        await bot.settle(timeout=60)
        assert fake_slack.channel_names().count(CHANNEL) == 1
        assert sum(t.startswith("Runbook:") for t in texts(fake_slack, CHANNEL)) == 1
        assert len(fake_pagerduty.open_incidents()) == 1


async def test_duplicate_deliveries_make_one_channel(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """The same alarm delivered three times produces one channel and one page."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        for _ in range(3):
            await bot.deliver(metric_alarm(at=T0), message_id="same-message-id")
        await bot.settle()
        assert fake_slack.channel_names().count(CHANNEL) == 1
        assert len(fake_pagerduty.events) == 1


async def test_unknown_alarm_gets_generic_runbook(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """An alarm outside the catalog, configured CRITICAL by default, still gets a channel and the generic runbook."""
    async with make_bot(**wired(fake_slack, fake_pagerduty, unknown_alarm_severity="CRITICAL")) as bot:
        await bot.deliver(metric_alarm("payments-QueueDepth", metric="QueueDepth", at=T0))
        await bot.settle()
        channel = f"inc-{T0:%Y%m%d}-payments-queue-depth"
        assert channel in fake_slack.channel_names(), fake_slack.channel_names()
        assert any("Runbook" in t for t in texts(fake_slack, channel))


async def test_unacknowledged_critical_is_reminded(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A CRITICAL incident not acknowledged within ACK_TIMEOUT re-pings the channel and responders, 3 rounds."""
    clock = FakeClock()
    async with make_bot(clock=clock, **wired(fake_slack, fake_pagerduty, ack_timeout=timedelta(minutes=5))) as bot:
        await open_critical(bot)
        assert not [t for t in texts(fake_slack, CHANNEL) if "not acknowledged" in t]
        clock.advance(timedelta(minutes=5, seconds=1))
        await bot.drain()
        assert len([t for t in texts(fake_slack, CHANNEL) if "not acknowledged" in t]) == 1
        clock.advance(timedelta(minutes=10))
        await bot.drain()
        reminders = [t for t in texts(fake_slack, CHANNEL) if "not acknowledged" in t]
        assert len(reminders) == 3
        assert "<@U00ALICE01> <@U00BOB0001>" in reminders[0]
        assert len([t for t in texts(fake_slack, "alerts") if "not acknowledged" in t]) == 3


async def test_unacknowledged_high_is_reminded_in_alerts(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A HIGH incident still open after INVESTIGATE_TIMEOUT is raised again in the alerts channel."""
    clock = FakeClock()
    settings = wired(fake_slack, fake_pagerduty, slack_responders_high=["carol@example.com"])
    async with make_bot(clock=clock, **settings) as bot:
        await bot.deliver(metric_alarm("orders-pipeline-ConsumerLagHigh", metric="consumer_lag_records",
                                       threshold=50000, value=72000, at=T0), topic=HIGH_TOPIC)
        await bot.settle(horizon=0)
        assert not [t for t in texts(fake_slack, "alerts") if "not acknowledged" in t]
        clock.advance(timedelta(hours=1, seconds=1))  # INVESTIGATE_TIMEOUT
        await bot.drain()
        reminders = [t for t in texts(fake_slack, "alerts") if "not acknowledged" in t]
        assert reminders
        assert "<@W00CAROL01>" in reminders[0]
        assert "is HIGH and still not acknowledged" in reminders[0]


async def test_record_only_without_credentials(make_bot: BotFactory) -> None:
    """Without Slack or PagerDuty credentials every would-be message is on the timeline and paging says so."""
    async with make_bot() as bot:
        incident = await open_critical(bot)
        detail = await bot.incident(incident["id"])
        kinds = [e["kind"] for e in detail["timeline"]]
        assert "channel" in kinds and "message" in kinds
        messages = [e for e in detail["timeline"] if e["kind"] == "message"]
        assert any("Runbook" in m["data"]["text"] for m in messages)
        [page] = [e for e in detail["timeline"] if e["kind"] == "page"]
        assert "not configured" in page["summary"]


def write_dlq_logs(directory: Any, *, end: datetime, parse_errors: int, duplicates: int) -> None:
    """Pipeline log lines for DLQ records in the minutes before `end`."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(parse_errors + duplicates):
        at = end - timedelta(seconds=30 + i % 90)
        kind = "parse_error" if i < parse_errors else "duplicate"
        lines.append(json.dumps({
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "level": "ERROR", "logger": "orders_pipeline",
            "message": "record sent to DLQ", "order_id": f"ORD-{i}", "operator": "parse", "status": "error",
            "error_type": kind, "error_code": "ERR-001", "dlq": True, "latency_ms": 3,
        }))
    (directory / "pipeline.jsonl").write_text("\n".join(lines) + "\n")


async def test_incident_channel_gets_the_dlq_breakdown_with_its_hint(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty, tmp_path: Any
) -> None:
    """The runbook's queries run over the alarm window; parse errors dominate, so the schema-change hint shows."""
    write_dlq_logs(tmp_path / "logs", end=T0, parse_errors=90, duplicates=10)
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        breakdown = [t for t in texts(fake_slack, CHANNEL) if "parse_error" in t and "schema change" in t]
        assert breakdown, texts(fake_slack, CHANNEL)
        assert "90" in breakdown[0]
        detail = await bot.incident(incident["id"])
        headlines = [e["summary"] for e in detail["timeline"] if e["kind"] == "query"]
        assert any(h.startswith("dlq-breakdown: parse_error 90 (90%)") for h in headlines), headlines


async def test_taken_channel_name_gets_a_suffix(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """When someone already has the incident channel name, the bot takes `<name>-2` and leaves theirs alone."""
    fake_slack.add_channel(CHANNEL)
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        assert incident["channel"] == f"{CHANNEL}-2"
        assert texts(fake_slack, CHANNEL) == []  # the stranger's channel is left alone
        assert any(t.startswith("Runbook:") for t in texts(fake_slack, f"{CHANNEL}-2"))


async def test_acknowledge_button_acknowledges_the_page_and_stops_reminders(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """Pressing Acknowledge in Slack acknowledges the PagerDuty incident and the channel hears it once."""
    import asyncio

    from tests.slack.client import SIGNING_SECRET, SlackUser

    clock = FakeClock()
    settings = wired(fake_slack, fake_pagerduty, slack_signing_secret=SIGNING_SECRET)
    async with make_bot(clock=clock, **settings) as bot:
        await bot.deliver(metric_alarm(at=T0))
        await bot.settle(horizon=0.5)  # everything but the reminder
        [incident] = await bot.incidents()
        channel = fake_slack.channel(CHANNEL)
        assert channel is not None
        alice = SlackUser(bot=bot, fake=fake_slack, user_id="U00ALICE01", channel_id=channel.id)
        answer, _ = await alice.click("incident_acknowledge", str(incident["id"]))
        assert answer.status_code == 200
        for _ in range(100):  # Bolt finishes the listener after the ack
            if (await bot.incident(incident["id"]))["status"] == "acknowledged":
                break
            await asyncio.sleep(0.02)
        await bot.settle(horizon=0.5)
        assert fake_pagerduty.incident(f"incident-bot/{incident['id']}").status == "acknowledged"
        posted = texts(fake_slack, CHANNEL)
        # Said once as a line; the summary at the top (updated in place) shows it too.
        assert sum(":eyes:" in t and "acknowledged by <@U00ALICE01>" in t for t in posted) == 1
        clock.advance(timedelta(minutes=16))  # past every round: each reminder runs, sees the acknowledgement
        await bot.drain()
        assert not any("not acknowledged" in t for t in texts(fake_slack, CHANNEL))
        detail = await bot.incident(incident["id"])
        assert any(e["summary"] == "Reminder skipped: incident is acknowledged" for e in detail["timeline"])


async def test_incident_channel_names_the_new_log_pattern(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty, tmp_path: Any
) -> None:
    """The DLQ runbook runs log-patterns: a template absent from the previous period is announced as new."""
    import json

    directory = tmp_path / "logs"
    directory.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"timestamp": (T0 - timedelta(seconds=20 + i % 240)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                         "level": "ERROR", "message": "JSON.parse() failed: Field 'cust_id' not found",
                         "order_id": f"ORD-{i}", "operator": "parse", "status": "error",
                         "error_type": "parse_error", "dlq": True}) for i in range(712)]
    (directory / "pipeline.jsonl").write_text("\n".join(lines) + "\n")
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        said = [t for t in texts(fake_slack, CHANNEL) if "new pattern" in t]
        assert any("new pattern: JSON.parse() failed: Field 'cust_id' not found (712, new)" in t for t in said), \
            texts(fake_slack, CHANNEL)
        detail = await bot.incident(incident["id"])
        headlines = [e["summary"] for e in detail["timeline"] if e["kind"] == "query"]
        assert "log-patterns: new pattern: JSON.parse() failed: Field 'cust_id' not found (712, new)" in headlines
