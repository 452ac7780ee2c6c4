"""Chat executors: channel, invitations, posts, topic, purpose, bookmarks. They perform what the payload says.

Idempotency: whenever a step may have run before (`StepRun.retried`: an attempt recorded, or a claim whose
outcome never was), it looks before it acts. Channel creation saves each name before asking for it and adopts a
channel it asked for before and lost the answer to (unless another incident owns it); posts carry the key
`incident-bot:<step id>` in Slack's message metadata and a retried post first looks it up; a retried bookmark
first lists the channel's bookmarks. Invitations, topic and purpose are idempotent as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import structlog

from bot.alarms.models import alarm_from_body
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.incidents import messages, repository
from bot.incidents.playbook import Playbook
from bot.incidents.ports import ChatOps, Directory, Message, NameTaken
from bot.incidents.postmortem import postmortem_context
from bot.incidents.steps import (
    Bookmark,
    CreateChannel,
    Invite,
    Post,
    PostAlert,
    PostPostmortem,
    PostRunbook,
    SetPurpose,
    SetTopic,
    Target,
)
from bot.outbox.execution import Done, StepRun
from bot.runbooks.mrkdwn import to_mrkdwn
from bot.store import Database

log = structlog.get_logger("incident_bot.outbox")
_USER = re.compile(r"<?@?[UW][A-Z0-9]{2,}>?")


class ChatSteps:
    """Executors of the chat lane, and the posting helpers the query and reminder executors share."""

    def __init__(self, db: Database, *, playbook: Playbook, chat: ChatOps, record_only: bool,
                 directory: Directory | None = None) -> None:
        self.db, self.playbook, self.chat, self.record_only = db, playbook, chat, record_only
        self.directory = directory

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
        """Invite everyone the entries resolve to; unknown entries are recorded, not fatal."""
        channel_id = self._channel_id(run, "invite into")
        resolved: list[str] = []
        unknown: list[str] = []
        for user in payload.users:
            members = await self.members(user)
            resolved.extend(m for m in members if m not in resolved)
            if not members:
                unknown.append(user)
        if resolved:
            await self.chat.invite(channel_id, resolved)
        summary = f"Invited {', '.join(resolved)}" if resolved else "No responders configured to invite"
        if unknown:
            summary += f"; unknown: {', '.join(unknown)}"
        return Done("action", summary, {"invited": resolved, "unknown": unknown})

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

    async def post_runbook(self, payload: PostRunbook, run: StepRun) -> Done:
        """Render the runbook now (it names the real channel) and post it."""
        message = messages.runbook_message(run.incident.title, self._runbook(run))
        channel = await self.post_message(run, payload.target, message)
        return self.posted("runbook posted", channel, message)

    async def post_postmortem(self, payload: PostPostmortem, run: StepRun) -> Done:
        """Render the post-incident template from the timeline (once; kept for retries) and post it."""
        incident = run.incident
        cached = run.state.get("text")
        if cached is None:
            entries = await self.db.run(lambda session: repository.timeline(session, incident.id))
            cached = to_mrkdwn(self.playbook.runbooks.render_postmortem(postmortem_context(incident, entries)))
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
        return self.playbook.policy.alerts_channel

    def posted(self, note: str, channel: str, message: Message) -> Done:
        """The timeline record of a post (the message itself in `data`)."""
        prefix = "Would post" if self.record_only else "Posted"
        return Done("message", f"{note} ({prefix.lower()} in {channel})",
                    {"channel": channel, "text": message.text, "blocks": list(message.blocks),
                     "record_only": self.record_only})

    async def user_ids(self, users: Sequence[str]) -> list[str]:
        """Slack user ids for responders: ids as they are, emails looked up, group handles expanded."""
        ids: list[str] = []
        for user in users:
            ids.extend(m for m in await self.members(user) if m not in ids)
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

    def _runbook(self, run: StepRun) -> str:
        """The incident's runbook for its latest alarm, as Slack mrkdwn."""
        incident = run.incident
        event = alarm_from_body(incident.alarm)
        context = self.playbook.context(event, incident_id=incident.id, channel=incident.channel_name)
        return to_mrkdwn(self.playbook.runbook(event, context))

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
