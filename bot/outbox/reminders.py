"""Reminder executor: the planned acknowledgement nudge, unless the incident moved on since it was planned."""

from __future__ import annotations

from bot.clock import Clock
from bot.incidents import messages
from bot.incidents.models import IncidentStatus
from bot.incidents.steps import AckReminder
from bot.outbox.chat import ChatSteps
from bot.outbox.execution import Done, StepRun


class ReminderSteps:
    """Executors of the reminder lane."""

    def __init__(self, chat: ChatSteps, *, clock: Clock) -> None:
        self.chat, self.clock = chat, clock

    async def ack_reminder(self, payload: AckReminder, run: StepRun) -> Done:
        """Post the reminder in each target channel once; skipped once acknowledged, resolved or reopened."""
        incident = run.incident
        if incident.status != IncidentStatus.OPEN:
            return Done("reminder", f"Reminder skipped: incident is {incident.status}")
        if incident.reopen_count != payload.reopen_count:
            return Done("reminder", "Reminder skipped: planned before the incident reopened")
        minutes = (self.clock() - incident.opened_at).total_seconds() / 60
        responders = await self.chat.user_ids(payload.mention)
        message = messages.ack_reminder(incident, responders=responders, minutes=minutes, target=payload.target_time)
        posted: list[str] = []
        for n, target in enumerate(payload.targets):
            channel = self.chat.channel_for(run, target)
            if channel not in posted:
                await self.chat.post_message(run, target, message, key_suffix="" if n == 0 else f":{target}")
                posted.append(channel)
        done = self.chat.posted(f"not acknowledged after {minutes:.0f} min: reminder #{payload.round}", posted[0],
                                message)
        done.kind = "reminder"
        return done
