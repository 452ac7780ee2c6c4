"""The response plan: which side effects each incident change queues in the outbox, in which order, and every
decision about them (what to post, where, whom to mention, when to remind).

Steps are typed payloads (`bot/incidents/steps.py`); each kind has a fixed lane: `chat` (channel, posts, queries,
graphs, updates of the messages that follow the incident), `pager` (PagerDuty), `reminder` (timed acknowledgement
nudges) and `timer` (updates due later: the reopen window closing), so a reminder waiting five minutes never
holds up a post and a slow Slack never holds up a page. Every change an incident's messages should show plans
`refresh(...)` (acknowledge, unacknowledge, reopen, resolve, a PagerDuty link, a correlated alarm joining).
Executors in `bot/outbox/` only perform what a payload says.
To add a side effect: a payload in `steps.py`, a step here, an executor in `bot/outbox/table.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.alarms.catalog import CatalogEntry
from bot.alarms.models import AlarmEvent, alarm_from_body
from bot.alarms.severity import Severity
from bot.incidents import messages
from bot.incidents.models import Incident, IncidentSource, OutboxMessage
from bot.incidents.playbook import Playbook
from bot.incidents.ports import Message
from bot.incidents.steps import (
    AckReminder,
    Bookmark,
    CreateChannel,
    Invite,
    Page,
    PageAction,
    Payload,
    Post,
    PostAlert,
    PostGraph,
    PostHealth,
    PostLiving,
    PostPostmortem,
    PostRunbook,
    RefreshMessages,
    ReopenClosed,
    Role,
    RunQuery,
    SetPurpose,
    SetTopic,
    StepStatus,
    StormDigest,
    Target,
)
from bot.presentation.mrkdwn import plain

PAGERDUTY = "pagerduty"  # a change that happened in PagerDuty (the `source` of service calls)
_SLUG = re.compile(r"[^a-z0-9_-]+")
GRAPH_LEAD = timedelta(hours=1)  # a graph shows the hour before the alarm window too


@dataclass(frozen=True, slots=True)
class StormPart:
    """A newly opened incident is part of storm `storm_id`; `first`: it started the storm (its step posts the
    digest, the others update it)."""

    storm_id: int
    first: bool


def channel_name(*, day: datetime, alarm_name: str, entry: CatalogEntry | None, prefix: str = "",
                 region: str = "") -> str:
    """`inc-YYYYMMDD-<alarm-slug>[-<region>]`: lowercase, `[a-z0-9_-]`, short enough to take a `-NN` suffix within
    80. `region` (given for alarms outside the default region) keeps one alarm's incidents in several regions apart."""
    base = entry.key if entry else alarm_name.removeprefix(prefix)
    kebab = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", base).lower()
    slug = _SLUG.sub("-", kebab).strip("-_") or "alarm"
    slug = re.sub(r"-{2,}", "-", slug)
    where = _SLUG.sub("-", region.lower()).strip("-_")
    name = f"inc-{day:%Y%m%d}-{slug}"[: 76 - (len(where) + 1 if where else 0)].rstrip("-_")
    return f"{name}-{where}" if where else name


def dedup_key(incident: Incident) -> str:
    """The PagerDuty dedup key: derived from our incident id so retries and reopens hit the same page."""
    return f"incident-bot/{incident.id}"


def incident_id_from_dedup_key(key: str) -> int | None:
    """The incident id in a dedup key made by `dedup_key`, or None for a key the bot did not make."""
    number = key.removeprefix("incident-bot/")
    return int(number) if number != key and number.isdigit() and len(number) < 18 else None


def step(incident: Incident, payload: Payload, *, now: datetime, run_after: datetime | None = None) -> OutboxMessage:
    """One outbox row for `incident`, in its payload kind's lane."""
    return OutboxMessage(
        incident_id=incident.id, lane=payload.lane, kind=payload.kind, payload=payload.to_json(), state={},
        status=StepStatus.PENDING, attempts=0, run_after=run_after or now, created_at=now,
    )


def post(incident: Incident, target: Target, message: Message, *, now: datetime, note: str,
         mention: Sequence[str] = ()) -> OutboxMessage:
    """A chat post step; `note` is how the post appears on the timeline; `mention` (Slack ids, emails,
    `pagerduty:<user id>`) is resolved to Slack users when it is posted."""
    payload = Post(target=target, text=message.text, blocks=[dict(b) for b in message.blocks], note=note,
                   mention=list(mention))
    return step(incident, payload, now=now)


def page(incident: Incident, action: PageAction, *, now: datetime, event: AlarmEvent | None = None,
         links: Sequence[Mapping[str, str]] = (), link_channel: bool = False, graph_url: str = "") -> OutboxMessage:
    """A PagerDuty event step (trigger / acknowledge / resolve); the summary is plain text, not mrkdwn; a trigger
    carries the alarm's StateChangeTime as its timestamp and the metric graph (`graph_url`) as an image."""
    if action is not PageAction.TRIGGER or event is None:
        return step(incident, Page(action=action, dedup_key=dedup_key(incident)), now=now)
    details: dict[str, Any] = {
        "alarm": event.alarm_name, "metric": event.subject_metric, "threshold": event.threshold,
        "value": event.observed_value, "reason": event.reason, "incident_id": incident.id,
    }
    payload = Page(
        action=action, dedup_key=dedup_key(incident),
        summary=plain(f"[{incident.severity}] {incident.title}: {messages.what_crossed_plain(event)}")[:1024],
        severity="critical" if incident.severity == Severity.CRITICAL else "error",
        source=event.alarm_arn, component=event.alarm_name, custom_details=details,
        links=[dict(link) for link in links if link.get("href")], link_channel=link_channel,
        images=[{"src": graph_url, "href": graph_url, "alt": plain(f"{event.subject_metric} around the alarm")}]
        if graph_url else [],
        timestamp=event.state_change_time.isoformat(),
    )
    return step(incident, payload, now=now)


def on_open(incident: Incident, event: AlarmEvent, *, playbook: Playbook, now: datetime,
            storm: StormPart | None = None) -> list[OutboxMessage]:
    """Steps for a newly opened incident, shaped by its severity; during a storm the alerts channel gets the
    storm digest instead of this incident's own announcement or alert."""
    severity = Severity(incident.severity)
    policy = playbook.policy
    if not severity.opens_channel:
        high = severity is Severity.HIGH
        mention = _unique(policy.responders.get(severity, ())) if high else []
        # HIGH alerts carry their runbook's first steps and follow the incident (nobody opens a channel for them);
        # during a storm the digest stands for them.
        if storm:
            alert = step(incident, StormDigest(storm_id=storm.storm_id, first=storm.first), now=now)
        elif high:
            alert = step(incident, PostLiving(role=Role.ALERT, mention=mention), now=now)
        else:
            alert = step(incident, PostAlert(), now=now)
        return [alert, *reminders(incident, playbook=playbook, now=now)]
    return channel_response(incident, event, playbook=playbook, now=now, storm=storm)


def channel_response(incident: Incident, event: AlarmEvent, *, playbook: Playbook, now: datetime,
                     storm: StormPart | None = None) -> list[OutboxMessage]:
    """A CRITICAL incident's own channel, page, announcement, responders, summary, runbook, links and queries
    (when it opens, or when a correlated CRITICAL alarm raises it to CRITICAL)."""
    entry = playbook.entry_for(event.alarm_name)
    severity = Severity(incident.severity)
    policy = playbook.policy
    responders = [*policy.responders.get(severity, ()), *(entry.invite if entry else ())]
    links = playbook.context(event, incident_id=incident.id, channel=incident.channel_name)["links"]

    console = {"Alarm": links.get("alarm", ""), "Dashboard": links.get("dashboard", ""),
               "Runbook": links.get("runbook", "")}
    announce = (step(incident, StormDigest(storm_id=storm.storm_id, first=storm.first), now=now) if storm else
                step(incident, PostLiving(role=Role.ANNOUNCEMENT), now=now))
    plan = [
        step(incident, CreateChannel(name=incident.channel_name or ""), now=now),
        page(incident, PageAction.TRIGGER, now=now, event=event, link_channel=True,
             links=[{"href": links.get("alarm", ""), "text": "CloudWatch alarm"}],
             graph_url=graph_url(incident, event, playbook=playbook)),
        announce,
        step(incident, Invite(users=_unique(responders)), now=now),
        step(incident, PostLiving(role=Role.SUMMARY), now=now),
        *graph(incident, event, now=now),
        step(incident, PostHealth(), now=now),
        # Rendered by the relay when it posts: intake stays cheap, and the runbook can name the real channel.
        step(incident, PostRunbook(target=Target.INCIDENT), now=now),
        step(incident, SetTopic(topic=topic(incident)), now=now),
        step(incident, SetPurpose(purpose=purpose(incident)), now=now),
    ]
    plan += [step(incident, Bookmark(title=title, link=link), now=now) for title, link in console.items() if link]
    plan += queries(incident, event, entry, now=now, target=Target.INCIDENT)
    plan += reminders(incident, playbook=playbook, now=now)
    return plan


def on_join(incident: Incident, event: AlarmEvent, body: Mapping[str, Any], *, playbook: Playbook, now: datetime,
            relation: str, headline: bool, escalated: bool, new_channel: bool,
            reopened: bool) -> list[OutboxMessage]:
    """A correlated alarm joined the incident: say so where the incident lives, with the alarm's first runbook
    steps and its queries; a HIGH incident raised to CRITICAL gets its channel and page now."""
    if new_channel:
        return channel_response(incident, event, playbook=playbook, now=now)
    entry = playbook.entry_for(event.alarm_name)
    target = Target.INCIDENT if incident.channel_name else Target.ALERTS
    plan = [
        post(incident, target, messages.joined(incident, event, relation=relation, headline=headline,
                                                escalated=escalated, reopened=reopened),
             now=now, note="correlated alarm posted"),
        step(incident, PostRunbook(target=target, alarm=dict(body), first_steps=True), now=now),
    ]
    plan += queries(incident, event, entry, now=now, target=target)
    if incident.channel_name and (headline or escalated or reopened):
        plan.append(step(incident, SetTopic(topic=topic(incident)), now=now))
    severity = Severity(incident.severity)
    if reopened and severity.pages:
        plan.insert(0, page(incident, PageAction.TRIGGER, now=now, event=event))
    if reopened or escalated:
        plan += reminders(incident, playbook=playbook, now=now)
    plan.append(refresh(incident, now=now, reason="correlated alarm"))
    return plan


def on_reopen(incident: Incident, event: AlarmEvent, *, playbook: Playbook, now: datetime) -> list[OutboxMessage]:
    """Flapping: the same incident again, in the same channel, paged again."""
    severity = Severity(incident.severity)
    if not severity.opens_channel:
        return [post(incident, Target.ALERTS, messages.reopened(incident, event), now=now, note="reopened"),
                refresh(incident, now=now, reason="reopened")]
    return [
        page(incident, PageAction.TRIGGER, now=now, event=event),
        post(incident, Target.INCIDENT, messages.reopened(incident, event), now=now, note="reopen posted"),
        refresh(incident, now=now, reason="reopened"),
        step(incident, SetTopic(topic=topic(incident)), now=now),
        *reminders(incident, playbook=playbook, now=now),
    ]


def on_manual_reopen(incident: Incident, *, by: str | None, playbook: Playbook, now: datetime,
                     ) -> list[OutboxMessage]:
    """A person reopened a resolved incident: page again (when it pages), say so, update the messages, remind."""
    plan = [post(incident, _target(incident), messages.reopened_by(incident, by=by), now=now, note="reopen posted"),
            refresh(incident, now=now, reason="reopened")]
    if Severity(incident.severity).pages and incident.source == IncidentSource.ALARM and incident.alarm:
        plan.insert(0, page(incident, PageAction.TRIGGER, now=now, event=alarm_from_body(incident.alarm)))
    if incident.channel_name:
        plan.append(step(incident, SetTopic(topic=topic(incident)), now=now))
    return plan + reminders(incident, playbook=playbook, now=now)


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
        if Severity(incident.severity).pages and incident.source == IncidentSource.ALARM:
            plan.insert(0, page(incident, PageAction.ACKNOWLEDGE, now=now))
    plan.append(refresh(incident, now=now, reason="acknowledged"))
    if incident.channel_name:
        plan.append(step(incident, SetTopic(topic=topic(incident)), now=now))
    return plan


def on_unacknowledge(incident: Incident, *, by: str | None, playbook: Playbook, now: datetime,
                     source: str | None = None, remind: bool = True) -> list[OutboxMessage]:
    """Nobody holds it any more: say so and start the reminders again (`remind` False: some are still queued)."""
    where = "PagerDuty" if source == PAGERDUTY else None
    plan = [post(incident, _target(incident), messages.unacknowledged(incident, by=by, where=where), now=now,
                 note="unacknowledgement posted"), refresh(incident, now=now, reason="unacknowledged")]
    if incident.channel_name:
        plan.append(step(incident, SetTopic(topic=topic(incident)), now=now))
    if remind:
        plan += reminders(incident, playbook=playbook, now=now)
    return plan


def on_resolve(incident: Incident, *, by: str | None, now: datetime, source: str | None = None,
               reopen_window: timedelta | None = None) -> list[OutboxMessage]:
    """Alarm cleared or resolved by hand (or in PagerDuty): resolve the page unless PagerDuty did, say so, update
    the messages that follow it (and again when the `reopen_window` closes, to drop Reopen), post the filled
    post-incident template."""
    minutes = ((incident.resolved_at or now) - incident.opened_at).total_seconds() / 60
    has_channel = bool(incident.channel_name)
    target = _target(incident)
    where = "PagerDuty" if source == PAGERDUTY else None
    # Resolved by a person while CloudWatch still says ALARM: its coming OK will only be noted on the timeline.
    still_alarm = incident.source == IncidentSource.ALARM and incident.alarm.get("NewStateValue") == "ALARM"
    message = messages.resolved(incident, minutes=minutes, by=by, where=where,
                                alarm_still_firing=incident.alarm_name if still_alarm else None)
    plan = [post(incident, target, message, now=now, note="resolution posted"),
            refresh(incident, now=now, reason="resolved")]
    if reopen_window is not None:
        closes = (incident.resolved_at or now) + reopen_window + timedelta(seconds=1)
        plan.append(step(incident, ReopenClosed(), now=now, run_after=max(closes, now)))
    if Severity(incident.severity).pages and incident.source == IncidentSource.ALARM and source != PAGERDUTY:
        plan.insert(0, page(incident, PageAction.RESOLVE, now=now))
    if has_channel:
        plan.append(step(incident, SetTopic(topic=topic(incident)), now=now))
        plan.append(step(incident, PostPostmortem(target=target), now=now))
    return plan


def on_event(incident: Incident, *, line: str, invite: Sequence[str], now: datetime) -> list[OutboxMessage]:
    """Something happened elsewhere: one line in the incident's channel, and people to bring in."""
    plan = [post(incident, _target(incident), messages.line(line), now=now, note="posted")]
    if invite and incident.channel_name:
        plan.append(step(incident, Invite(users=_unique(invite)), now=now))
    return plan


def on_pagerduty_link(incident: Incident, *, url: str, label: str, now: datetime) -> list[OutboxMessage]:
    """The PagerDuty incident is known: bookmark it in the channel and post the link."""
    plan = [post(incident, _target(incident), messages.pagerduty_link(incident, url=url, label=label), now=now,
                 note="PagerDuty link posted"), refresh(incident, now=now, reason="PagerDuty link")]
    if incident.channel_name:
        plan.append(step(incident, Bookmark(title="PagerDuty", link=url), now=now))
    return plan


def on_declare(incident: Incident, *, by: str | None, responders: Sequence[str], now: datetime) -> list[OutboxMessage]:
    """A person declared an incident: a channel, the declarer and responders invited, no page."""
    return [
        step(incident, CreateChannel(name=incident.channel_name or ""), now=now),
        step(incident, Invite(users=_unique([*([by] if by else []), *responders])), now=now),
        step(incident, PostLiving(role=Role.SUMMARY), now=now),
        post(incident, Target.INCIDENT, messages.declared(incident, by=by), now=now, note="declaration posted"),
        step(incident, SetTopic(topic=topic(incident)), now=now),
        step(incident, SetPurpose(purpose=purpose(incident)), now=now),
    ]


def refresh(incident: Incident, *, now: datetime, reason: str, run_after: datetime | None = None) -> OutboxMessage:
    """Update in place every message that follows the incident (also the hook for a correlated alarm joining)."""
    return step(incident, RefreshMessages(reason=reason), now=now, run_after=run_after)


def on_review(incident: Incident, message: Message, *, now: datetime) -> list[OutboxMessage]:
    """A post-incident review was written: its one-paragraph summary goes to the team's incidents channel."""
    return [post(incident, Target.TEAM, message, now=now, note="post-incident review summary posted")]


def graph(incident: Incident, event: AlarmEvent, *, now: datetime) -> list[OutboxMessage]:
    """The alarm metric over the alarm window and the hour before it, ALARM shaded (metric alarms only)."""
    if not event.metric_name:
        return []
    alarm_start = event.state_change_time - event.evaluation_window
    end = event.state_change_time + timedelta(seconds=event.period or 60)
    return [step(incident, PostGraph(start=(alarm_start - GRAPH_LEAD).isoformat(), end=end.isoformat(),
                                     alarm_start=alarm_start.isoformat()), now=now),
            refresh(incident, now=now, reason="graph shared")]  # the summary shows the graph once it is shared


def graph_url(incident: Incident, event: AlarmEvent, *, playbook: Playbook) -> str:
    """Where the incident's graph is served (PagerDuty shows it), or "" when there is no metric to draw."""
    if not event.metric_name:
        return ""
    return f"{playbook.policy.public_url.rstrip('/')}/api/incidents/{incident.id}/graph.png"


def queries(incident: Incident, event: AlarmEvent, entry: CatalogEntry | None, *, now: datetime,
            target: Target) -> list[OutboxMessage]:
    """Run the runbook's queries over the alarm's window (with a little slack before it) and post the answers."""
    if entry is None:
        return []
    end = event.state_change_time
    start = end - event.query_span
    return [
        step(incident, RunQuery(query=name, start=start.isoformat(), end=end.isoformat(), target=target), now=now)
        for name in entry.queries
    ]


def reminders(incident: Incident, *, playbook: Playbook, now: datetime) -> list[OutboxMessage]:
    """Nudge responders while the incident is not acknowledged: `ack_reminders` rounds, one response time apart
    (CRITICAL 5 min, HIGH 1 h), in the incident channel and the alerts channel; nothing for MEDIUM and LOW."""
    severity = Severity(incident.severity)
    wait = playbook.response_time(severity)
    if wait is None:
        return []
    policy = playbook.policy
    targets = [Target.INCIDENT, Target.ALERTS] if incident.channel_name else [Target.ALERTS]
    return [
        step(incident, AckReminder(round=n, reopen_count=incident.reopen_count,
                                   mention=_unique(policy.responders.get(severity, ())),
                                   target_time=duration_text(wait), targets=targets),
             now=now, run_after=now + wait * n)
        for n in range(1, policy.ack_reminders + 1)
    ]


def duration_text(wait: timedelta) -> str:
    """`1 h`, `5 min`: how a response time is said in a reminder."""
    hours = wait / timedelta(hours=1)
    return f"{hours:g} h" if hours >= 1 else f"{wait.total_seconds() / 60:.0f} min"


def topic(incident: Incident) -> str:
    """The channel topic, plain text: severity, alarm, status (≤ 250 characters)."""
    status = str(incident.status).upper()
    return plain(f"{incident.severity} · {incident.alarm_name} · {status} · incident #{incident.id}")[:250]


def purpose(incident: Incident) -> str:
    """The channel purpose, plain text."""
    return plain(f"Incident #{incident.id}: {incident.title} ({incident.severity}). Managed by incident-bot.")[:250]


def _target(incident: Incident) -> Target:
    return Target.INCIDENT if incident.channel_name else Target.ALERTS


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
