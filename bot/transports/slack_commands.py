"""Slash-command text → typed commands, and the short replies the Slack app writes itself.

Pure functions with no Slack SDK: `bot/transports/slack.py` calls them before acknowledging, so a bad
argument is refused in the acknowledgement with the command's usage line. Every refusal is a `BadInput` whose
`reason` is one line. To add a command: add its usage to `USAGE`, a parser here returning a small dataclass,
and a listener in `slack.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.errors import BadInput
from bot.incidents.messages import channel_link, mention
from bot.incidents.models import Incident
from bot.incidents.outcomes import KINDS, parse_kind
from bot.presentation import mrkdwn as md
from bot.presentation.mrkdwn import link

USAGE = {
    "/trace": "/trace ORD-12345 [window]",
    "/dlq-breakdown": "/dlq-breakdown [window]",
    "/slow-operators": "/slow-operators [window]",
    "/log-patterns": '/log-patterns [window] [filter, e.g. operator = "parse"]',
    "/incident": ("/incident status|ack|resolve [id] · /incident declare <title> · /incident note <text> · "
                  "/incident outcome actionable|false-positive|duplicate|missed [id] · /incident report [window]"),
    "/pipeline-health": "/pipeline-health",
}
WINDOW_HELP = "a window is a number and a unit: 30m, 2h, 1d (at most 30d)"
MAX_WINDOW = timedelta(days=30)
_WINDOW = re.compile(r"(\d{1,5})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"[0-9]{1,200}")  # ASCII digits only: `²` is a digit to str.isdigit() but no number
MAX_INCIDENT_ID = 2**31 - 1  # incident ids are 32-bit integers in PostgreSQL
SUBCOMMANDS = ("status", "ack", "resolve", "declare", "note", "outcome", "report")
REPORT_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class QueryCommand:
    """Run a catalog query: its parameters and the window to look back over (None: the query's default)."""

    params: dict[str, str]
    window: timedelta | None
    condition: str | None = None  # an extra Logs Insights filter condition (checked by the query layer)


@dataclass(frozen=True, slots=True)
class IncidentCommand:
    """`/incident <action>`: `incident_id` None means the incident of the channel it was typed in."""

    action: str  # status | ack | resolve | declare | note | outcome | report
    incident_id: int | None = None
    title: str = ""  # the title to declare, or the note's text
    outcome: str = ""  # outcome: one of bot.incidents.outcomes.KINDS
    window: timedelta | None = None  # report: how far back


def usage(command: str) -> str:
    """The one-line usage of a slash command, in Slack code style."""
    return f"Usage: {md.code(USAGE.get(command, command))}"


def parse_window(text: str) -> timedelta:
    """`30m`, `2h`, `1d` → timedelta; raises BadInput for anything else (e.g. `5x`, `0m`, `90d`)."""
    match = _WINDOW.fullmatch(text.strip().lower())
    if not match:
        raise BadInput(f"unknown window {_shown(text)}: {WINDOW_HELP}")
    window = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if not timedelta(0) < window <= MAX_WINDOW:
        raise BadInput(f"window {_shown(text)} is out of range: {WINDOW_HELP}")
    return window


def parse_trace(text: str) -> QueryCommand:
    """`ORD-12345 [window]`; the order id itself is checked by the query's parameter pattern."""
    words = text.split()
    if not words:
        raise BadInput("give the order id to trace")
    if len(words) > 2:
        raise BadInput(f"too many arguments ({len(words)}); an order id has no spaces")
    window = parse_window(words[1]) if len(words) == 2 else None
    return QueryCommand(params={"order_id": words[0]}, window=window)


def parse_window_only(text: str) -> QueryCommand:
    """`[window]` for the queries that take no parameter."""
    words = text.split()
    if len(words) > 1:
        raise BadInput(f"expected at most a window; got {len(words)} arguments")
    return QueryCommand(params={}, window=parse_window(words[0]) if words else None)


def parse_no_arguments(command: str, text: str) -> None:
    """Commands that take nothing (`/pipeline-health`): refuse any argument rather than ignore it."""
    if text.strip():
        raise BadInput(f"{command} takes no arguments; got {_shown(text)}")


def parse_log_patterns(text: str) -> QueryCommand:
    """`[window] [filter]`: a window first if the first word is one, the rest a filter condition."""
    words = text.split(maxsplit=1)
    if words and _WINDOW.fullmatch(words[0].lower()):
        return QueryCommand(params={}, window=parse_window(words[0]), condition=words[1] if len(words) > 1 else None)
    return QueryCommand(params={}, window=None, condition=text.strip() or None)


def parse_incident(text: str) -> IncidentCommand:
    """`status|ack|resolve [id]` or `declare <title>`."""
    words = text.split()
    if not words:
        raise BadInput("say what to do with the incident")
    action, rest = words[0].lower(), words[1:]
    if action not in SUBCOMMANDS:
        raise BadInput(f"unknown subcommand {_shown(words[0])}; use one of {', '.join(SUBCOMMANDS)}")
    if action == "declare":
        if not rest:
            raise BadInput("an incident needs a title: /incident declare <title>")
        return IncidentCommand(action, title=" ".join(rest))
    if action == "note":
        if not rest:
            raise BadInput("a note needs text: /incident note <text>")
        return IncidentCommand(action, title=" ".join(rest))
    if action == "report":
        if len(rest) > 1:
            raise BadInput("/incident report takes at most a window, e.g. 7d")
        return IncidentCommand(action, window=parse_window(rest[0]) if rest else REPORT_WINDOW)
    if action == "outcome":
        if not rest:
            raise BadInput(f"say how the page turned out: one of {', '.join(KINDS)}")
        kind = parse_kind(rest[0])
        return replace(_with_id(action, rest[1:]), outcome=kind)
    return _with_id(action, rest)


def _with_id(action: str, rest: list[str]) -> IncidentCommand:
    if len(rest) > 1:
        raise BadInput(f"/incident {action} takes at most an incident id")
    if not rest:
        return IncidentCommand(action)
    return IncidentCommand(action, incident_id=incident_id(rest[0].removeprefix("#")))


def incident_id(text: str, *, what: str = "not an incident id") -> int:
    """An incident id typed or carried by a button: ASCII digits; a number no incident can have (beyond the
    database's 32-bit ids) is "no incident", said privately like any other unknown id."""
    if not _ID.fullmatch(text):
        raise BadInput(f"{what}: {_shown(text)} (use the number, e.g. 12)")
    number = int(text)
    if not 1 <= number <= MAX_INCIDENT_ID:
        raise BadInput(f"no incident #{text.lstrip('0')[:40] or '0'}")
    return number


def window_text(window: timedelta) -> str:
    """`2h`, `30m`, `1d`: the shortest exact way to say a window."""
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def status_text(incident: Incident, *, now: datetime) -> str:
    """One mrkdwn paragraph: id, title, status, severity, age, who acknowledged, where it is handled."""
    age = _minutes(now - incident.opened_at)
    parts = [md.bold(f"#{incident.id} {incident.title}"), f"{incident.status.upper()} · {incident.severity}",
             f"opened {age} ago"]
    if incident.acknowledged_at is not None:
        who = mention([incident.acknowledged_by]) if incident.acknowledged_by else "someone"
        parts.append(f"acknowledged by {who} after {_minutes(incident.acknowledged_at - incident.opened_at)}")
    if incident.resolved_at is not None:
        parts.append(f"resolved after {_minutes(incident.resolved_at - incident.opened_at)}")
    if incident.channel_name:
        parts.append(channel_link(incident))
    if incident.pagerduty_url:
        parts.append(link(incident.pagerduty_url, "PagerDuty"))
    return " · ".join(parts)


def overview_text(incidents: Sequence[Incident], *, now: datetime) -> str:
    """The unresolved incidents, one line each, for `/incident status` outside an incident channel."""
    if not incidents:
        return "No open incidents. :white_check_mark:"
    lines = [f"*{len(incidents)} unresolved incident{'s' if len(incidents) != 1 else ''}:*"]
    lines += [f"• {status_text(incident, now=now)}" for incident in incidents]
    return "\n".join(lines)


def _minutes(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _shown(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")
