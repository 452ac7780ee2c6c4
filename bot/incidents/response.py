"""The response plan: which side effects each incident change queues in the outbox, in which order.

Steps of one incident run in order within a lane: `chat` (channel, posts, queries), `pager` (PagerDuty), and
`reminder` (timed acknowledgement nudges) so a reminder waiting five minutes never holds up a post.
To add a side effect, add a step here and its executor in `bot/outbox.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.alarms.catalog import CatalogEntry
from bot.alarms.models import AlarmEvent
from bot.alarms.severity import Severity
from bot.incidents import messages
from bot.incidents.models import Incident, OutboxMessage
from bot.incidents.playbook import Playbook
from bot.incidents.ports import Message

CHAT, PAGER, REMINDER = "chat", "pager", "reminder"
PAGERDUTY = "pagerduty"  # a change that happened in PagerDuty (the `source` of service calls)
INCIDENT_CHANNEL, ALERTS_CHANNEL = "incident", "alerts"
_SLUG = re.compile(r"[^a-z0-9_-]+")


def channel_name(*, day: datetime, alarm_name: str, entry: CatalogEntry | None, prefix: str = "") -> str:
    """`inc-YYYYMMDD-<alarm-slug>`: lowercase, `[a-z0-9_-]`, short enough to take a `-NN` suffix within 80."""
    base = entry.key if entry else alarm_name.removeprefix(prefix)
    kebab = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", base).lower()
    slug = _SLUG.sub("-", kebab).strip("-_") or "alarm"
    slug = re.sub(r"-{2,}", "-", slug)
    return f"inc-{day:%Y%m%d}-{slug}"[:76].rstrip("-_")


def dedup_key(incident: Incident) -> str:
    """The PagerDuty dedup key: derived from our incident id so retries and reopens hit the same page."""
    return f"incident-bot/{incident.id}"


def incident_id_from_dedup_key(key: str) -> int | None:
    """The incident id in a dedup key made by `dedup_key`, or None for a key the bot did not make."""
    number = key.removeprefix("incident-bot/")
    return int(number) if number != key and number.isdigit() and len(number) < 18 else None


def step(
    incident: Incident, lane: str, kind: str, payload: Mapping[str, Any], *, now: datetime,
    run_after: datetime | None = None,
) -> OutboxMessage:
    """One outbox row for `incident`."""
    return OutboxMessage(
        incident_id=incident.id, lane=lane, kind=kind, payload=dict(payload), state={}, status="pending",
        attempts=0, run_after=run_after or now, created_at=now,
    )


def post(incident: Incident, target: str, message: Message, *, now: datetime, note: str,
         mention: Sequence[str] = ()) -> OutboxMessage:
    """A chat post step; `note` is how the post appears on the timeline; `mention` (Slack ids, emails,
    `pagerduty:<user id>`) is resolved to Slack users when it is posted."""
    payload: dict[str, Any] = {"target": target, "text": message.text, "blocks": list(message.blocks), "note": note}
    if mention:
        payload["mention"] = list(mention)
    return step(incident, CHAT, "post", payload, now=now)


def page(incident: Incident, action: str, *, now: datetime, event: AlarmEvent | None = None,
         links: Sequence[Mapping[str, str]] = ()) -> OutboxMessage:
    """A PagerDuty event step (trigger / acknowledge / resolve)."""
    payload: dict[str, Any] = {"action": action, "dedup_key": dedup_key(incident)}
    if action == "trigger" and event is not None:
        payload.update(
            summary=f"[{incident.severity}] {incident.title}: {messages.what_crossed(event)}"[:1024],
            severity="critical" if incident.severity == Severity.CRITICAL else "error",
            source=event.alarm_arn,
            component=event.alarm_name,
            custom_details={
                "alarm": event.alarm_name,
                "metric": event.subject_metric,
                "threshold": event.threshold,
                "value": event.observed_value,
                "reason": event.reason,
                "incident_id": incident.id,
            },
            links=list(links),
        )
    return step(incident, PAGER, "page", payload, now=now)


def on_open(incident: Incident, event: AlarmEvent, *, playbook: Playbook, now: datetime) -> list[OutboxMessage]:
    """Steps for a newly opened incident, shaped by its severity."""
    entry = playbook.entry_for(event.alarm_name)
    severity = Severity(incident.severity)
    policy = playbook.policy
    responders = [*policy.responders.get(severity, ()), *(entry.invite if entry else ())]
    if not severity.opens_channel:
        mention = _unique(policy.responders.get(severity, ())) if severity is Severity.HIGH else []
        return [step(incident, CHAT, "post_alert", {"mention": mention}, now=now),
                *reminder(incident, playbook=playbook, now=now, round_=1)]

    links = playbook.context(event, incident_id=incident.id, channel=incident.channel_name)["links"]

    console = {"Alarm": links.get("alarm", ""), "Dashboard": links.get("dashboard", ""),
               "Runbook": links.get("runbook", "")}
    slack_link = f"https://slack.com/app_redirect?channel={incident.channel_name}"
    plan = [
        step(incident, CHAT, "create_channel", {"name": incident.channel_name}, now=now),
        page(incident, "trigger", now=now, event=event, links=[
            {"href": slack_link, "text": f"Slack #{incident.channel_name}"},
            {"href": links.get("alarm", ""), "text": "CloudWatch alarm"},
        ]),
        post(incident, ALERTS_CHANNEL, messages.announcement(incident, event), now=now, note="announced in alerts"),
        step(incident, CHAT, "invite", {"users": _unique(responders)}, now=now),
        post(incident, INCIDENT_CHANNEL, messages.alarm_summary(incident, event, links=console, buttons=True),
             now=now, note="alarm summary posted"),
        # Rendered by the relay when it posts: intake stays cheap, and the runbook can name the real channel.
        step(incident, CHAT, "post_runbook", {"target": INCIDENT_CHANNEL}, now=now),
        step(incident, CHAT, "set_topic", {"topic": topic(incident)}, now=now),
        step(incident, CHAT, "set_purpose", {"purpose": purpose(incident)}, now=now),
    ]
    plan += [
        step(incident, CHAT, "bookmark", {"title": title, "link": link}, now=now)
        for title, link in console.items() if link
    ]
    plan += queries(incident, event, entry, now=now, target=INCIDENT_CHANNEL)
    plan += reminder(incident, playbook=playbook, now=now, round_=1)
    return plan


def on_reopen(incident: Incident, event: AlarmEvent, *, playbook: Playbook, now: datetime) -> list[OutboxMessage]:
    """Flapping: the same incident again, in the same channel, paged again."""
    severity = Severity(incident.severity)
    if not severity.opens_channel:
        return [post(incident, ALERTS_CHANNEL, messages.reopened(incident, event), now=now, note="reopened")]
    return [
        page(incident, "trigger", now=now, event=event),
        post(incident, INCIDENT_CHANNEL, messages.reopened(incident, event), now=now, note="reopen posted"),
        step(incident, CHAT, "set_topic", {"topic": topic(incident)}, now=now),
        *reminder(incident, playbook=playbook, now=now, round_=1),
    ]


def on_acknowledge(incident: Incident, *, by: str | None, now: datetime, source: str | None = None,
                   mention: Sequence[str] = ()) -> list[OutboxMessage]:
    """Someone took it: tell PagerDuty (unless it came from there) and the channel."""
    target = _target(incident)
    if source == PAGERDUTY:
        message = messages.acknowledged_elsewhere(incident, by=by, where="PagerDuty")
        plan = [post(incident, target, message, now=now, note="acknowledgement posted", mention=mention)]
    else:
        plan = [post(incident, target, messages.acknowledged(incident, by=by), now=now,
                     note="acknowledgement posted")]
        if Severity(incident.severity).pages and incident.source == "alarm":
            plan.insert(0, page(incident, "acknowledge", now=now))
    if incident.channel_name:
        plan.append(step(incident, CHAT, "set_topic", {"topic": topic(incident)}, now=now))
    return plan


def on_unacknowledge(incident: Incident, *, by: str | None, playbook: Playbook, now: datetime,
                     source: str | None = None, remind: bool = True) -> list[OutboxMessage]:
    """Nobody holds it any more: say so and start the reminders again (`remind` False: one is still queued)."""
    where = "PagerDuty" if source == PAGERDUTY else None
    plan = [post(incident, _target(incident), messages.unacknowledged(incident, by=by, where=where), now=now,
                 note="unacknowledgement posted")]
    if incident.channel_name:
        plan.append(step(incident, CHAT, "set_topic", {"topic": topic(incident)}, now=now))
    if remind:
        plan += reminder(incident, playbook=playbook, now=now, round_=1)
    return plan


def on_resolve(incident: Incident, *, by: str | None, now: datetime, source: str | None = None,
               ) -> list[OutboxMessage]:
    """Alarm cleared or resolved by hand (or in PagerDuty): resolve the page unless PagerDuty did, say so, post
    the filled post-incident template."""
    minutes = ((incident.resolved_at or now) - incident.opened_at).total_seconds() / 60
    has_channel = bool(incident.channel_name)
    target = _target(incident)
    where = "PagerDuty" if source == PAGERDUTY else None
    # Resolved by a person while CloudWatch still says ALARM: its coming OK will only be noted on the timeline.
    still_alarm = incident.source == "alarm" and incident.alarm.get("NewStateValue") == "ALARM"
    message = messages.resolved(incident, minutes=minutes, by=by, where=where,
                                alarm_still_firing=incident.alarm_name if still_alarm else None)
    plan = [post(incident, target, message, now=now, note="resolution posted")]
    if Severity(incident.severity).pages and incident.source == "alarm" and source != PAGERDUTY:
        plan.insert(0, page(incident, "resolve", now=now))
    if has_channel:
        plan.append(step(incident, CHAT, "set_topic", {"topic": topic(incident)}, now=now))
        plan.append(step(incident, CHAT, "post_postmortem", {"target": target}, now=now))
    return plan


def on_event(incident: Incident, *, line: str, invite: Sequence[str], now: datetime) -> list[OutboxMessage]:
    """Something happened elsewhere: one line in the incident's channel, and people to bring in."""
    plan = [post(incident, _target(incident), messages.line(line), now=now, note="posted")]
    if invite and incident.channel_name:
        plan.append(step(incident, CHAT, "invite", {"users": _unique(invite)}, now=now))
    return plan


def on_pagerduty_link(incident: Incident, *, url: str, label: str, now: datetime) -> list[OutboxMessage]:
    """The PagerDuty incident is known: bookmark it in the channel and post the link."""
    plan = [post(incident, _target(incident), messages.pagerduty_link(incident, url=url, label=label), now=now,
                 note="PagerDuty link posted")]
    if incident.channel_name:
        plan.append(step(incident, CHAT, "bookmark", {"title": "PagerDuty", "link": url}, now=now))
    return plan


def on_declare(incident: Incident, *, by: str | None, responders: Sequence[str], now: datetime) -> list[OutboxMessage]:
    """A person declared an incident: a channel, the declarer and responders invited, no page."""
    return [
        step(incident, CHAT, "create_channel", {"name": incident.channel_name}, now=now),
        step(incident, CHAT, "invite", {"users": _unique([*([by] if by else []), *responders])}, now=now),
        post(incident, INCIDENT_CHANNEL, messages.declared(incident, by=by), now=now, note="declaration posted"),
        step(incident, CHAT, "set_topic", {"topic": topic(incident)}, now=now),
        step(incident, CHAT, "set_purpose", {"purpose": purpose(incident)}, now=now),
    ]


def queries(incident: Incident, event: AlarmEvent, entry: CatalogEntry | None, *, now: datetime,
            target: str) -> list[OutboxMessage]:
    """Run the runbook's queries over the alarm's window (with a little slack before it) and post the answers."""
    if entry is None:
        return []
    end = event.state_change_time
    start = end - event.query_span
    return [
        step(incident, CHAT, "run_query",
             {"query": name, "start": start.isoformat(), "end": end.isoformat(), "target": target}, now=now)
        for name in entry.queries
    ]


def reminder(incident: Incident, *, playbook: Playbook, now: datetime, round_: int) -> list[OutboxMessage]:
    """Nudge responders if the incident is not acknowledged within its severity's response time (CRITICAL 5 min,
    HIGH 1 h); nothing for MEDIUM and LOW."""
    wait = playbook.response_time(Severity(incident.severity))
    if wait is None:
        return []
    return [step(incident, REMINDER, "ack_reminder", {"round": round_}, now=now, run_after=now + wait)]


def topic(incident: Incident) -> str:
    """The channel topic: severity, alarm, status (≤ 250 characters)."""
    return f"{incident.severity} · {incident.alarm_name} · {incident.status.upper()} · incident #{incident.id}"[:250]


def purpose(incident: Incident) -> str:
    """The channel purpose."""
    return f"Incident #{incident.id}: {incident.title} ({incident.severity}). Managed by incident-bot."[:250]


def _target(incident: Incident) -> str:
    return INCIDENT_CHANNEL if incident.channel_name else ALERTS_CHANNEL


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
