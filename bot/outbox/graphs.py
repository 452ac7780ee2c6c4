"""The graph executor: draw the alarm metric, keep the PNG on the incident, share it in the incident channel."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from bot.alarms.models import alarm_from_body
from bot.clock import Clock
from bot.errors import BadInput, PermanentDeliveryError
from bot.incidents import repository
from bot.incidents.ports import GraphRequest, MetricGraphs
from bot.incidents.steps import PostGraph
from bot.outbox.chat import ChatSteps
from bot.outbox.execution import Done, StepRun

# SNS alarm bodies spell statistics as CloudWatch's API enum (`SUM`); metric queries and widgets want `Sum`.
_STATISTICS = {"SUM": "Sum", "AVERAGE": "Average", "MAXIMUM": "Maximum", "MINIMUM": "Minimum",
               "SAMPLE_COUNT": "SampleCount", "SAMPLECOUNT": "SampleCount"}


def statistic_name(statistic: str | None) -> str:
    """`Sum`, `Average`… (percentiles such as `p99` as they are); Average when the alarm names none."""
    if not statistic:
        return "Average"
    return _STATISTICS.get(statistic.upper(), statistic)


class GraphSteps:
    """Performs `PostGraph`: render (CloudWatch or matplotlib, off the event loop), store, upload."""

    def __init__(self, chat_steps: ChatSteps, *, graphs: MetricGraphs | None, clock: Clock) -> None:
        self.chat_steps, self.graphs, self.clock = chat_steps, graphs, clock

    async def post_graph(self, payload: PostGraph, run: StepRun) -> Done:
        """Draw the graph; kept on the incident (`/api/incidents/{id}/graph.png`) and uploaded to its channel."""
        incident = run.incident
        if self.graphs is None:
            return Done("action", "No metrics backend configured: no graph drawn")
        event = None
        with suppress(BadInput):
            event = alarm_from_body(incident.alarm)
        if event is None or not event.metric_name:
            return Done("action", "No single metric to graph for this alarm")
        end = datetime.fromisoformat(payload.end)
        request = GraphRequest(
            title=f"{event.alarm_name}: {event.metric_name}", namespace=event.namespace or "OrdersPipeline",
            metric=event.metric_name, dimensions=tuple(sorted(event.dimensions.items())),
            statistic=statistic_name(event.statistic), period=event.period or 60, threshold=event.threshold,
            start=datetime.fromisoformat(payload.start), end=end,
            alarm_start=datetime.fromisoformat(payload.alarm_start), alarm_end=end, region=event.region,
        )
        png = await self.graphs.render(request)
        if png is None:
            return Done("action", f"No datapoints of {event.metric_name} to graph")
        await self.chat_steps.db.run(lambda session: repository.save_graph(
            session, incident_id=incident.id, png=png, at=self.clock()))
        if not incident.channel_id:
            return Done("graph", f"Graph of {event.metric_name} kept ({len(png):,} bytes)", {"bytes": len(png)})
        if run.state.get("uploaded"):
            return Done("graph", f"Graph of {event.metric_name} already shared", {"bytes": len(png)})
        try:
            file_id = await self.chat_steps.chat.upload_file(
                incident.channel_id, filename=f"incident-{incident.id}-{event.metric_name}.png", content=png,
                title=f"{event.metric_name} around the alarm (threshold and ALARM period marked)")
        except PermanentDeliveryError as exc:
            # The graph stays on the incident; a refused upload (missing files:write…) is only recorded.
            return Done("graph", f"Graph of {event.metric_name} kept; upload refused: {exc}", {"bytes": len(png)})
        await run.save_state(uploaded=file_id)
        await self.chat_steps.db.run(lambda session: repository.share_graph(
            session, incident_id=incident.id, file_id=file_id))
        verb = "Would share" if self.chat_steps.record_only else "Shared"
        return Done("graph", f"{verb} the graph of {event.metric_name} in #{incident.channel_name}",
                    {"bytes": len(png), "file_id": file_id, "record_only": self.chat_steps.record_only})
