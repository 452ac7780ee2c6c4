"""The outbox relay: performs queued side effects (Slack, PagerDuty, queries) with retries, exactly once each.

Rows are claimed with a lease, so several replicas can run relays on one database. A vendor call never happens
inside a database transaction (SQLite would hold its write lock for the whole call): read, call, then record.
Transient failures back off exponentially (or as long as `Retry-After` says); permanent ones are recorded on the
timeline and the lane moves on. Every step is idempotent: channel creation adopts a channel it made before it lost
the answer, posts carry a key that is looked up before a retried post, pages use a dedup key.
To add a step kind: queue it in `bot/incidents/response.py`, add an `_execute_<kind>` method here.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from bot.alarms.models import alarm_from_body
from bot.alarms.severity import Severity
from bot.errors import BadInput, PermanentDeliveryError, QueryError, TransientDeliveryError
from bot.incidents import messages, repository, response
from bot.incidents.models import Incident, OutboxMessage, TimelineEntry, utcnow
from bot.incidents.playbook import Playbook
from bot.incidents.ports import ChatOps, Directory, LogSearch, Message, NameTaken, PageEvent, Pager
from bot.incidents.postmortem import postmortem_context
from bot.queries.catalog import QueryCatalog
from bot.queries.render import headline, result_message
from bot.runbooks.mrkdwn import to_mrkdwn
from bot.store import Database

log = structlog.get_logger("incident_bot.outbox")

MAX_BACKOFF = 300.0
MAX_UNEXPECTED_ATTEMPTS = 8
LEASE = timedelta(seconds=120)
Recorder = Callable[[Session], None]


@dataclass(slots=True)
class Done:
    """A finished step: what goes on the timeline, and changes to the incident row."""

    kind: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    incident_changes: dict[str, Any] = field(default_factory=dict)
    follow_up: list[OutboxMessage] = field(default_factory=list)


class Relay:
    """Delivers outbox rows; `run` loops until stopped, `drain` empties what is due (tests, demo, CLI)."""

    def __init__(
        self,
        db: Database,
        *,
        playbook: Playbook,
        chat: ChatOps,
        pager: Pager,
        logs: LogSearch,
        queries: QueryCatalog,
        record_only: bool = False,
        batch: int = 16,
        poll_interval: float = 0.5,
        on_step: Callable[[OutboxMessage, str], None] | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.db, self.playbook, self.queries = db, playbook, queries
        self.chat, self.pager, self.logs = chat, pager, logs
        self.record_only = record_only
        self.batch, self.poll_interval = batch, poll_interval
        self.on_step = on_step
        self.directory = directory
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New rows were committed: look now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; survives any single failure."""
        while not stop.is_set():
            try:
                worked = await self.run_once()
            except Exception as exc:  # the relay must outlive a database hiccup
                log.error("outbox_poll_failed", error=f"{type(exc).__name__}: {exc}")
                worked = 0
            if worked:
                continue
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopper):
                task.cancel()

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Run due steps until none is left or `timeout` passes (steps scheduled for later are not waited for)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if not await self.run_once():
                return
        raise TimeoutError("outbox not drained in time")

    async def run_once(self) -> int:
        """Claim and perform one batch of due steps, lanes in parallel; returns how many ran."""
        def claim(session: Session) -> list[tuple[OutboxMessage, Incident]]:
            now = utcnow()
            due = repository.due_steps(session, now=now, limit=self.batch)
            claimed = [s for s in due if repository.claim_step(session, s.id, now=now, until=now + LEASE)]
            # Loaded with the claim: one database hand-off per batch, not one per step.
            pairs = [(s, session.get(Incident, s.incident_id)) for s in claimed if s.incident_id]
            return [(s, incident) for s, incident in pairs if incident is not None]

        claimed = await self.db.run(claim)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._perform(step, incident) for step, incident in claimed))

        def record(session: Session) -> None:
            for outcome in outcomes:
                outcome(session)

        # One transaction records the whole batch; a lane's next step is claimed only after it commits, and
        # `run` looks again at once after a batch that did work.
        await self.db.run(record)
        return len(claimed)

    async def _perform(self, step: OutboxMessage, incident: Incident) -> Recorder:
        """Perform one step; returns how to record its outcome (done, retry later, or given up)."""
        bound = log.bind(incident_id=incident.id, step=step.kind, step_id=step.id, attempt=step.attempts + 1)
        executor: Callable[[OutboxMessage, Incident], Awaitable[Done]] | None = getattr(
            self, f"_execute_{step.kind}", None
        )
        try:
            if executor is None:
                raise PermanentDeliveryError(f"unknown step kind {step.kind!r}")
            done = await executor(step, incident)
        except TransientDeliveryError as exc:
            bound.warning("outbox_step_retry", error=str(exc), retry_after=exc.retry_after)
            return self._retry(step, str(exc), exc.retry_after)
        except (PermanentDeliveryError, BadInput, QueryError) as exc:
            bound.error("outbox_step_failed", error=str(exc))
            return self._give_up(step, incident, str(exc))
        except Exception as exc:  # a bug or an unmapped vendor error: retry a few times, then record it
            reason = f"{type(exc).__name__}: {exc}"
            bound.error("outbox_step_error", error=reason)
            if step.attempts + 1 >= MAX_UNEXPECTED_ATTEMPTS:
                return self._give_up(step, incident, reason)
            return self._retry(step, reason, None)
        bound.info("outbox_step_done", summary=done.summary)
        if self.on_step:
            self.on_step(step, done.summary)
        return self._finish(step, incident, done)

    def _finish(self, step: OutboxMessage, incident: Incident, done: Done) -> Recorder:
        def record(session: Session) -> None:
            now = utcnow()
            row = session.get(OutboxMessage, step.id)
            if row is None:
                return
            row.status, row.done_at, row.locked_until, row.attempts = "done", now, None, row.attempts + 1
            session.add(TimelineEntry(incident_id=incident.id, at=now, kind=done.kind, summary=done.summary,
                                      data=done.data))
            if done.incident_changes:
                current = session.get(Incident, incident.id)
                for key, value in done.incident_changes.items():
                    setattr(current, key, value)
            session.add_all(done.follow_up)

        return record

    def _retry(self, step: OutboxMessage, error: str, retry_after: float | None) -> Recorder:
        def record(session: Session) -> None:
            row = session.get(OutboxMessage, step.id)
            if row is None:
                return
            row.attempts += 1
            delay = retry_after if retry_after is not None else min(MAX_BACKOFF, 0.5 * 2 ** (row.attempts - 1))
            delay *= random.uniform(1.0, 1.2)  # jitter spreads the retries of several replicas
            row.run_after, row.locked_until, row.last_error = utcnow() + timedelta(seconds=delay), None, error[:2000]

        return record

    def _give_up(self, step: OutboxMessage, incident: Incident, error: str) -> Recorder:
        def record(session: Session) -> None:
            now = utcnow()
            row = session.get(OutboxMessage, step.id)
            if row is None:
                return
            row.status, row.done_at, row.locked_until, row.last_error = "failed", now, None, error[:2000]
            row.attempts += 1
            session.add(TimelineEntry(
                incident_id=incident.id, at=now, kind="error",
                summary=f"Gave up on {step.kind}: {error}"[:2000], data={"step": step.kind, "step_id": step.id},
            ))

        return record

    async def _save_state(self, step: OutboxMessage, **state: Any) -> None:
        """Persist progress of a step before a vendor call, so a retry knows what may already have happened."""
        step.state = {**step.state, **state}

        def record(session: Session) -> None:
            row = session.get(OutboxMessage, step.id)
            if row is not None:
                row.state = step.state

        await self.db.run(record)

    # -- chat ---------------------------------------------------------------------------------------------------

    async def _execute_create_channel(self, step: OutboxMessage, incident: Incident) -> Done:
        if incident.channel_id:
            return Done("channel", f"Channel #{incident.channel_name} already exists")
        base = step.payload["name"]
        tried: list[str] = list(step.state.get("tried", []))
        for n in range(1, 100):
            name = base if n == 1 else f"{base}-{n}"
            if name in tried:
                # We asked for this name before and lost the answer: if it exists and nobody else owns it, it is ours.
                found = await self.chat.find_channel(name)
                if found is not None:
                    if await self._owned_by_other(found.id, incident.id):
                        continue
                    return self._channel_done(found.id, found.name, adopted=True)
            else:
                tried.append(name)
                await self._save_state(step, tried=tried)
            try:
                channel = await self.chat.create_channel(name)
            except NameTaken:
                continue
            return self._channel_done(channel.id, channel.name, adopted=False)
        raise PermanentDeliveryError(f"no free channel name for {base}")

    def _channel_done(self, channel_id: str, name: str, *, adopted: bool) -> Done:
        verb = "Recorded (record-only)" if self.record_only else ("Adopted" if adopted else "Created")
        return Done("channel", f"{verb} channel #{name}", {"channel_id": channel_id, "name": name},
                    incident_changes={"channel_id": channel_id, "channel_name": name})

    async def _owned_by_other(self, channel_id: str, incident_id: int) -> bool:
        owner = await self.db.run(lambda session: repository.by_channel(session, channel_id))
        return owner is not None and owner.id != incident_id

    async def _execute_post(self, step: OutboxMessage, incident: Incident) -> Done:
        message = Message(text=step.payload["text"], blocks=step.payload.get("blocks", ()))
        message = messages.with_mentions(message, await self._user_ids(step.payload.get("mention", ())))
        channel = await self._post(step, incident, step.payload["target"], message)
        return self._posted(step.payload.get("note", "message posted"), channel, message)

    async def _post(self, step: OutboxMessage, incident: Incident, target: str, message: Message,
                    *, key_suffix: str = "") -> str:
        channel = self._channel_for(incident, target)
        key = f"incident-bot:{step.id}{key_suffix}"
        if step.attempts > 0 and await self.chat.find_post(channel, key=key):
            return channel  # an earlier attempt got through even though we never saw the answer
        await self.chat.post(channel, message, key=key)
        return channel

    async def _execute_post_runbook(self, step: OutboxMessage, incident: Incident) -> Done:
        message = messages.runbook_message(incident.title, self._runbook(incident))
        channel = await self._post(step, incident, step.payload["target"], message)
        return self._posted("runbook posted", channel, message)

    async def _execute_post_alert(self, step: OutboxMessage, incident: Incident) -> Done:
        event = alarm_from_body(incident.alarm)
        runbook = self._runbook(incident) if incident.severity == Severity.HIGH else None
        message = messages.with_mentions(messages.alert(incident, event, runbook=runbook),
                                         await self._user_ids(step.payload.get("mention", ())))
        channel = await self._post(step, incident, response.ALERTS_CHANNEL, message)
        return self._posted(f"{incident.severity} alert posted", channel, message)

    def _runbook(self, incident: Incident) -> str:
        """The incident's runbook for its latest alarm, as Slack mrkdwn."""
        event = alarm_from_body(incident.alarm)
        context = self.playbook.context(event, incident_id=incident.id, channel=incident.channel_name)
        return to_mrkdwn(self.playbook.runbook(event, context))

    async def _user_ids(self, users: Sequence[str]) -> list[str]:
        """Slack user ids for responders: ids as they are, emails looked up, group handles expanded."""
        ids: list[str] = []
        for user in users:
            ids.extend(m for m in await self._members(user) if m not in ids)
        return ids

    async def _members(self, who: str) -> list[str]:
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
        if "@" in who.lstrip("@") or re.fullmatch(r"<?@?[UW][A-Z0-9]{2,}>?", who.strip()):
            user_id = await self.chat.resolve_user(who)
            return [user_id] if user_id else []
        return await self.chat.group_members(who) or []

    def _channel_for(self, incident: Incident, target: str) -> str:
        if target == response.INCIDENT_CHANNEL and incident.channel_id:
            return incident.channel_id
        return self.playbook.policy.alerts_channel

    def _posted(self, note: str, channel: str, message: Message) -> Done:
        prefix = "Would post" if self.record_only else "Posted"
        return Done("message", f"{note} ({prefix.lower()} in {channel})",
                    {"channel": channel, "text": message.text, "blocks": list(message.blocks),
                     "record_only": self.record_only})

    async def _execute_invite(self, step: OutboxMessage, incident: Incident) -> Done:
        if not incident.channel_id:
            raise PermanentDeliveryError("no channel to invite into")
        users = step.payload.get("users", [])
        resolved: list[str] = []
        unknown: list[str] = []
        for user in users:
            members = await self._members(user)
            resolved.extend(m for m in members if m not in resolved)
            if not members:
                unknown.append(user)
        if resolved:
            await self.chat.invite(incident.channel_id, resolved)
        summary = f"Invited {', '.join(resolved)}" if resolved else "No responders configured to invite"
        if unknown:
            summary += f"; unknown: {', '.join(unknown)}"
        return Done("action", summary, {"invited": resolved, "unknown": unknown})

    async def _execute_set_topic(self, step: OutboxMessage, incident: Incident) -> Done:
        if not incident.channel_id:
            raise PermanentDeliveryError("no channel to set the topic of")
        topic = response.topic(incident)  # current status, not the one at queue time
        await self.chat.set_topic(incident.channel_id, topic)
        return Done("action", f"Topic set: {topic}", {"topic": topic})

    async def _execute_set_purpose(self, step: OutboxMessage, incident: Incident) -> Done:
        if not incident.channel_id:
            raise PermanentDeliveryError("no channel to set the purpose of")
        await self.chat.set_purpose(incident.channel_id, step.payload["purpose"])
        return Done("action", f"Purpose set: {step.payload['purpose']}")

    async def _execute_bookmark(self, step: OutboxMessage, incident: Incident) -> Done:
        if not incident.channel_id:
            raise PermanentDeliveryError("no channel to bookmark in")
        await self.chat.add_bookmark(incident.channel_id, step.payload["title"], step.payload["link"])
        return Done("action", f"Bookmarked {step.payload['title']}: {step.payload['link']}")

    async def _execute_run_query(self, step: OutboxMessage, incident: Incident) -> Done:
        name = step.payload["query"]
        start, end = datetime.fromisoformat(step.payload["start"]), datetime.fromisoformat(step.payload["end"])
        cached = step.state.get("message")
        if cached is None:
            query = self.queries.get(name)
            try:
                result = await self.logs.run(query.render({}), start=start, end=end)
            except QueryError as exc:
                text = f"Query {name} could not run: {exc}"
                cached = {"text": text, "blocks": [messages.section(f":warning: {text}")], "headline": text}
            else:
                rendered = result_message(query, result, start=start, end=end)
                cached = {"text": rendered.text, "blocks": list(rendered.blocks), "headline": headline(query, result)}
            await self._save_state(step, message=cached)
        message = Message(text=cached["text"], blocks=cached["blocks"])
        channel = await self._post(step, incident, step.payload["target"], message)
        return Done("query", cached["headline"], {"query": name, "channel": channel, "text": message.text,
                                                   "blocks": list(message.blocks), "record_only": self.record_only})

    async def _execute_post_postmortem(self, step: OutboxMessage, incident: Incident) -> Done:
        cached = step.state.get("text")
        if cached is None:
            entries = await self.db.run(lambda session: repository.timeline(session, incident.id))
            cached = to_mrkdwn(self.playbook.runbooks.render_postmortem(postmortem_context(incident, entries)))
            await self._save_state(step, text=cached)
        message = Message(
            text=f"Post-incident template for incident #{incident.id}",
            blocks=[messages.header(f":memo: Post-incident · {incident.title}"), *messages.sections(cached)][:50],
        )
        channel = await self._post(step, incident, step.payload["target"], message)
        return self._posted("post-incident template posted", channel, message)

    # -- pager --------------------------------------------------------------------------------------------------

    async def _execute_page(self, step: OutboxMessage, incident: Incident) -> Done:
        payload = step.payload
        action = payload["action"]
        if not self.pager.configured:
            return Done("page", f"PagerDuty not configured: would {action} {payload['dedup_key']}",
                        {"action": action, "dedup_key": payload["dedup_key"], "status": "not configured"})
        event = PageEvent(
            action=action, dedup_key=payload["dedup_key"], summary=payload.get("summary", ""),
            severity=payload.get("severity", "critical"), source=payload.get("source", ""),
            component=payload.get("component", ""), custom_details=payload.get("custom_details", {}),
            links=self._page_links(incident, payload.get("links", [])),
        )
        key = await self.pager.send(event)
        verb = {"trigger": "Paged on-call", "acknowledge": "Acknowledged the page", "resolve": "Resolved the page"}
        return Done("page", f"{verb.get(action, action)} (PagerDuty {key})",
                    {"action": action, "dedup_key": key, "status": "sent"})

    def _page_links(self, incident: Incident, links: list[dict[str, str]]) -> list[dict[str, str]]:
        # The channel may have been created (or suffixed) after the step was queued: link the real one.
        out = []
        for link in links:
            if link.get("text", "").startswith("Slack #") and incident.channel_name:
                target = incident.channel_id or incident.channel_name
                link = {"href": f"https://slack.com/app_redirect?channel={target}",
                        "text": f"Slack #{incident.channel_name}"}
            if link.get("href"):
                out.append(link)
        return out

    # -- reminders ----------------------------------------------------------------------------------------------

    async def _execute_ack_reminder(self, step: OutboxMessage, incident: Incident) -> Done:
        if incident.status != "open":
            return Done("reminder", f"Reminder skipped: incident is {incident.status}")
        policy = self.playbook.policy
        minutes = (utcnow() - incident.opened_at).total_seconds() / 60
        responders = await self._user_ids(policy.responders.get(Severity(incident.severity), ()))
        wait = self.playbook.response_time(Severity(incident.severity)) or timedelta(0)
        hours = wait / timedelta(hours=1)
        target = f"{hours:g} h" if hours >= 1 else f"{wait.total_seconds() / 60:.0f} min"
        message = messages.ack_reminder(incident, responders=responders, minutes=minutes, target=target)
        channel = await self._post(step, incident, response.INCIDENT_CHANNEL, message)
        if channel != policy.alerts_channel:
            await self._post(step, incident, response.ALERTS_CHANNEL, message, key_suffix=":alerts")
        round_ = int(step.payload.get("round", 1))
        follow_up = []
        if round_ < policy.ack_reminders:
            follow_up += response.reminder(incident, playbook=self.playbook, now=utcnow(), round_=round_ + 1)
        done = self._posted(f"not acknowledged after {minutes:.0f} min: reminder #{round_}", channel, message)
        done.kind, done.follow_up = "reminder", follow_up
        return done
