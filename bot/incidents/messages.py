"""What the bot says in chat about incidents, as `Message`s with Block Kit blocks (plain dicts).

Limits kept here: ≤ 50 blocks, section text ≤ 3,000 characters, header ≤ 150 (FIELD_NOTES).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.alarms.models import AlarmEvent
from bot.alarms.severity import Severity
from bot.incidents.models import Incident
from bot.incidents.ports import Message

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
_EMOJI = {
    "CRITICAL": ":rotating_light:",
    "HIGH": ":warning:",
    "MEDIUM": ":large_yellow_circle:",
    "LOW": ":information_source:",
}

Block = dict[str, Any]
OUTCOME_ACTION_PREFIX = "incident_outcome_"  # + the outcome kind, e.g. incident_outcome_false-positive
OUTCOME_BUTTONS = (("Actionable", "actionable"), ("False positive", "false-positive"), ("Duplicate", "duplicate"),
                   ("Missed (found late)", "missed"))


def header(text: str) -> Block:
    """A header block, cut to Slack's 150 characters."""
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, HEADER_LIMIT), "emoji": True}}


def section(text: str) -> Block:
    """A mrkdwn section, cut to Slack's 3,000 characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def context(text: str) -> Block:
    """A small grey context line."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}]}


def sections(markdown: str) -> list[Block]:
    """Long mrkdwn split on paragraph boundaries into sections that each fit Slack's limit."""
    blocks: list[Block] = []
    chunk = ""
    for paragraph in markdown.strip().split("\n\n"):
        candidate = f"{chunk}\n\n{paragraph}" if chunk else paragraph
        if len(candidate) <= SECTION_LIMIT:
            chunk = candidate
            continue
        if chunk:
            blocks.append(section(chunk))
        while len(paragraph) > SECTION_LIMIT:
            blocks.append(section(paragraph[:SECTION_LIMIT]))
            paragraph = paragraph[SECTION_LIMIT:]
        chunk = paragraph
    if chunk:
        blocks.append(section(chunk))
    return blocks


def incident_buttons(incident_id: int, *, dlq: bool = True) -> Block:
    """Acknowledge / Resolve / Run DLQ breakdown, handled by the Slack interactivity listener."""
    value = str(incident_id)
    elements: list[Block] = [
        _button("Acknowledge", "incident_acknowledge", value, style="primary"),
        _button("Resolve", "incident_resolve", value, style="danger"),
    ]
    if dlq:
        elements.append(_button("Run DLQ breakdown", "incident_dlq_breakdown", value))
    return {"type": "actions", "block_id": f"incident-{incident_id}", "elements": elements}


def outcome_buttons(incident_id: int) -> Block:
    """How did this page turn out? One button per outcome, handled by the Slack interactivity listener."""
    value = str(incident_id)
    return {"type": "actions", "block_id": f"incident-outcome-{incident_id}",
            "elements": [_button(label, f"{OUTCOME_ACTION_PREFIX}{kind}", value) for label, kind in OUTCOME_BUTTONS]}


def mention(users: Iterable[str]) -> str:
    """Slack mentions for user ids; anything else (an unresolved email) is shown as it is."""
    return " ".join(f"<@{u}>" if re.fullmatch(r"[UW][A-Z0-9]+", u) else u for u in users)


def with_mentions(message: Message, user_ids: Sequence[str]) -> Message:
    """`message` with mentions of `user_ids` in front of its text and first section (so they get notified)."""
    if not user_ids:
        return message
    who = mention(user_ids)
    blocks = [dict(b) for b in message.blocks]
    for block in blocks:
        if block.get("type") == "section":
            block["text"] = {**block["text"], "text": _cut(f"{who} {block['text']['text']}", SECTION_LIMIT)}
            break
    return Message(text=f"{who} {message.text}", blocks=blocks)


def channel_link(incident: Incident) -> str:
    """`<#C123>` when the channel exists, else its intended name."""
    if incident.channel_id and not incident.channel_id.startswith("R-"):
        return f"<#{incident.channel_id}>"
    return f"#{incident.channel_name}" if incident.channel_name else "(no channel)"


def what_crossed(event: AlarmEvent) -> str:
    """One sentence: which metric crossed which threshold, with the observed value."""
    if event.alarm_rule and not event.metric_name and not event.metrics:
        children = ", ".join(c.arn.rsplit(":", 1)[-1] for c in event.triggering_children) or "its children"
        return f"Composite rule `{event.alarm_rule}` is true (triggered by {children})."
    stat = f"{event.statistic} " if event.statistic else ""
    threshold = _number(event.threshold) if event.threshold is not None else "its band"
    window = ""
    if event.period:
        window = f" over {event.period}s × {event.evaluation_periods or 1}"
    observed = f" Observed *{_number(event.observed_value)}*." if event.observed_value is not None else ""
    return f"*{event.subject_metric}* {stat}{event.comparison} {threshold}{window}.{observed}"


def alarm_summary(incident: Incident, event: AlarmEvent, *, links: Mapping[str, str], buttons: bool) -> Message:
    """The first message of an incident: what crossed which threshold, the reason, when, where to look."""
    severity = incident.severity
    when = event.state_change_time.strftime("%Y-%m-%d %H:%M:%S UTC")
    text = f"{severity}: {event.alarm_name} is in ALARM since {when}"
    blocks: list[Block] = [
        header(f"{_EMOJI.get(severity, '')} {severity} · {incident.title}"),
        section(f"{what_crossed(event)}\n*When:* {when}\n*Reason:* {event.reason or 'n/a'}"),
    ]
    link_line = " · ".join(f"<{url}|{name}>" for name, url in links.items() if url)
    if link_line:
        blocks.append(context(f"Incident #{incident.id} · {link_line}"))
    if buttons:
        dlq = "DLQ" in incident.alarm_name or "dlq" in incident.title.lower()
        blocks.append(incident_buttons(incident.id, dlq=dlq))
    return Message(text=text, blocks=blocks)


def runbook_message(title: str, mrkdwn: str) -> Message:
    """The rendered runbook as sections."""
    body = sections(mrkdwn)
    blocks = [header(f":blue_book: Runbook · {title}"), *body][:MAX_BLOCKS]
    return Message(text=f"Runbook: {title}\n{mrkdwn[:2000]}", blocks=blocks)


def announcement(incident: Incident, event: AlarmEvent) -> Message:
    """Posted in the alerts channel when a CRITICAL incident gets its channel."""
    text = (
        f"{_EMOJI['CRITICAL']} *CRITICAL* incident #{incident.id} opened: *{incident.title}* "
        f"({event.alarm_name}). Join {channel_link(incident)} — on-call has been paged."
    )
    return Message(text=text, blocks=[section(text)])


def alert(incident: Incident, event: AlarmEvent, *, runbook: str | None) -> Message:
    """HIGH/MEDIUM/LOW alarms in the alerts channel; HIGH carries the runbook steps and an escalation hint."""
    severity = Severity(incident.severity)
    lead = f"{_EMOJI.get(severity.value, '')} *{severity.value}* · *{incident.title}* ({event.alarm_name})"
    blocks: list[Block] = [section(f"{lead}\n{what_crossed(event)}\n*Reason:* {event.reason or 'n/a'}")]
    if runbook:
        blocks += sections(runbook)
    if severity is Severity.HIGH:
        blocks.append(incident_buttons(incident.id, dlq=False))
        blocks.append(
            context(
                f"Investigate within 1 hour. Needs hands now? `/incident declare {incident.title}` "
                f"opens a channel (incident #{incident.id})."
            )
        )
    return Message(text=f"{severity.value}: {event.alarm_name} — {event.reason}"[:3000], blocks=blocks[:MAX_BLOCKS])


def resolved(incident: Incident, *, minutes: float, by: str | None) -> Message:
    """The alarm cleared (or a person resolved it)."""
    cause = f"resolved by {mention([by])}" if by else "alarm back to OK"
    text = f":white_check_mark: Incident #{incident.id} *{incident.title}* resolved after {minutes:.0f} min ({cause})."
    return Message(text=text, blocks=[section(text), context("How did this page turn out?"),
                                      outcome_buttons(incident.id)])


def reopened(incident: Incident, event: AlarmEvent) -> Message:
    """The alarm fired again inside the reopen window."""
    text = (
        f":repeat: Incident #{incident.id} *reopened*: {event.alarm_name} is in ALARM again "
        f"(reopen #{incident.reopen_count}, flapping?). {what_crossed(event)}"
    )
    return Message(text=text, blocks=[section(text)])


def acknowledged(incident: Incident, *, by: str | None) -> Message:
    """Someone took the incident."""
    who = mention([by]) if by else "someone"
    text = f":eyes: Incident #{incident.id} acknowledged by {who}."
    return Message(text=text, blocks=[section(text)])


def ack_reminder(incident: Incident, *, responders: Sequence[str], minutes: float, target: str) -> Message:
    """An incident not acknowledged within its severity's response time (`target`, e.g. "5 min")."""
    who = mention(responders) or "<!here>"
    text = (
        f":alarm_clock: {who} incident #{incident.id} *{incident.title}* is {incident.severity} and still not "
        f"acknowledged after {minutes:.0f} min (target: {target}). Press *Acknowledge* or run "
        f"`/incident ack {incident.id}`."
    )
    return Message(text=text, blocks=[section(text), incident_buttons(incident.id, dlq=False)])


def declared(incident: Incident, *, by: str | None) -> Message:
    """A person declared an incident by hand."""
    who = mention([by]) if by else "someone"
    text = f":rotating_light: Incident #{incident.id} *{incident.title}* declared by {who} ({incident.severity})."
    return Message(text=text, blocks=[section(text), incident_buttons(incident.id)])


def _button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value,
    }
    if style:
        button["style"] = style
    return button


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
