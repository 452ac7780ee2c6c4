"""What the bot says in chat about incidents, as `Message`s with Block Kit blocks (plain dicts).

Blocks, limits and cutting come from `bot.presentation.blocks`; every value from outside (alarm name, reason,
metric, declared title) is shown through `bot.presentation.mrkdwn` (`escape`, `bold`, `code`), so only the bot's
own mentions and links are live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.alarms.models import AlarmEvent
from bot.alarms.severity import Severity
from bot.incidents.models import Incident, IncidentStatus
from bot.incidents.ports import Message
from bot.presentation import mrkdwn as md
from bot.presentation.blocks import (
    BLOCKS_MAX,
    SECTION_TEXT_MAX,
    Block,
    actions,
    button,
    context,
    cut_mrkdwn,
    header,
    image_file,
    section,
    sections,
)

_EMOJI = {
    "CRITICAL": ":rotating_light:",
    "HIGH": ":warning:",
    "MEDIUM": ":large_yellow_circle:",
    "LOW": ":information_source:",
}

OUTCOME_ACTION_PREFIX = "incident_outcome_"  # + the outcome kind, e.g. incident_outcome_false-positive
OUTCOME_BUTTONS = (("Actionable", "actionable"), ("False positive", "false-positive"), ("Duplicate", "duplicate"),
                   ("Missed (found late)", "missed"))

def incident_buttons(incident_id: int, *, dlq: bool = True) -> Block:
    """Acknowledge / Resolve / Run DLQ breakdown, handled by the Slack interactivity listener."""
    value = str(incident_id)
    elements: list[Block] = [
        button("Acknowledge", "incident_acknowledge", value, style="primary"),
        button("Resolve", "incident_resolve", value, style="danger"),
    ]
    if dlq:
        elements.append(button("Run DLQ breakdown", "incident_dlq_breakdown", value))
    return actions(f"incident-{incident_id}", elements)


def outcome_buttons(incident_id: int) -> Block:
    """How did this page turn out? One button per outcome, handled by the Slack interactivity listener."""
    value = str(incident_id)
    return actions(f"incident-outcome-{incident_id}",
                   [button(label, f"{OUTCOME_ACTION_PREFIX}{kind}", value) for label, kind in OUTCOME_BUTTONS])


def state_buttons(incident: Incident, *, now: datetime, reopen_window: timedelta, dlq: bool = False) -> Block | None:
    """Buttons that match the incident's state: Acknowledge only while open, Resolve until resolved; once resolved,
    Write post-incident review, and Reopen within the reopen window. None when there is nothing to press."""
    value = str(incident.id)
    elements: list[Block] = []
    if incident.status == IncidentStatus.OPEN:
        elements.append(button("Acknowledge", "incident_acknowledge", value, style="primary"))
    if incident.status != IncidentStatus.RESOLVED:
        elements.append(button("Resolve", "incident_resolve", value, style="danger"))
        if dlq:
            elements.append(button("Run DLQ breakdown", "incident_dlq_breakdown", value))
    else:
        elements.append(button("Write post-incident review", "incident_review", value, style="primary"))
        if incident.resolved_at is not None and now - incident.resolved_at <= reopen_window:
            elements.append(button("Reopen", "incident_reopen", value))
    return actions(f"incident-{incident.id}", elements) if elements else None


def status_line(incident: Incident, *, now: datetime) -> str:
    """`*Status:* ACKNOWLEDGED by @alice at 14:03 UTC · open 12 min` (mrkdwn)."""
    status = str(incident.status).upper()
    parts = [f"*Status:* {status}"]
    if incident.acknowledged_at is not None:
        who = mention([incident.acknowledged_by]) if incident.acknowledged_by else "someone"
        parts.append(f"acknowledged by {who} at {incident.acknowledged_at:%H:%M} UTC "
                     f"({_duration(incident.acknowledged_at - incident.opened_at)} after opening)")
    if incident.resolved_at is not None:
        parts.append(f"resolved at {incident.resolved_at:%H:%M} UTC after "
                     f"{_duration(incident.resolved_at - incident.opened_at)}")
    else:
        parts.append(f"open for {_duration(now - incident.opened_at)}")
    if incident.reopen_count:
        parts.append(f"reopened {incident.reopen_count}×")
    return " · ".join(parts)


def alarms_line(alarms: Sequence[tuple[str, str]]) -> str:
    """`*Alarms:* `KafkaBrokerDown` ALARM, `ConsumerLagHigh` OK` (names and states from outside: escaped)."""
    shown = ", ".join(f"{md.code(name)} {md.escape(state)}".rstrip() for name, state in alarms)
    return f"*Alarms:* {shown}" if shown else ""


def links_line(incident: Incident, links: Mapping[str, str]) -> str:
    """The incident channel (a live `<#C…>` link), the CloudWatch alarm, the PagerDuty incident and the rest."""
    parts = [f"Incident #{incident.id}"]
    if incident.channel_name:
        parts.append(channel_link(incident))
    parts += [md.link(url, name) for name, url in links.items() if url]
    if incident.pagerduty_url:
        parts.append(md.link(incident.pagerduty_url, "PagerDuty incident"))
    return " · ".join(parts)


def living_summary(incident: Incident, event: AlarmEvent | None, *, links: Mapping[str, str],
                   alarms: Sequence[tuple[str, str]], now: datetime, reopen_window: timedelta,
                   graph_file: str | None = None) -> Message:
    """The first message of the incident channel, as it is now: what crossed, the metric graph (a file shared in
    the channel), status, alarms, links, buttons."""
    severity = incident.severity
    status = str(incident.status).upper()
    if event is None:  # declared by hand
        text = f"{severity}: incident #{incident.id} {md.escape(incident.title)} · {status}"
        body = f"Declared incident {md.bold(incident.title)}."
    else:
        when = event.state_change_time.strftime("%Y-%m-%d %H:%M:%S UTC")
        state = "is in ALARM since" if incident.status != IncidentStatus.RESOLVED else "was in ALARM from"
        text = f"{severity}: {md.escape(event.alarm_name)} {state} {when} · {status}"
        body = f"{what_crossed(event)}\n*When:* {when}\n*Reason:* {md.escape(event.reason or 'n/a')}"
    emoji = ":white_check_mark:" if incident.status == IncidentStatus.RESOLVED else _EMOJI.get(severity, "")
    blocks: list[Block] = [
        header(f"{emoji} {severity} · {status} · {md.escape(incident.title)}"),
        section(body),
        *([image_file(graph_file, alt=f"Graph of {event.subject_metric if event else 'the metric'}")]
          if graph_file else []),
        section("\n".join(line for line in (status_line(incident, now=now), alarms_line(alarms)) if line)),
        context(links_line(incident, links)),
    ]
    dlq = "DLQ" in incident.alarm_name or "dlq" in incident.title.lower()
    buttons = state_buttons(incident, now=now, reopen_window=reopen_window, dlq=dlq)
    if buttons:
        blocks.append(buttons)
    return Message(text=text, blocks=blocks)


def living_announcement(incident: Incident, event: AlarmEvent | None, *, links: Mapping[str, str],
                        alarms: Sequence[tuple[str, str]], now: datetime) -> Message:
    """A CRITICAL incident's announcement in the alerts channel, as it is now (no buttons: work happens in the
    incident channel)."""
    alarm = md.escape(event.alarm_name if event else incident.alarm_name)
    if incident.status == IncidentStatus.RESOLVED:
        lead = (f":white_check_mark: *CRITICAL* incident #{incident.id} {md.bold(incident.title)} ({alarm}) "
                f"is resolved. Post-incident review in {channel_link(incident)}.")
    else:
        lead = (f"{_EMOJI['CRITICAL']} *CRITICAL* incident #{incident.id} opened: {md.bold(incident.title)} "
                f"({alarm}). Join {channel_link(incident)} — on-call has been paged.")
    detail = "\n".join(line for line in (status_line(incident, now=now), alarms_line(alarms)) if line)
    return Message(text=lead, blocks=[section(lead), section(detail), context(links_line(incident, links))])


def living_alert(incident: Incident, event: AlarmEvent, *, first_steps: str | None, links: Mapping[str, str],
                 alarms: Sequence[tuple[str, str]], now: datetime, reopen_window: timedelta) -> Message:
    """A HIGH alert in the alerts channel, as it is now: what crossed, the runbook's first steps (mrkdwn) and a
    link to the whole runbook, status, buttons matching the state, the escalation hint while unresolved."""
    severity = Severity(incident.severity)
    emoji = ":white_check_mark:" if incident.status == IncidentStatus.RESOLVED else _EMOJI.get(severity.value, "")
    lead = (f"{emoji} *{severity.value}* · {md.bold(incident.title)} "
            f"({md.escape(event.alarm_name)})")
    blocks: list[Block] = [section(f"{lead}\n{what_crossed(event)}\n*Reason:* {md.escape(event.reason or 'n/a')}")]
    if first_steps and incident.status != IncidentStatus.RESOLVED:
        blocks += sections(first_steps)[:6]
    runbook = links.get("Runbook", "")
    if runbook:
        blocks.append(context(f":blue_book: {md.link(runbook, 'Full runbook')}"))
    detail = "\n".join(line for line in (status_line(incident, now=now), alarms_line(alarms)) if line)
    blocks.append(section(detail))
    blocks.append(context(links_line(incident, {k: v for k, v in links.items() if k != "Runbook"})))
    buttons = state_buttons(incident, now=now, reopen_window=reopen_window)
    if buttons:
        blocks.append(buttons)
    if incident.status != IncidentStatus.RESOLVED:
        blocks.append(
            context(
                f"Investigate within 1 hour. Needs hands now? {md.code(f'/incident declare {incident.title}')} "
                f"opens a channel (incident #{incident.id})."
            )
        )
    text = cut_mrkdwn(f"{severity.value}: {md.escape(event.alarm_name)} — {md.escape(event.reason)} · "
                      f"{str(incident.status).upper()}", 3000)
    return Message(text=text, blocks=blocks[:BLOCKS_MAX])


def review_summary(incident: Incident, *, summary: str, root_cause: str, impact: str, prevention: str,
                   owner: str, by: str | None) -> Message:
    """One paragraph for the team's incidents channel once a post-incident review is written (fields escaped;
    the owner a mention when it is a user id)."""
    who = mention([owner]) if owner else "nobody yet"
    parts = [f":memo: *Post-incident review* of incident #{incident.id} {md.bold(incident.title)} "
             f"({incident.severity}, {channel_link(incident)}):"]
    if summary:
        parts.append(md.escape(summary.rstrip(".")) + ".")
    if root_cause:
        parts.append(f"Root cause: {md.escape(root_cause.rstrip('.'))}.")
    if impact:
        parts.append(f"Impact: {md.escape(impact.rstrip('.'))}.")
    if prevention:
        parts.append(f"Prevention: {md.escape(prevention.rstrip('.'))} (owner {who}).")
    if by:
        parts.append(f"Written by {mention([by])}.")
    text = cut_mrkdwn(" ".join(parts), SECTION_TEXT_MAX)
    return Message(text=text, blocks=[section(text)])


def with_state_buttons(blocks: Sequence[Mapping[str, Any]], incident: Incident, *, now: datetime,
                       reopen_window: timedelta) -> list[Block]:
    """A message's blocks (as Slack sent them with a button click) with its incident buttons replaced by the ones
    that match the incident's state now, after a status line; the other blocks stay as they were."""
    status = {**context(status_line(incident, now=now)), "block_id": "incident-status"}
    out: list[Block] = []
    for block in blocks:
        if block.get("block_id") == "incident-status":
            continue
        if block.get("type") == "actions" and block.get("block_id") == f"incident-{incident.id}":
            continue  # the incident's own buttons; other button rows (e.g. outcomes) stay as they were
        out.append(dict(block))
    dlq = any(e.get("action_id") == "incident_dlq_breakdown" for b in blocks for e in b.get("elements") or ()
              if isinstance(e, Mapping))
    buttons = state_buttons(incident, now=now, reopen_window=reopen_window, dlq=dlq)
    return [*out[: BLOCKS_MAX - 2], status, *([buttons] if buttons else [])]


def review_modal(incident: Incident, *, summary: str = "", root_cause: str = "", impact: str = "",
                 prevention: str = "", owner: str = "") -> dict[str, Any]:
    """The post-incident review modal (views.open): plain-text inputs and a user select for the owner, filled
    with what was written before; `private_metadata` carries the incident id."""
    def text_input(block_id: str, label: str, value: str, *, multiline: bool, hint: str = "") -> Block:
        element: Block = {"type": "plain_text_input", "action_id": "value", "multiline": multiline,
                          "max_length": 3000}
        if value:
            element["initial_value"] = value[:3000]
        block: Block = {"type": "input", "block_id": block_id, "label": {"type": "plain_text", "text": label},
                        "element": element, "optional": block_id != "summary"}
        if hint:
            block["hint"] = {"type": "plain_text", "text": hint}
        return block

    owner_element: Block = {"type": "users_select", "action_id": "value",
                            "placeholder": {"type": "plain_text", "text": "Who owns the prevention action"}}
    if owner and md.is_user_id(owner):
        owner_element["initial_user"] = owner
    return {
        "type": "modal", "callback_id": "incident_review", "private_metadata": str(incident.id),
        "title": {"type": "plain_text", "text": f"Review #{incident.id}"[:24]},
        "submit": {"type": "plain_text", "text": "Save review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            context(f"Post-incident review of {md.bold(incident.title)} ({incident.severity})."),
            text_input("summary", "Summary", summary, multiline=True),
            text_input("root_cause", "Root cause (one sentence)", root_cause, multiline=False),
            text_input("impact", "Impact", impact, multiline=True),
            text_input("prevention", "One prevention action", prevention, multiline=False),
            {"type": "input", "block_id": "owner", "optional": True,
             "label": {"type": "plain_text", "text": "Owner of the prevention action"}, "element": owner_element},
        ],
    }


def mention(users: Sequence[str]) -> str:
    """Live mentions for user ids; anything else (an unresolved email) is shown escaped, as text."""
    return md.mention_users(tuple(users))


def with_mentions(message: Message, user_ids: Sequence[str]) -> Message:
    """`message` with mentions of `user_ids` in front of its text and first section (so they get notified)."""
    if not user_ids:
        return message
    who = mention(user_ids)
    blocks = [dict(b) for b in message.blocks]
    for block in blocks:
        if block.get("type") == "section":
            block["text"] = {**block["text"], "text": cut_mrkdwn(f"{who} {block['text']['text']}", SECTION_TEXT_MAX)}
            break
    return Message(text=f"{who} {message.text}", blocks=blocks)


def channel_link(incident: Incident) -> str:
    """`<#C123>` when the channel exists, else its intended name."""
    if incident.channel_id:
        return md.channel_link(incident.channel_id, incident.channel_name or "")
    return md.escape(f"#{incident.channel_name}") if incident.channel_name else "(no channel)"


def what_crossed(event: AlarmEvent) -> str:
    """One mrkdwn sentence: which metric crossed which threshold, with the observed value."""
    if event.alarm_rule and not event.metric_name and not event.metrics:
        children = ", ".join(md.escape(c.arn.rsplit(":", 1)[-1]) for c in event.triggering_children)
        return f"Composite rule {md.code(event.alarm_rule)} is true (triggered by {children or 'its children'})."
    stat = f"{md.escape(event.statistic)} " if event.statistic else ""
    threshold = _number(event.threshold) if event.threshold is not None else "its band"
    window = ""
    if event.period:
        window = f" over {event.period}s × {event.evaluation_periods or 1}"
    observed = f" Observed *{_number(event.observed_value)}*." if event.observed_value is not None else ""
    return f"{md.bold(event.subject_metric)} {stat}{md.escape(event.comparison)} {threshold}{window}.{observed}"


def what_crossed_plain(event: AlarmEvent) -> str:
    """The same sentence as plain text (PagerDuty summaries)."""
    if event.alarm_rule and not event.metric_name and not event.metrics:
        children = ", ".join(c.arn.rsplit(":", 1)[-1] for c in event.triggering_children) or "its children"
        return f"Composite rule {event.alarm_rule} is true (triggered by {children})."
    stat = f"{event.statistic} " if event.statistic else ""
    threshold = _number(event.threshold) if event.threshold is not None else "its band"
    window = f" over {event.period}s × {event.evaluation_periods or 1}" if event.period else ""
    observed = f" Observed {_number(event.observed_value)}." if event.observed_value is not None else ""
    return md.plain(f"{event.subject_metric} {stat}{event.comparison} {threshold}{window}.{observed}")


def runbook_message(title: str, mrkdwn: str) -> Message:
    """The rendered runbook (already mrkdwn) as sections."""
    blocks = [header(f":blue_book: Runbook · {title}"), *sections(mrkdwn)][:BLOCKS_MAX]
    return Message(text=f"Runbook: {md.escape(title)}\n{cut_mrkdwn(mrkdwn, 2000)}", blocks=blocks)


def postmortem_message(incident: Incident, mrkdwn: str) -> Message:
    """The filled post-incident template (already mrkdwn) as sections."""
    blocks = [header(f":memo: Post-incident · {incident.title}"), *sections(mrkdwn)][:BLOCKS_MAX]
    return Message(text=f"Post-incident template for incident #{incident.id}", blocks=blocks)


def alert(incident: Incident, event: AlarmEvent, *, runbook: str | None) -> Message:
    """HIGH/MEDIUM/LOW alarms in the alerts channel; `runbook` (mrkdwn) inline when given; HIGH gets buttons and
    an escalation hint."""
    severity = Severity(incident.severity)
    lead = (f"{_EMOJI.get(severity.value, '')} *{severity.value}* · {md.bold(incident.title)} "
            f"({md.escape(event.alarm_name)})")
    blocks: list[Block] = [section(f"{lead}\n{what_crossed(event)}\n*Reason:* {md.escape(event.reason or 'n/a')}")]
    if runbook:
        blocks += sections(runbook)
    if severity is Severity.HIGH:
        blocks.append(incident_buttons(incident.id, dlq=False))
        blocks.append(
            context(
                f"Investigate within 1 hour. Needs hands now? {md.code(f'/incident declare {incident.title}')} "
                f"opens a channel (incident #{incident.id})."
            )
        )
    text = cut_mrkdwn(f"{severity.value}: {md.escape(event.alarm_name)} — {md.escape(event.reason)}", 3000)
    return Message(text=text, blocks=blocks[:BLOCKS_MAX])


def resolved(incident: Incident, *, minutes: float, by: str | None, where: str | None = None,
             alarm_still_firing: str | None = None) -> Message:
    """The alarm cleared (or a person resolved it, in Slack or `where`, e.g. PagerDuty)."""
    if where:
        cause = f"resolved in {where}" + (f" by {md.escape(by)}" if by else "")
    else:
        cause = f"resolved by {mention([by])}" if by else "alarm back to OK"
    text = (f":white_check_mark: Incident #{incident.id} {md.bold(incident.title)} resolved after {minutes:.0f} min "
            f"({cause}).")
    if alarm_still_firing:
        text += (f" Note: the alarm {md.code(alarm_still_firing)} is still in ALARM; when it returns to OK that is"
                 " only noted on the timeline. If it fires again later, a new incident opens.")
    return Message(text=text, blocks=[section(text), context("How did this page turn out?"),
                                      outcome_buttons(incident.id)])


def reopened(incident: Incident, event: AlarmEvent) -> Message:
    """The alarm fired again inside the reopen window."""
    text = (
        f":repeat: Incident #{incident.id} *reopened*: {md.escape(event.alarm_name)} is in ALARM again "
        f"(reopen #{incident.reopen_count}, flapping?). {what_crossed(event)}"
    )
    return Message(text=text, blocks=[section(text)])


def reopened_by(incident: Incident, *, by: str | None) -> Message:
    """A person reopened the incident (the Reopen button)."""
    who = mention([by]) if by else "someone"
    text = f":repeat: Incident #{incident.id} {md.bold(incident.title)} *reopened* by {who}."
    return Message(text=text, blocks=[section(text)])


def acknowledged(incident: Incident, *, by: str | None) -> Message:
    """Someone took the incident."""
    who = mention([by]) if by else "someone"
    text = f":eyes: Incident #{incident.id} acknowledged by {who}."
    return Message(text=text, blocks=[section(text)])


def acknowledged_elsewhere(incident: Incident, *, by: str | None, where: str) -> Message:
    """Someone took the incident in another tool (PagerDuty); `by` is their name there."""
    text = f":eyes: Incident #{incident.id} acknowledged in {where} by {md.escape(by or 'someone')}. Reminders stop."
    return Message(text=text, blocks=[section(text)])


def unacknowledged(incident: Incident, *, by: str | None, where: str | None) -> Message:
    """Nobody holds the incident any more."""
    place = f" in {where}" if where else ""
    who = f" ({md.escape(by)})" if by else ""
    text = (f":arrows_counterclockwise: Incident #{incident.id} was unacknowledged{place}{who}: it is open again "
            "and reminders resume.")
    return Message(text=text, blocks=[section(text)])


def line(text: str) -> Message:
    """One line of mrkdwn (the caller escaped what came from outside)."""
    return Message(text=text, blocks=[section(text)])


def pagerduty_link(incident: Incident, *, url: str, label: str) -> Message:
    """Where the page lives in PagerDuty."""
    text = f":pager: Incident #{incident.id} is {md.link(url, label)} in PagerDuty."
    return Message(text=text, blocks=[section(text)])


def ack_reminder(incident: Incident, *, responders: Sequence[str], minutes: float, target: str) -> Message:
    """An incident not acknowledged within its severity's response time (`target`, e.g. "5 min"); with nobody
    to mention, the bot chooses to notify `@here`."""
    who = mention(responders) or md.here()
    text = (
        f":alarm_clock: {who} incident #{incident.id} {md.bold(incident.title)} is {incident.severity} and still not "
        f"acknowledged after {minutes:.0f} min (target: {target}). Press *Acknowledge* or run "
        f"`/incident ack {incident.id}`."
    )
    return Message(text=text, blocks=[section(text), incident_buttons(incident.id, dlq=False)])


def declared(incident: Incident, *, by: str | None) -> Message:
    """A person declared an incident by hand."""
    who = mention([by]) if by else "someone"
    text = (f":rotating_light: Incident #{incident.id} {md.bold(incident.title)} declared by {who} "
            f"({incident.severity}).")
    return Message(text=text, blocks=[section(text)])


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def joined(incident: Incident, event: AlarmEvent, *, relation: str, headline: bool, escalated: bool,
           reopened: bool) -> Message:
    """A correlated alarm joined the incident: which one, how it relates, what changed."""
    lead = (f":link: {md.escape(event.alarm_name)} joined incident #{incident.id} {md.bold(incident.title)} "
            f"({md.escape(relation)}).")
    notes = []
    if headline:
        notes.append(f"It is the cause: the incident's headline is now {md.bold(incident.title)}.")
    if escalated:
        notes.append(f"Severity raised to *{incident.severity}*.")
    if reopened:
        notes.append("The incident was resolved and is open again.")
    text = " ".join([lead, *notes])
    return Message(text=text, blocks=[section(f"{text}\n{what_crossed(event)}\n*Reason:* "
                                              f"{md.escape(event.reason or 'n/a')}")])


def storm_digest(incidents: Sequence[Incident]) -> Message:
    """The one alerts-channel message of an alarm storm: counts by severity and alarm, links to the channels."""
    opened = [i.opened_at for i in incidents]
    minutes = max(1.0, (max(opened) - min(opened)).total_seconds() / 60) if opened else 1.0
    by_severity = Counter(str(i.severity) for i in incidents)
    by_alarm = Counter(i.alarm_name for i in incidents)
    severities = " · ".join(f"{_EMOJI.get(s.value, '')} *{s.value}* {by_severity[s.value]}"
                            for s in Severity if by_severity[s.value])
    text = (f":thunder_cloud_and_rain: *Alarm storm*: {len(incidents)} incidents opened within {minutes:.0f} min "
            "(one message, updated as incidents arrive).")
    alarms = "\n".join(f"• {md.escape(name)} × {count}" for name, count in by_alarm.most_common())
    channels = " ".join(f"#{i.id} {md.channel_link(i.channel_id, i.channel_name or '')}"
                        for i in incidents if i.channel_id)
    blocks: list[Block] = [section(f"{text}\n{severities}"), section(f"*By alarm*\n{alarms}")]
    if channels:
        blocks.append(section(f"*Incident channels*\n{channels}"))
    without = [str(i.id) for i in incidents if not i.channel_id]
    if without:
        blocks.append(context(cut_mrkdwn("Without a channel (see `/incident status`): #" + ", #".join(without),
                                         SECTION_TEXT_MAX)))
    return Message(text=f"Alarm storm: {len(incidents)} incidents opened within {minutes:.0f} min",
                   blocks=blocks)
