"""Chat executors: channel, invitations, posts, topic, purpose, bookmarks. They perform what the payload says.

Idempotency: whenever a step may have run before (`StepRun.retried`: an attempt recorded, or a claim whose
outcome never was), it looks before it acts. Channel creation saves each name before asking for it and adopts a
channel it asked for before and lost the answer to (unless another incident owns it); posts carry the key
`incident-bot:<step id>` in Slack's message metadata and a retried post first looks it up; a retried bookmark
first lists the channel's bookmarks. Invitations, topic and purpose are idempotent as they are.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import structlog
from sqlalchemy.orm import Session

from bot.alarms.models import AlarmEvent, alarm_from_body
from bot.clock import Clock, wall_clock
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.incidents import living, messages, repository, review
from bot.incidents.models import Incident, Storm
from bot.incidents.playbook import Playbook
from bot.incidents.ports import ChatOps, Directory, Message, NameTaken
from bot.incidents.postmortem import postmortem_context
from bot.incidents.steps import (
    Bookmark,
    CreateChannel,
    Invite,
    Post,
    PostAlert,
    PostLiving,
    PostPostmortem,
    PostRunbook,
    RefreshMessages,
    ReopenClosed,
    Role,
    SetPurpose,
    SetTopic,
    StormDigest,
    Target,
)
from bot.outbox.execution import Done, StepRun
from bot.runbooks.mrkdwn import to_mrkdwn
from bot.runbooks.sections import first_steps
from bot.store import Database

log = structlog.get_logger("incident_bot.outbox")
_USER = re.compile(r"<?@?[UW][A-Z0-9]{2,}>?")


class ChatSteps:
    """Executors of the chat lane, and the posting helpers the query and reminder executors share."""

    def __init__(self, db: Database, *, playbook: Playbook, chat: ChatOps, record_only: bool,
                 directory: Directory | None = None, clock: Clock = wall_clock) -> None:
        self.db, self.playbook, self.chat, self.record_only = db, playbook, chat, record_only
        self.directory, self.clock = directory, clock
        # Digest steps of one storm run one at a time in this process: each renders what the last one missed.
        self._storm_locks: dict[int, asyncio.Lock] = {}

    async def create_channel(self, payload: CreateChannel, run: StepRun) -> Done:
        """Create (or adopt) the incident channel, suffixing the name while it is taken."""
        incident = run.incident
        if incident.channel_id:
            return Done("channel", f"Channel #{incident.channel_name} already exists")
        tried: list[str] = list(run.state.get("tried", []))
        for n in range(1, 100):
            name = payload.name if n == 1 else f"{payload.name}-{n}"
            if name in tried:
                # We asked for this name before and lost the answer: if it exists and nobody else owns it, it is ours.
                found = await self.chat.find_channel(name)
                if found is not None:
                    if await self._owned_by_other(found.id, incident.id):
                        continue
                    return self._channel_done(found.id, found.name, adopted=True)
            else:
                tried.append(name)
                await run.save_state(tried=tried)
            try:
                channel = await self.chat.create_channel(name)
            except NameTaken:
                continue
            return self._channel_done(channel.id, channel.name, adopted=False)
        raise PermanentDeliveryError(f"no free channel name for {payload.name}")

    async def invite(self, payload: Invite, run: StepRun) -> Done:
        """Invite everyone the entries resolve to. An unknown entry, a lookup Slack refuses (`missing_scope`…)
        or a per-user refusal (`already_in_channel`…) is recorded on the timeline and never blocks the others."""
        channel_id = self._channel_id(run, "invite into")
        resolved: list[str] = []
        unknown: list[str] = []
        problems: dict[str, str] = {}
        for user in payload.users:
            try:
                members = await self.members(user)
            except PermanentDeliveryError as exc:
                problems[user] = str(exc)
                continue
            resolved.extend(m for m in members if m not in resolved)
            if not members:
                unknown.append(user)
        refused = dict(await self.chat.invite(channel_id, resolved)) if resolved else {}
        invited = [user for user in resolved if user not in refused]
        summary = f"Invited {', '.join(invited)}" if invited else (
            "Nobody new to invite" if resolved else "No responders configured to invite")
        if unknown:
            summary += f"; unknown: {', '.join(unknown)}"
        if problems:
            summary += "; could not look up: " + ", ".join(f"{who} ({why})" for who, why in problems.items())
        if refused:
            summary += "; not invited: " + ", ".join(f"{who} ({why})" for who, why in refused.items())
        return Done("action", summary, {"invited": invited, "unknown": unknown, "lookup_failed": problems,
                                        "refused": refused})

    async def post(self, payload: Post, run: StepRun) -> Done:
        """Post the planned message, mentions in front."""
        message = Message(text=payload.text, blocks=payload.blocks)
        message = messages.with_mentions(message, await self.user_ids(payload.mention))
        channel = await self.post_message(run, payload.target, message)
        return self.posted(payload.note, channel, message)

    async def post_alert(self, payload: PostAlert, run: StepRun) -> Done:
        """Render the alert for the incident's latest alarm (with the runbook when asked) and post it in alerts."""
        incident = run.incident
        runbook = self._runbook(run) if payload.include_runbook else None
        message = messages.alert(incident, alarm_from_body(incident.alarm), runbook=runbook)
        message = messages.with_mentions(message, await self.user_ids(payload.mention))
        channel = await self.post_message(run, Target.ALERTS, message)
        return self.posted(f"{incident.severity} alert posted", channel, message)

    async def post_living(self, payload: PostLiving, run: StepRun) -> Done:
        """Render the message `role` as the incident is now, post it, and keep its ts so it can follow."""
        incident = run.incident
        alarms, graph_file = await self._living_parts(incident)
        message = living.render(payload.role, incident, playbook=self.playbook, now=self.clock(), alarms=alarms,
                                graph_file=graph_file)
        message = messages.with_mentions(message, await self.user_ids(payload.mention))
        target = Target.INCIDENT if payload.role is Role.SUMMARY else Target.ALERTS
        channel = self.channel_for(run, target)
        key = f"incident-bot:{run.id}"
        ts = await self.chat.find_post(channel, key=key) if run.retried else None
        if ts is None:
            ts = await self.chat.post(channel, message, key=key)
        await self.db.run(lambda session: repository.keep_message(
            session, incident_id=incident.id, role=payload.role, channel=channel, ts=ts, at=self.clock()))
        return self.posted(f"{payload.role} posted", channel, message)

    async def refresh_messages(self, payload: RefreshMessages, run: StepRun) -> Done:
        """Update in place every message that follows the incident; one that cannot be updated (deleted,
        archived channel) is recorded and does not stop the others."""
        incident = run.incident
        kept = await self.db.run(lambda session: list(repository.living_messages(session, incident.id)))
        alarms, graph_file = await self._living_parts(incident)
        updated: list[dict[str, str]] = []
        failed: dict[str, str] = {}
        for found in kept:
            message = living.render(Role(found.role), incident, playbook=self.playbook, now=self.clock(),
                                    alarms=alarms, graph_file=graph_file)
            try:
                await self.chat.update(found.channel, found.ts, message)
            except PermanentDeliveryError as exc:
                failed[f"{found.role}@{found.channel}"] = str(exc)
                continue
            updated.append({"role": found.role, "channel": found.channel, "ts": found.ts})
        why = f" ({payload.reason})" if payload.reason else ""
        summary = f"Updated {len(updated)} message{'s' if len(updated) != 1 else ''} in place{why}"
        if failed:
            summary += "; could not update " + ", ".join(f"{k}: {v}" for k, v in failed.items())
        return Done("action", summary, {"updated": updated, "failed": failed, "record_only": self.record_only})

    async def _living_parts(self, incident: Incident) -> tuple[list[tuple[str, str]], str | None]:
        """What the messages that follow the incident show besides the incident row: its alarms, its graph."""
        return await self.db.run(lambda session: (repository.alarm_states(session, incident),
                                                  repository.graph_file(session, incident.id)))

    async def reopen_closed(self, payload: ReopenClosed, run: StepRun) -> Done:
        """The reopen window closed: the same update, so Reopen disappears from the messages."""
        return await self.refresh_messages(RefreshMessages(reason="reopen window closed"), run)

    async def post_runbook(self, payload: PostRunbook, run: StepRun) -> Done:
        """Render the runbook now (it names the real channel) and post it: the incident's, or that of the
        correlated alarm in the payload (its first steps only, when asked)."""
        event = alarm_from_body(payload.alarm) if payload.alarm else None
        text = self._runbook(run, event, first_only=payload.first_steps)
        entry = self.playbook.entry_for(event.alarm_name) if event else None
        title = (entry.title if entry else event.alarm_name) if event else run.incident.title
        message = messages.runbook_message(title, text)
        channel = await self.post_message(run, payload.target, message)
        return self.posted(f"runbook of {event.alarm_name} posted" if event else "runbook posted", channel, message)

    async def storm_digest(self, payload: StormDigest, run: StepRun) -> Done:
        """Post the storm's digest (the `first` step) or update it in place with every incident so far."""
        lock = self._storm_locks.setdefault(payload.storm_id, asyncio.Lock())
        async with lock:
            view = await self.db.run(lambda session: _storm_view(session, payload.storm_id))
            if view is None:
                raise PermanentDeliveryError(f"no storm #{payload.storm_id}")
            storm, incidents = view
            channel = storm.channel or self.playbook.policy.alerts_channel
            message = messages.storm_digest(incidents)
            ts = storm.ts
            if ts is None and not payload.first:
                raise TransientDeliveryError("storm digest not posted yet", retry_after=1.0)
            if ts is None:
                key = f"incident-bot:storm:{storm.id}"
                ts = await self.chat.find_post(channel, key=key) if run.retried else None
                if ts is None:
                    ts = await self.chat.post(channel, message, key=key)
                    verb = "posted"
                else:
                    await self.chat.update(channel, ts, message)
                    verb = "updated"
            elif storm.rendered >= storm.revision and not run.incident.channel_id:
                # Shown already; an incident with a channel still updates, its channel may be new since.
                return Done("message", f"storm digest already shows {len(incidents)} incidents",
                            {"storm_id": storm.id})
            else:
                await self.chat.update(channel, ts, message)
                verb = "updated"
            revision = storm.revision
            await self.db.run(lambda session: _storm_shown(session, payload.storm_id, ts=ts, revision=revision))
        done = self.posted(f"storm digest {verb}", channel, message)
        done.data.update({"storm_id": storm.id, "ts": ts})
        return done

    async def post_postmortem(self, payload: PostPostmortem, run: StepRun) -> Done:
        """Render the post-incident template from the timeline (once; kept for retries) and post it."""
        incident = run.incident
        cached = run.state.get("text")
        if cached is None:
            entries, written = await self.db.run(lambda session: (repository.timeline(session, incident.id),
                                                                  review.get_review(session, incident.id)))
            cached = to_mrkdwn(self.playbook.runbooks.render_postmortem(
                postmortem_context(incident, entries, written)))
            await run.save_state(text=cached)
        message = messages.postmortem_message(incident, cached)
        channel = await self.post_message(run, payload.target, message)
        return self.posted("post-incident template posted", channel, message)

    async def set_topic(self, payload: SetTopic, run: StepRun) -> Done:
        """Set the channel topic."""
        await self.chat.set_topic(self._channel_id(run, "set the topic of"), payload.topic)
        return Done("action", f"Topic set: {payload.topic}", {"topic": payload.topic})

    async def set_purpose(self, payload: SetPurpose, run: StepRun) -> Done:
        """Set the channel purpose."""
        await self.chat.set_purpose(self._channel_id(run, "set the purpose of"), payload.purpose)
        return Done("action", f"Purpose set: {payload.purpose}")

    async def bookmark(self, payload: Bookmark, run: StepRun) -> Done:
        """Bookmark a link in the channel (once: a retry first looks for it)."""
        channel_id = self._channel_id(run, "bookmark in")
        if run.retried and await self.chat.find_bookmark(channel_id, payload.title, payload.link):
            return Done("action", f"Bookmarked {payload.title}: {payload.link} (found from an earlier attempt)")
        await self.chat.add_bookmark(channel_id, payload.title, payload.link)
        return Done("action", f"Bookmarked {payload.title}: {payload.link}")

    # -- shared by the query and reminder executors ----------------------------------------------------------

    async def post_message(self, run: StepRun, target: Target, message: Message, *, key_suffix: str = "") -> str:
        """Post once per step (and suffix): a retried post first looks for the earlier attempt; returns the channel."""
        channel = self.channel_for(run, target)
        key = f"incident-bot:{run.id}{key_suffix}"
        if run.retried and await self.chat.find_post(channel, key=key):
            return channel  # an earlier attempt got through even though we never saw the answer
        await self.chat.post(channel, message, key=key)
        return channel

    def channel_for(self, run: StepRun, target: Target) -> str:
        """The incident channel for INCIDENT once it exists, else the alerts channel."""
        if target is Target.INCIDENT and run.incident.channel_id:
            return run.incident.channel_id
        if target is Target.TEAM:
            return self.playbook.policy.incidents_channel
        return self.playbook.policy.alerts_channel

    def posted(self, note: str, channel: str, message: Message) -> Done:
        """The timeline record of a post (the message itself in `data`)."""
        prefix = "Would post" if self.record_only else "Posted"
        return Done("message", f"{note} ({prefix.lower()} in {channel})",
                    {"channel": channel, "text": message.text, "blocks": list(message.blocks),
                     "record_only": self.record_only})

    async def user_ids(self, users: Sequence[str]) -> list[str]:
        """Slack user ids for responders: ids as they are, emails looked up, group handles expanded; an entry
        Slack refuses to resolve is left out, not fatal."""
        ids: list[str] = []
        for user in users:
            try:
                members = await self.members(user)
            except PermanentDeliveryError as exc:
                # A mention Slack will not resolve (missing_scope…) is not worth losing the post for.
                log.warning("mention_lookup_refused", user=user, error=str(exc))
                continue
            ids.extend(m for m in members if m not in ids)
        return ids

    async def members(self, who: str) -> list[str]:
        """One responder entry as user ids: a user id or email is one person, `pagerduty:<user id>` the Slack
        user with that PagerDuty user's email, anything else a user group."""
        if who.startswith("pagerduty:"):
            try:
                email = await self.directory.email(who.removeprefix("pagerduty:")) if self.directory else None
            except (TransientDeliveryError, PermanentDeliveryError) as exc:
                # A mention or an invitation is not worth failing the post for: name them without the link.
                log.warning("pagerduty_user_lookup_failed", user=who, error=str(exc))
                email = None
            if not email:
                return []
            who = email
        if "@" in who.lstrip("@") or _USER.fullmatch(who.strip()):
            user_id = await self.chat.resolve_user(who)
            return [user_id] if user_id else []
        return await self.chat.group_members(who) or []

    def _runbook(self, run: StepRun, event: AlarmEvent | None = None, *, first_only: bool = False) -> str:
        """The runbook of `event` (default: the incident's latest alarm) as Slack mrkdwn; only its first steps
        when `first_only`."""
        incident = run.incident
        event = event or alarm_from_body(incident.alarm)
        context = self.playbook.context(event, incident_id=incident.id, channel=incident.channel_name)
        markdown = self.playbook.runbook(event, context)
        return to_mrkdwn(first_steps(markdown) if first_only else markdown)

    def _channel_id(self, run: StepRun, doing: str) -> str:
        if not run.incident.channel_id:
            raise PermanentDeliveryError(f"no channel to {doing}")
        return run.incident.channel_id

    def _channel_done(self, channel_id: str, name: str, *, adopted: bool) -> Done:
        verb = "Recorded (record-only)" if self.record_only else ("Adopted" if adopted else "Created")
        return Done("channel", f"{verb} channel #{name}", {"channel_id": channel_id, "name": name},
                    incident_changes={"channel_id": channel_id, "channel_name": name})

    async def _owned_by_other(self, channel_id: str, incident_id: int) -> bool:
        owner = await self.db.run(lambda session: repository.by_channel(session, channel_id))
        return owner is not None and owner.id != incident_id


def _storm_view(session: Session, storm_id: int) -> tuple[Storm, list[Incident]] | None:
    storm = session.get(Storm, storm_id)
    return (storm, list(repository.storm_incidents(session, storm))) if storm else None


def _storm_shown(session: Session, storm_id: int, *, ts: str, revision: int) -> None:
    storm = session.get(Storm, storm_id)
    if storm is not None:
        storm.ts, storm.rendered = ts, max(storm.rendered, revision)
