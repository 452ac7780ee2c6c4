"""The health executor: the pipeline's five-signal verdict, posted in a new incident's channel with its summary."""

from __future__ import annotations

from bot.clock import Clock
from bot.errors import MetricsUnavailable
from bot.health.ports import MetricSource
from bot.health.verdict import assess, health_text
from bot.incidents.ports import Message
from bot.incidents.steps import PostHealth
from bot.outbox.chat import ChatSteps
from bot.outbox.execution import Done, StepRun
from bot.presentation.blocks import section


class HealthSteps:
    """Performs `PostHealth`; metrics that cannot be read are recorded on the timeline, never retried."""

    def __init__(self, chat_steps: ChatSteps, *, metrics: MetricSource | None, clock: Clock) -> None:
        self.chat_steps, self.metrics, self.clock = chat_steps, metrics, clock

    async def post_health(self, payload: PostHealth, run: StepRun) -> Done:
        """Judge the pipeline now and post the verdict where the incident lives."""
        if self.metrics is None:
            return Done("action", "No metrics backend configured: no pipeline health verdict")
        try:
            health = await assess(self.metrics, now=self.clock)
        except MetricsUnavailable as exc:
            return Done("action", f"Pipeline health unavailable: {exc}")
        text = health_text(health)
        channel = await self.chat_steps.post_message(run, payload.target, Message(text=text, blocks=[section(text)]))
        return self.chat_steps.posted(f"pipeline health ({health.status}) posted", channel,
                                      Message(text=text, blocks=[section(text)]))
