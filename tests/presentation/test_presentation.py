"""The Slack presentation: outside text stays text, and cutting never breaks markup."""

from __future__ import annotations

from bot.incidents.ports import Message
from bot.presentation import mrkdwn as md
from bot.presentation.blocks import SECTION_TEXT_MAX, cut_mrkdwn, fit_message, section


def test_escape_makes_mentions_and_links_text() -> None:
    """`<!channel>`, user mentions and links come out as entities; backticks and asterisks as look-alikes."""
    shown = md.escape("<!channel> <@U123> <https://evil|x> & `code` *bold*")
    assert "<" not in shown and ">" not in shown
    assert "&amp;" in shown and "`" not in shown and "*" not in shown


def test_code_and_bold_cannot_be_closed_early() -> None:
    """A backtick in code or an asterisk in bold cannot end the span."""
    assert md.code("a`b").count("`") == 2
    assert md.bold("a*b").count("*") == 2
    assert md.code_block(["```", "x"]).count("```") == 2


def test_only_the_bots_own_markup_is_live() -> None:
    """User ids become mentions, anything else stays text; links escape what could end them."""
    assert md.mention_user("U00ALICE01") == "<@U00ALICE01>"
    assert md.mention_user("<!channel>") == "&lt;!channel&gt;"
    assert md.link("https://x.test/a|b>c d", "A|B") == "<https://x.test/a%7Cb%3Ec%20d|A¦B>"
    assert md.plain("a\x00b\nc") == "a b c"


def test_cut_keeps_entities_links_and_code_blocks_whole() -> None:
    """Cutting mrkdwn never leaves half an entity or link, and closes an open code block."""
    text = "a" * 2990 + "&amp;&amp;&amp;"
    assert cut_mrkdwn(text, 2995).endswith("a…")
    linked = "b" * 2980 + "<https://example.com/long|link>"
    assert cut_mrkdwn(linked, 3000).endswith("b…")
    fenced = "```\n" + "c" * 5000
    cut = section(fenced)["text"]["text"]
    assert len(cut) <= SECTION_TEXT_MAX and cut.endswith("```") and cut.count("```") == 2


def test_fit_message_caps_blocks_and_text() -> None:
    """A message with too many blocks keeps 49 and says how many were left out."""
    fitted = fit_message(Message(text="x" * 50000, blocks=[section("s")] * 60))
    assert len(fitted.text) <= 40000 and len(fitted.blocks) == 50
    assert "11 more blocks not shown" in str(fitted.blocks[-1])


def test_incident_messages_are_valid_block_kit() -> None:
    """Every block of the incident messages parses and validates as slack_sdk's Block Kit models."""
    from datetime import UTC, datetime, timedelta

    from slack_sdk.models.blocks import Block

    from bot.alarms.models import alarm_from_body
    from bot.incidents import messages
    from bot.incidents.models import Incident
    from tests.support.alarms import metric_alarm

    event = alarm_from_body(metric_alarm())
    now = datetime.now(UTC)
    incident = Incident(id=7, title="DLQ spike <!channel>", alarm_name=event.alarm_name, severity="HIGH",
                        status="open", opened_at=now, reopen_count=0, channel_id="C0123", channel_name="inc-x")
    links = {"CloudWatch alarm": "https://x.test/a", "Runbook": "https://x.test/r"}
    alarms = [(event.alarm_name, "ALARM")]
    window = timedelta(minutes=30)
    resolved = Incident(id=8, title="DLQ spike", alarm_name=event.alarm_name, severity="CRITICAL",
                        status="resolved", opened_at=now, resolved_at=now, acknowledged_at=now,
                        acknowledged_by="U00ALICE01", reopen_count=1, channel_id="C0123", channel_name="inc-x",
                        pagerduty_url="https://acme.pagerduty.com/incidents/P1")
    built = [
        messages.living_summary(incident, event, links=links, alarms=alarms, now=now, reopen_window=window),
        messages.living_summary(resolved, event, links=links, alarms=alarms, now=now, reopen_window=window),
        messages.living_announcement(resolved, event, links=links, alarms=alarms, now=now),
        messages.living_alert(incident, event, first_steps="*Runbook*\n\n" + "step\n\n" * 400, links=links,
                              alarms=alarms, now=now, reopen_window=window),
        messages.review_summary(resolved, summary="s <!channel>", root_cause="r", impact="i", prevention="p",
                                owner="U00BOB0001", by="U00ALICE01"),
        messages.alert(incident, event, runbook="*Runbook*\n\n" + "step\n\n" * 400),
        messages.ack_reminder(incident, responders=[], minutes=6, target="5 min"),
        messages.declared(incident, by="U00ALICE01"),
    ]
    for message in built:
        for block in fit_message(message).blocks:
            parsed = Block.parse(dict(block))
            assert parsed is not None
            parsed.validate_json()
    modal = messages.review_modal(incident, summary="x" * 5000, owner="U00BOB0001")
    from slack_sdk.models.views import View

    View(**modal).validate_json()
