"""Pager executor: one PagerDuty event per step (the dedup key makes a repeat harmless)."""

from __future__ import annotations

from bot.incidents.ports import PageEvent, Pager
from bot.incidents.steps import Page, PageAction
from bot.outbox.execution import Done, StepRun

_VERB = {PageAction.TRIGGER: "Paged on-call", PageAction.ACKNOWLEDGE: "Acknowledged the page",
         PageAction.RESOLVE: "Resolved the page"}


class PagerSteps:
    """Executors of the pager lane."""

    def __init__(self, pager: Pager) -> None:
        self.pager = pager

    async def page(self, payload: Page, run: StepRun) -> Done:
        """Send the event; without PagerDuty configured, record what would have been sent."""
        action = payload.action
        if not self.pager.configured:
            return Done("page", f"PagerDuty not configured: would {action} {payload.dedup_key}",
                        {"action": action, "dedup_key": payload.dedup_key, "status": "not configured"})
        links = list(payload.links)
        incident = run.incident
        if payload.link_channel and incident.channel_name:
            # The channel may have been created (or suffixed) after the step was planned: link the real one.
            target = incident.channel_id or incident.channel_name
            links.insert(0, {"href": f"https://slack.com/app_redirect?channel={target}",
                             "text": f"Slack #{incident.channel_name}"})
        event = PageEvent(action=action, dedup_key=payload.dedup_key, summary=payload.summary,
                          severity=payload.severity, source=payload.source, component=payload.component,
                          custom_details=payload.custom_details, links=links, images=payload.images,
                          timestamp=payload.timestamp)
        key = await self.pager.send(event)
        return Done("page", f"{_VERB[action]} (PagerDuty {key})",
                    {"action": action, "dedup_key": key, "status": "sent"})
