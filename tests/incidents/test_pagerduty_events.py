"""PagerDuty both ways: what on-call does in PagerDuty reaches the incident, its channel and its report.

Signed V3 webhooks go through `POST /pagerduty/webhook` of a real bot wired to the fake Slack and the fake
PagerDuty (Events API and REST API over TLS).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.incidents.models import OutboxMessage
from tests.fakes.pagerduty_api import API_TOKEN, FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.incidents.test_response import CHANNEL, T0, open_critical, texts, wired
from tests.support.alarms import metric_alarm
from tests.support.app import Bot, BotFactory
from tests.support.pagerduty import ALICE, BOB, PD_URL, SECRET, deliver, incident_data, webhook


def settings(slack: FakeSlack, pagerduty: FakePagerDuty, **extra: Any) -> dict[str, Any]:
    """The bot wired to the fakes, with webhooks and the REST API configured."""
    return wired(slack, pagerduty, pagerduty_webhook_secrets=[SECRET], pagerduty_api_token=API_TOKEN,
                 pagerduty_api_url=pagerduty.api_url, **extra)


async def run_due_reminders(bot: Bot) -> None:
    """Make the next pending reminder round due now (as if ACK_TIMEOUT had passed) and run what is due."""
    def next_round_due(session: Session) -> None:
        first = session.scalars(select(OutboxMessage).where(
            OutboxMessage.lane == "reminder", OutboxMessage.status == "pending").order_by(OutboxMessage.run_after)
        ).first()
        if first is not None:
            first.run_after = bot.app.state.clock()

    await bot.app.state.db.run(next_round_due)
    await bot.drain()


def pagerduty_entries(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Timeline entries that PagerDuty caused."""
    return [e for e in detail["timeline"] if e["source"] == "pagerduty"]


async def test_acknowledged_in_pagerduty_acknowledges_the_incident_once(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A signed incident.acknowledged acknowledges the incident by that person, says so in the channel with a
    Slack mention found by email, stops the reminders, and the same event again changes nothing."""
    fake_pagerduty.add_user("PALICE1", "Alice Oncall", "alice@example.com")
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        body = webhook("incident.acknowledged", incident_data(incident["id"], status="acknowledged"),
                       at=T0 + timedelta(minutes=3))
        answer = await deliver(bot, body)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"outcome": "acknowledged", "incident_id": incident["id"]}
        await bot.settle(horizon=1)

        detail = await bot.incident(incident["id"])
        assert detail["status"] == "acknowledged" and detail["acknowledged_by"] == "Alice Oncall"
        assert detail["acknowledged_at"].startswith((T0 + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S"))
        [ack] = [e for e in pagerduty_entries(detail) if e["kind"] == "acknowledged"]
        assert ack["summary"] == "Acknowledged in PagerDuty by Alice Oncall"
        posted = texts(fake_slack, CHANNEL)
        [said] = [t for t in posted if "acknowledged in PagerDuty by Alice Oncall" in t]
        assert "<@U00ALICE01>" in said
        assert "ACKNOWLEDGED" in fake_slack.topic(CHANNEL)
        assert [e["event_action"] for e in fake_pagerduty.events] == ["trigger"]  # nothing echoed back

        await run_due_reminders(bot)
        assert not any("not acknowledged" in t for t in texts(fake_slack, CHANNEL))
        assert not any("not acknowledged" in t for t in texts(fake_slack, "alerts"))

        before = (len(texts(fake_slack, CHANNEL)), len((await bot.incident(incident["id"]))["timeline"]))
        again = await deliver(bot, body)
        assert again.status_code == 202 and again.json()["outcome"] == "duplicate"
        await bot.settle(horizon=1)
        assert (len(texts(fake_slack, CHANNEL)), len((await bot.incident(incident["id"]))["timeline"])) == before


async def test_wrong_signature_is_refused_and_changes_nothing(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A webhook signed with another secret, or not signed, gets 401 and the incident stays as it was."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        body = webhook("incident.acknowledged", incident_data(incident["id"]))
        forged = await deliver(bot, body, secrets=("not-the-secret",))
        assert forged.status_code == 401 and "does not match" in forged.json()["error"]
        unsigned = await deliver(bot, body, signature="")
        assert unsigned.status_code == 401 and unsigned.json() == {"error": "missing X-PagerDuty-Signature"}
        await bot.settle(horizon=1)
        detail = await bot.incident(incident["id"])
        assert detail["status"] == "open" and pagerduty_entries(detail) == []
        # The same event id, once properly signed, is not mistaken for a redelivery: nothing was stored.
        assert (await deliver(bot, body)).json()["outcome"] == "acknowledged"


async def test_second_of_two_signatures_matching_is_accepted(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """During a secret rotation PagerDuty signs with both secrets; one match is enough."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        answer = await deliver(bot, webhook("incident.acknowledged", incident_data(incident["id"])),
                               secrets=("old-secret-we-no-longer-have", SECRET))
        assert answer.status_code == 202 and answer.json()["outcome"] == "acknowledged"


async def test_resolved_in_pagerduty_resolves_and_the_report_says_who_and_where(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """incident.resolved resolves the incident without resolving the page again, warns that the alarm is still
    in ALARM, and the post-incident report says it was resolved in PagerDuty by whom; the alarm's later OK is
    only noted."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        answer = await deliver(bot, webhook("incident.resolved", incident_data(incident["id"], status="resolved"),
                                            at=T0 + timedelta(minutes=20), agent=BOB))
        assert answer.json()["outcome"] == "resolved"
        await bot.settle(horizon=1)
        detail = await bot.incident(incident["id"])
        assert detail["status"] == "resolved"
        [resolved] = [e for e in pagerduty_entries(detail) if e["kind"] == "resolved"]
        assert resolved["summary"] == "Resolved in PagerDuty by Bob Builder after 20 min"
        assert [e["event_action"] for e in fake_pagerduty.events] == ["trigger"]
        posted = texts(fake_slack, CHANNEL)
        [said] = [t for t in posted if "resolved in PagerDuty by Bob Builder" in t]
        assert "still in ALARM" in said
        assert any("Post-incident" in t and "in PagerDuty by Bob Builder" in t for t in posted)
        report = (await bot.client.get(f"/api/incidents/{incident['id']}/postmortem")).text
        assert "(in PagerDuty by Bob Builder)" in report and PD_URL in report

        ok = await bot.deliver(metric_alarm(state="OK", old="ALARM", at=T0 + timedelta(minutes=25)))
        assert ok.json()["outcome"] == "noted"
        await bot.settle(horizon=1)
        assert len(texts(fake_slack, CHANNEL)) == len(posted)
        assert (await bot.incident(incident["id"]))["timeline"][-1]["summary"].endswith(
            "(the incident was already resolved)")


async def test_pagerduty_link_reaches_the_channel_and_the_api(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """The PagerDuty incident's html_url is bookmarked and posted in the channel and shown by the API."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        answer = await deliver(bot, webhook("incident.triggered", incident_data(incident["id"]), agent=None))
        assert answer.json()["outcome"] == "linked"
        await bot.settle(horizon=1)
        assert {"title": "PagerDuty", "link": PD_URL}.items() <= next(
            b for b in fake_slack.bookmarks(CHANNEL) if b["title"] == "PagerDuty").items()
        assert any(PD_URL in t for t in texts(fake_slack, CHANNEL))
        # The summary at the top of the channel and the announcement in #alerts, updated in place, link it too.
        summary, announcement = fake_slack.messages(CHANNEL)[0], fake_slack.messages("alerts")[0]
        for message in (summary, announcement):
            assert f"<{PD_URL}|PagerDuty incident>" in json.dumps(message["blocks"]) and "edited" in message
        detail = await bot.incident(incident["id"])
        assert detail["pagerduty_url"] == PD_URL
        assert (await bot.incidents())[0]["pagerduty_url"] == PD_URL
        assert [e["kind"] for e in pagerduty_entries(detail)] == ["pagerduty"]


async def test_own_acknowledgement_echoed_back_is_a_no_op(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """The Slack Acknowledge the bot forwarded to PagerDuty comes back as a webhook and changes nothing."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        await bot.app.state.commands.acknowledge(incident_id=incident["id"], channel_id=None, by="U00ALICE01")
        await bot.settle(horizon=1)
        before = len(texts(fake_slack, CHANNEL))
        echo = webhook("incident.acknowledged", incident_data(incident["id"], status="acknowledged"),
                       agent={"id": "PF9KMXH", "type": "service_reference", "summary": "orders-pipeline"})
        answer = await deliver(bot, echo)
        assert answer.json()["outcome"] in {"unchanged", "linked"}
        await bot.settle(horizon=1)
        detail = await bot.incident(incident["id"])
        assert detail["acknowledged_by"] == "U00ALICE01"
        assert [e["kind"] for e in pagerduty_entries(detail)] == ["pagerduty"]  # only the link was learnt
        assert not any("acknowledged in PagerDuty" in t for t in texts(fake_slack, CHANNEL)[before:])


async def test_late_events_never_move_the_incident_backwards(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """An unacknowledge that happened before the acknowledgement but arrives after it is recorded as stale."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        data = incident_data(incident["id"])
        await deliver(bot, webhook("incident.acknowledged", data, at=T0 + timedelta(minutes=4)))
        late = await deliver(bot, webhook("incident.unacknowledged", data, at=T0 + timedelta(minutes=2)))
        assert late.json()["outcome"] == "stale"
        assert (await bot.incident(incident["id"]))["status"] == "acknowledged"


async def test_unacknowledged_in_pagerduty_reopens_and_reminders_resume(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """After an acknowledgement times out in PagerDuty the incident is open again and the reminders come back;
    the report keeps the first acknowledgement for its time to acknowledge."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        data = incident_data(incident["id"])
        await deliver(bot, webhook("incident.acknowledged", data, at=T0 + timedelta(minutes=2)))
        await bot.settle(horizon=1)
        await run_due_reminders(bot)  # skipped: acknowledged
        answer = await deliver(bot, webhook("incident.unacknowledged", data, at=T0 + timedelta(minutes=40),
                                            agent=None))
        assert answer.json()["outcome"] == "unacknowledged"
        await bot.settle(horizon=1)
        detail = await bot.incident(incident["id"])
        assert detail["status"] == "open" and detail["acknowledged_by"] is None
        assert any("unacknowledged in PagerDuty" in t for t in texts(fake_slack, CHANNEL))
        report = (await bot.client.get(f"/api/incidents/{incident['id']}/postmortem")).text
        assert "time to acknowledge **2 min**" in report  # the first acknowledgement still counts for MTTA
        await run_due_reminders(bot)
        assert any("not acknowledged" in t for t in texts(fake_slack, CHANNEL))


async def test_escalation_invites_the_new_assignee_and_notes_reach_the_channel(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """incident.escalated puts a line in the channel and invites the new assignee, found in Slack through the
    email PagerDuty's REST API gives for them; a note added in PagerDuty shows up escaped."""
    fake_pagerduty.add_user("PBOB001", "Bob Builder", "bob@example.com")
    async with make_bot(**settings(fake_slack, fake_pagerduty, slack_responders_critical=[])) as bot:
        incident = await open_critical(bot)
        assert "U00BOB0001" not in fake_slack.members(CHANNEL)
        data = incident_data(incident["id"], assignees=[BOB])
        answer = await deliver(bot, webhook("incident.escalated", data, agent=None))
        assert answer.json()["outcome"] == "noted"
        note = {"incident": {"id": "PGR0VU2", "type": "incident_reference", "html_url": PD_URL,
                             "summary": "DLQ spike"},
                "id": "PNOTE01", "content": "Rolled back <!channel> the deploy & waiting", "trimmed": False,
                "type": "incident_note"}
        noted = await deliver(bot, webhook("incident.annotated", note, agent=ALICE))
        assert noted.json()["outcome"] == "noted"
        await bot.settle(horizon=1)
        assert "U00BOB0001" in fake_slack.members(CHANNEL)
        posted = texts(fake_slack, CHANNEL)
        assert any("Escalated in PagerDuty to *Bob Builder*" in t for t in posted)
        [said] = [t for t in posted if "Note in PagerDuty by Alice Oncall" in t]
        assert "&lt;!channel&gt;" in said and "<!channel>" not in said
        assert ("GET", "/users/PBOB001") in fake_pagerduty.rest_requests
        kinds = [e["data"].get("event_type") for e in pagerduty_entries(await bot.incident(incident["id"]))]
        assert "incident.escalated" in kinds and "incident.annotated" in kinds


async def test_events_for_incidents_the_bot_did_not_page_are_ignored(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """A webhook about someone else's PagerDuty incident is accepted (2xx) and changes nothing."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        data = {**incident_data(1), "incident_key": "d3640fbd41094207a1c11e58e46b1662", "id": "POTHER1"}
        answer = await deliver(bot, webhook("incident.acknowledged", data))
        assert answer.status_code == 202 and answer.json() == {"outcome": "ignored", "incident_id": None}
        assert await bot.incidents() == []
        assert json.loads(answer.text)["outcome"] == "ignored"


async def test_quick_unacknowledge_keeps_one_reminder_chain(
    make_bot: BotFactory, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    """Acknowledged and unacknowledged before the first reminder was due: that reminder still comes, once."""
    async with make_bot(**settings(fake_slack, fake_pagerduty)) as bot:
        incident = await open_critical(bot)
        data = incident_data(incident["id"])
        await deliver(bot, webhook("incident.acknowledged", data, at=T0 + timedelta(minutes=1)))
        await deliver(bot, webhook("incident.unacknowledged", data, at=T0 + timedelta(minutes=2), agent=None))
        await bot.settle(horizon=1)
        await run_due_reminders(bot)
        assert sum("not acknowledged" in t for t in texts(fake_slack, CHANNEL)) == 1
