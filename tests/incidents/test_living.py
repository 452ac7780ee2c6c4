"""Messages that follow the incident, graphs, the post-incident review from Slack and invites that degrade —
against the fake Slack and PagerDuty servers, on a FakeClock."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.emf import document, write
from tests.fakes.fixtures import ROUTING_KEY, SLACK_TOKEN
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET, SlackUser, wait_responses
from tests.support.alarms import metric_alarm
from tests.support.app import Bot, BotFactory
from tests.support.clock import FakeClock

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
CHANNEL = f"inc-{T0:%Y%m%d}-dlq-spike"
HOSTILE = "<!channel> fix `it` <@U123> <https://evil.example|click>"


def wired(slack: FakeSlack, pagerduty: FakePagerDuty, **extra: Any) -> dict[str, Any]:
    """Settings that point the bot at the fakes, Slack interactivity included."""
    return {
        "slack_bot_token": SLACK_TOKEN, "slack_api_url": slack.api_url, "slack_signing_secret": SIGNING_SECRET,
        "pagerduty_routing_key": ROUTING_KEY, "pagerduty_events_url": pagerduty.events_url,
        "slack_alerts_channel": "#alerts", "slack_responders_critical": ["U00ALICE01"], **extra,
    }


def shown(message: dict[str, Any]) -> str:
    """A message's text and blocks, flattened."""
    return message.get("text", "") + json.dumps(message.get("blocks", []))


def action_ids(message: dict[str, Any]) -> set[str]:
    """The action ids of every button on a message."""
    return {e.get("action_id", "") for b in message.get("blocks", []) if b.get("type") == "actions"
            for e in b.get("elements", [])}


async def until(check: Any, timeout: float = 10.0) -> None:
    """Wait until `check()` (async) is true: Bolt finishes listeners after acknowledging."""
    for _ in range(int(timeout / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def open_critical(bot: Bot) -> dict[str, Any]:
    """Deliver the DLQ spike alarm at T0, let the relay work, return the incident."""
    answer = await bot.deliver(metric_alarm(at=T0))
    assert answer.status_code == 200, answer.text
    await bot.settle(horizon=1)
    [incident] = await bot.incidents()
    return incident


async def test_ack_and_resolve_update_the_first_messages_in_place(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """After acknowledge and resolve, the summary at the top of the incident channel and the announcement in
    #alerts have been updated with chat.update on their original ts and show no stale buttons; Reopen is offered
    only within the reopen window."""
    clock = FakeClock(T0 + timedelta(minutes=1))
    async with make_bot(clock=clock, **wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        channel = fake_slack.channel(CHANNEL)
        alerts = fake_slack.channel("alerts")
        assert channel is not None and alerts is not None
        summary, announcement = channel.messages[0], alerts.messages[0]
        assert action_ids(summary) >= {"incident_acknowledge", "incident_resolve"}
        assert f"<#{channel.id}>" in shown(announcement)  # a real channel link, not the name as text

        alice = SlackUser(bot=bot, fake=fake_slack, user_id="U00ALICE01", channel_id=channel.id)
        _, response_url = await alice.click("incident_acknowledge", str(incident["id"]), message_ts=summary["ts"])
        await wait_responses(fake_slack, response_url)
        await until(lambda: _status_is(bot, incident["id"], "acknowledged"))
        clock.advance(timedelta(minutes=2))
        await bot.settle(horizon=1)
        summary, announcement = channel.messages[0], alerts.messages[0]
        assert "ACKNOWLEDGED" in shown(summary) and "acknowledged by <@U00ALICE01>" in shown(summary)
        assert "incident_acknowledge" not in action_ids(summary) and "incident_resolve" in action_ids(summary)
        assert "acknowledged by <@U00ALICE01>" in shown(announcement)
        assert "*Alarms:* `orders-pipeline-DLQSpike` ALARM" in shown(summary)

        _, response_url = await alice.click("incident_resolve", str(incident["id"]), message_ts=summary["ts"])
        await wait_responses(fake_slack, response_url)
        await until(lambda: _status_is(bot, incident["id"], "resolved"))
        await bot.settle(horizon=1)
        summary, announcement = channel.messages[0], alerts.messages[0]
        updates = fake_slack.calls_to("chat.update")
        assert {(u["channel"], u["ts"]) for u in updates} == {(channel.id, summary["ts"]),
                                                              (alerts.id, announcement["ts"])}
        assert "RESOLVED" in shown(summary) and "resolved" in shown(announcement)
        assert action_ids(summary) == {"incident_review", "incident_reopen"}
        assert not action_ids(announcement)
        assert "CloudWatch alarm" in shown(summary) and "console.aws.amazon.com" in shown(summary)

        clock.advance(timedelta(minutes=31))  # past the reopen window: Reopen goes
        await bot.settle(horizon=1)
        assert action_ids(channel.messages[0]) == {"incident_review"}


async def _status_is(bot: Bot, incident_id: int, status: str) -> bool:
    return bool((await bot.incident(incident_id))["status"] == status)


async def test_reopen_button_reopens_within_the_window(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """Reopen on a resolved incident opens it again, pages again and puts Acknowledge back on its summary."""
    clock = FakeClock(T0 + timedelta(minutes=1))
    async with make_bot(clock=clock, **wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        channel = fake_slack.channel(CHANNEL)
        assert channel is not None
        alice = SlackUser(bot=bot, fake=fake_slack, user_id="U00ALICE01", channel_id=channel.id)
        await alice.command("/incident", "resolve", channel_id=channel.id)
        await until(lambda: _status_is(bot, incident["id"], "resolved"))
        await bot.settle(horizon=1)
        _, response_url = await alice.click("incident_reopen", str(incident["id"]),
                                            message_ts=channel.messages[0]["ts"])
        await wait_responses(fake_slack, response_url)
        await until(lambda: _status_is(bot, incident["id"], "open"))
        await bot.settle(horizon=1)
        assert "incident_acknowledge" in action_ids(channel.messages[0])
        assert fake_pagerduty.incident(f"incident-bot/{incident['id']}").status == "triggered"


async def test_high_alert_carries_first_steps_and_follows_the_incident(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A HIGH alert shows its runbook's first steps and a link to the whole runbook, and is updated on resolve."""
    from tests.support.alarms import HIGH_TOPIC

    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        await bot.deliver(metric_alarm("orders-pipeline-ConsumerLagHigh", metric="ConsumerLag", at=T0),
                          topic=HIGH_TOPIC)
        await bot.settle(horizon=1)
        alerts = fake_slack.channel("alerts")
        assert alerts is not None
        [alert] = alerts.messages
        assert "Full runbook" in shown(alert)
        assert action_ids(alert) >= {"incident_acknowledge", "incident_resolve"}
        await bot.deliver(metric_alarm("orders-pipeline-ConsumerLagHigh", metric="ConsumerLag", state="OK",
                                       old="ALARM", at=T0 + timedelta(minutes=5)), topic=HIGH_TOPIC)
        await bot.settle(horizon=1)
        alert = alerts.messages[0]
        assert "RESOLVED" in shown(alert) and "edited" in alert
        assert "incident_resolve" not in action_ids(alert)


def write_metrics(directory: Path, *, around: datetime) -> None:
    """DLQRecordCount per minute over the hour before `around`: quiet, then a spike over the threshold."""
    docs = []
    for minute in range(-70, 2):
        at = around + timedelta(minutes=minute)
        value = 300.0 if minute >= -2 else 5.0
        docs.append(document("DLQRecordCount", value, timestamp_ms=int(at.timestamp() * 1000), unit="Count"))
    write(docs, directory / "job.jsonl")


async def test_critical_channel_receives_a_png_graph_through_the_two_step_upload(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty, tmp_path: Path
) -> None:
    """The graph is drawn from the local metrics stream, uploaded with files.getUploadURLExternal → upload →
    files.completeUploadExternal into the incident channel, kept at /api/incidents/{id}/graph.png, and the page
    carries it as an image with the alarm's StateChangeTime as its timestamp."""
    metrics = tmp_path / "metrics"
    write_metrics(metrics, around=T0)
    settings = wired(fake_slack, fake_pagerduty, metrics_backend="local", local_metrics=metrics,
                     public_url="https://bot.example.com")
    async with make_bot(**settings) as bot:
        incident = await open_critical(bot)
        channel = fake_slack.channel(CHANNEL)
        assert channel is not None
        [shared] = fake_slack.shared_files(CHANNEL)
        assert shared.content is not None and shared.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert [c["length"] for c in fake_slack.calls_to("files.getUploadURLExternal")] == [str(len(shared.content))]
        [complete] = fake_slack.calls_to("files.completeUploadExternal")
        assert complete["channel_id"] == channel.id
        assert any(m.get("files") for m in channel.messages)
        # The summary at the top shows the shared graph as an image block.
        [image] = [b for b in channel.messages[0]["blocks"] if b["type"] == "image"]
        assert image["slack_file"] == {"id": shared.id}
        # The pipeline's health verdict comes with the summary (read from the same metrics).
        assert any("Pipeline health:" in m.get("text", "") for m in channel.messages)
        answer = await bot.client.get(f"/api/incidents/{incident['id']}/graph.png")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        assert answer.content == shared.content
        [trigger] = fake_pagerduty.events
        assert trigger["payload"]["timestamp"].startswith(T0.strftime("%Y-%m-%dT%H:%M:%S"))
        assert trigger["images"][0]["src"] == f"https://bot.example.com/api/incidents/{incident['id']}/graph.png"


async def test_graph_route_answers_404_without_a_graph(make_bot: BotFactory) -> None:
    """No graph drawn (no metrics): a one-line 404, not an empty image."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm(at=T0))
        await bot.settle(horizon=1)
        [incident] = await bot.incidents()
        answer = await bot.client.get(f"/api/incidents/{incident['id']}/graph.png")
        assert answer.status_code == 404 and "no graph" in answer.json()["error"]
        assert (await bot.client.get("/api/incidents/999/graph.png")).status_code == 404


async def test_review_modal_submission_shows_in_the_report_and_in_incidents(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """Write post-incident review opens a modal; its submission is stored like the web review, shows in
    /api/incidents/{id}/postmortem, and a one-paragraph summary (outside text inert) goes to #incidents."""
    incidents_channel = fake_slack.add_channel("incidents")
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        channel = fake_slack.channel(CHANNEL)
        assert channel is not None
        alice = SlackUser(bot=bot, fake=fake_slack, user_id="U00ALICE01", channel_id=channel.id)
        await alice.command("/incident", "resolve", channel_id=channel.id)
        await until(lambda: _status_is(bot, incident["id"], "resolved"))
        await bot.settle(horizon=1)
        assert "incident_review" in action_ids(channel.messages[0])
        await alice.click("incident_review", str(incident["id"]), message_ts=channel.messages[0]["ts"])
        for _ in range(250):
            if fake_slack.views:
                break
            await asyncio.sleep(0.02)
        [view] = fake_slack.views
        assert view["callback_id"] == "incident_review" and view["private_metadata"] == str(incident["id"])
        answer = await alice.submit_view(view, {
            "summary": f"Poison batch {HOSTILE}", "root_cause": "A schema change upstream",
            "impact": "12 minutes of orders in the DLQ", "prevention": "Contract test on the schema",
            "owner": "U00BOB0001"})
        assert answer.status_code == 200 and not answer.content.strip(b"{}")
        await bot.settle(horizon=1)
        report = (await bot.client.get(f"/api/incidents/{incident['id']}/postmortem")).text
        assert "A schema change upstream" in report and "Contract test on the schema" in report
        [summary] = incidents_channel.messages
        text = shown(summary)
        assert "Contract test on the schema" in text and "<@U00BOB0001>" in text and f"<#{channel.id}>" in text
        for live in ("<!channel>", "<@U123>", "<https://evil"):
            assert live not in text


async def test_review_modal_refuses_an_expired_trigger(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """views.open with a trigger_id older than 3 s is refused by Slack; the presser hears it, nothing breaks."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        fake_slack.fail_next("views.open", status=200, error="expired_trigger_id")
        alice = SlackUser(bot=bot, fake=fake_slack, user_id="U00ALICE01", channel_id="C1")
        _, response_url = await alice.click("incident_review", str(incident["id"]))
        [reply] = await wait_responses(fake_slack, response_url)
        assert reply["response_type"] == "ephemeral" and not fake_slack.views


async def test_incident_note_goes_on_the_timeline(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """`/incident note <text>` in the incident channel adds a line to its timeline; the reply shows it inert."""
    async with make_bot(**wired(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        channel = fake_slack.channel(CHANNEL)
        assert channel is not None
        alice = SlackUser(bot=bot, fake=fake_slack, user_id="U00ALICE01", channel_id=channel.id)
        _, response_url = await alice.command("/incident", f"note restarted {HOSTILE}", channel_id=channel.id)
        [reply] = await wait_responses(fake_slack, response_url)
        assert "&lt;!channel&gt;" in reply["text"] and "<!channel>" not in reply["text"]
        timeline = (await bot.incident(incident["id"]))["timeline"]
        [note] = [e for e in timeline if e["kind"] == "note"]
        assert note["summary"] == f"Note by U00ALICE01: restarted {HOSTILE}"


async def test_invites_degrade_instead_of_failing(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """Ids, emails and group handles mixed: everyone resolvable is invited; an unknown email, a group lookup
    refused for a missing scope are recorded on the timeline and block nobody."""
    fake_slack.add_usergroup("flink-oncall", ["W00CAROL01"])
    fake_slack.missing_scopes.add("usergroups:read")
    responders = ["U00ALICE01", "bob@example.com", "ghost@example.com", "@flink-oncall"]
    async with make_bot(**wired(fake_slack, fake_pagerduty, slack_responders_critical=responders)) as bot:
        incident = await open_critical(bot)
        assert {"U00ALICE01", "U00BOB0001"} <= fake_slack.members(CHANNEL)
        timeline = (await bot.incident(incident["id"]))["timeline"]
        [invite] = [e for e in timeline if e["summary"].startswith("Invited")]
        assert invite["data"]["invited"] == ["U00ALICE01", "U00BOB0001"]
        assert "ghost@example.com" in invite["data"]["unknown"]
        assert "missing_scope" in invite["data"]["lookup_failed"]["@flink-oncall"]
        assert "missing_scope" in invite["summary"]


async def test_record_only_keeps_the_graph_on_the_incident(make_bot: BotFactory, tmp_path: Path) -> None:
    """Without Slack the graph is still drawn and served at /api/incidents/{id}/graph.png."""
    metrics = tmp_path / "metrics"
    write_metrics(metrics, around=T0)
    async with make_bot(metrics_backend="local", local_metrics=metrics) as bot:
        await bot.deliver(metric_alarm(at=T0))
        await bot.settle(horizon=1)
        [incident] = await bot.incidents()
        answer = await bot.client.get(f"/api/incidents/{incident['id']}/graph.png")
        assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")
        timeline = (await bot.incident(incident["id"]))["timeline"]
        assert any(e["summary"].startswith("Would share the graph of DLQRecordCount") for e in timeline)


async def test_a_high_alert_is_posted_when_its_mentions_cannot_be_resolved(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """Without usergroups:read the group to mention cannot be expanded: the alert still goes out, mentioning
    whoever could be resolved."""
    from tests.support.alarms import HIGH_TOPIC

    fake_slack.missing_scopes.add("usergroups:read")
    extra = {"slack_responders_high": ["@flink-oncall", "U00BOB0001"]}
    async with make_bot(**wired(fake_slack, fake_pagerduty, **extra)) as bot:
        await bot.deliver(metric_alarm("orders-pipeline-ConsumerLagHigh", metric="ConsumerLag", at=T0),
                          topic=HIGH_TOPIC)
        await bot.settle(horizon=1)
        alerts = fake_slack.channel("alerts")
        assert alerts is not None
        [alert] = alerts.messages
        assert alert["text"].startswith("<@U00BOB0001>")
