"""Slash-command text parsing: windows, order ids, incident subcommands."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import BadInput
from bot.transports.slack_commands import (
    IncidentCommand,
    parse_incident,
    parse_log_patterns,
    parse_trace,
    parse_window,
    parse_window_only,
    window_text,
)


@pytest.mark.parametrize(("text", "window"), [
    ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)),
    ("90s", timedelta(seconds=90)), (" 2H ", timedelta(hours=2)), ("30d", timedelta(days=30)),
])
def test_windows_parse(text: str, window: timedelta) -> None:
    """A number and a unit (s, m, h, d) make a window."""
    assert parse_window(text) == window


@pytest.mark.parametrize(("text", "reason"), [
    ("5x", "unknown window '5x'"), ("2", "unknown window '2'"), ("-1h", "unknown window"),
    ("0m", "out of range"), ("31d", "out of range"), ("1h30m", "unknown window"),
])
def test_bad_windows_are_refused(text: str, reason: str) -> None:
    """Unknown units, bare numbers, zero and more than 30 days are refused with the accepted forms."""
    with pytest.raises(BadInput, match=reason) as caught:
        parse_window(text)
    assert "30m, 2h, 1d" in caught.value.reason


def test_trace_takes_an_order_and_an_optional_window() -> None:
    """`/trace ORD-1 2h` keeps the order id for the query to validate and parses the window."""
    parsed = parse_trace("ORD-1 2h")
    assert parsed.params == {"order_id": "ORD-1"} and parsed.window == timedelta(hours=2)
    assert parse_trace("ORD-1").window is None


@pytest.mark.parametrize(("text", "reason"), [
    ("", "give the order id"), ('ORD-1" | stats count(*)', "too many arguments"), ("ORD-1 2h extra", "too many"),
])
def test_trace_refuses_missing_or_extra_words(text: str, reason: str) -> None:
    """No order id, or more words than an id and a window, is refused."""
    with pytest.raises(BadInput, match=reason):
        parse_trace(text)


def test_window_only_commands_refuse_extra_words() -> None:
    """`/dlq-breakdown 1h now` is refused; no argument means the query's default window."""
    assert parse_window_only("").window is None
    with pytest.raises(BadInput, match="at most a window"):
        parse_window_only("1h now")


@pytest.mark.parametrize(("text", "command"), [
    ("status", IncidentCommand("status")), ("ack 12", IncidentCommand("ack", incident_id=12)),
    ("ACK #7", IncidentCommand("ack", incident_id=7)), ("resolve", IncidentCommand("resolve")),
    ("declare  Checkout is   slow", IncidentCommand("declare", title="Checkout is slow")),
])
def test_incident_subcommands(text: str, command: IncidentCommand) -> None:
    """Subcommands take an optional id (`12` or `#12`); declare takes the rest as the title."""
    assert parse_incident(text) == command


@pytest.mark.parametrize(("text", "reason"), [
    ("", "say what to do"), ("close 3", "unknown subcommand 'close'"), ("ack twelve", "not an incident id"),
    ("ack 1 2", "at most an incident id"), ("declare", "needs a title"),
])
def test_incident_refusals(text: str, reason: str) -> None:
    """Unknown subcommands, non-numeric ids and a declare without title are refused."""
    with pytest.raises(BadInput, match=reason):
        parse_incident(text)


def test_window_text_is_shortest_exact_form() -> None:
    """Windows print as 1d, 2h, 30m or 90s."""
    assert [window_text(timedelta(seconds=s)) for s in (86400, 7200, 1800, 90)] == ["1d", "2h", "30m", "90s"]


def test_status_links_the_pagerduty_incident() -> None:
    """`/incident status` links the PagerDuty incident and shows a PagerDuty acknowledger's name escaped."""
    from datetime import UTC, datetime, timedelta

    from bot.incidents.models import Incident
    from bot.transports.slack_commands import status_text

    opened = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    incident = Incident(id=3, title="DLQ spike", severity="CRITICAL", status="acknowledged", opened_at=opened,
                        acknowledged_at=opened + timedelta(minutes=2), acknowledged_by="Eve <!channel>",
                        pagerduty_url="https://acme.pagerduty.com/incidents/P1?a=1&b=2")
    text = status_text(incident, now=opened + timedelta(minutes=5))
    assert "<https://acme.pagerduty.com/incidents/P1?a=1&amp;b=2|PagerDuty>" in text
    assert "acknowledged by Eve &lt;!channel&gt; after 2 min" in text


@pytest.mark.parametrize(("text", "window", "condition"), [
    ("", None, None), ("2h", timedelta(hours=2), None),
    ('30m operator = "parse"', timedelta(minutes=30), 'operator = "parse"'),
    ('operator = "parse"', None, 'operator = "parse"'),
])
def test_log_patterns_takes_a_window_then_a_condition(text: str, window: timedelta | None,
                                                      condition: str | None) -> None:
    """`/log-patterns [window] [filter]`: a leading window is the window; the rest is the filter condition."""
    parsed = parse_log_patterns(text)
    assert (parsed.params, parsed.window, parsed.condition) == ({}, window, condition)
