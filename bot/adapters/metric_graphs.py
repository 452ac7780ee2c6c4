"""Metric graphs for incidents (`MetricGraphs`): CloudWatch's `GetMetricWidgetImage` when
`METRICS_BACKEND=cloudwatch`, matplotlib over the pipeline's local EMF stream (`LOCAL_METRICS`) otherwise.

Both draw the same picture: the alarm metric from an hour before the alarm window to just after the state
change, the threshold as a line and the ALARM period shaded. boto3 and matplotlib block, so each render runs in a
thread; matplotlib uses its Agg backend through a `Figure` of its own (no pyplot global state).
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.incidents.ports import GraphRequest, MetricGraphs
from bot.settings import Settings
from pipeline.emf import MetricStream

WIDTH, HEIGHT = 800, 320  # pixels; Slack previews this size well on desktop and phone


class LocalMetricGraphs:
    """matplotlib over every EMF line under `directory` (read anew each time: a running job keeps appending)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    async def render(self, request: GraphRequest) -> bytes | None:
        """The PNG, or None when the stream has no datapoint of the metric in the window."""
        return await asyncio.to_thread(self._render, request)

    def _render(self, request: GraphRequest) -> bytes | None:
        if not self.directory.is_dir():
            return None
        stream = MetricStream.load(self.directory)
        points: list[tuple[datetime, float]] = []
        # The local job writes its metrics without the dimensions the deployed alarms carry: fall back to those.
        for dims in (tuple(sorted(request.dimensions)), ()):
            points = stream.series(request.metric, dims, start=request.start, end=request.end,
                                   period=max(60, request.period), statistic=request.statistic or "Average")
            if points:
                break
        if not points:
            return None
        return draw_png(request, points)


def draw_png(request: GraphRequest, points: list[tuple[datetime, float]]) -> bytes:
    """The graph as PNG bytes (Agg): the series, the threshold line, the ALARM period shaded."""
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH / 100, HEIGHT / 100), dpi=100)
    axes = figure.add_subplot()
    axes.plot([t for t, _ in points], [v for _, v in points], color="#1f77b4", linewidth=1.6,  # type: ignore[arg-type]
              label=f"{request.metric} ({request.statistic})")
    if request.threshold is not None:
        axes.axhline(request.threshold, color="#d62728", linestyle="--", linewidth=1.2,
                     label=f"threshold {request.threshold:g}")
    axes.axvspan(request.alarm_start, request.alarm_end, color="#d62728", alpha=0.15, label="ALARM")  # type: ignore[arg-type]
    axes.set_xlim(request.start, request.end)  # type: ignore[arg-type]
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))  # type: ignore[no-untyped-call]
    axes.set_title(request.title[:120], fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


class CloudWatchMetricGraphs:
    """`GetMetricWidgetImage` through a boto3 `cloudwatch` client."""

    def __init__(self, client: Any = None, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self.client: Any = client or boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url,
                                                  config=Config(retries={"mode": "standard", "max_attempts": 3}))

    async def render(self, request: GraphRequest) -> bytes | None:
        """The PNG CloudWatch draws for the widget of `request`."""
        return await asyncio.to_thread(self._render, request)

    def _render(self, request: GraphRequest) -> bytes:
        try:
            answer = self.client.get_metric_widget_image(MetricWidget=json.dumps(widget(request)),
                                                         OutputFormat="png")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            reason = f"CloudWatch GetMetricWidgetImage: {code or 'refused'}"
            if code in {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalServiceError"}:
                raise TransientDeliveryError(reason) from None
            raise PermanentDeliveryError(reason) from None
        except BotoCoreError as exc:
            raise TransientDeliveryError(f"CloudWatch GetMetricWidgetImage: {type(exc).__name__}") from None
        return bytes(answer["MetricWidgetImage"])


def widget(request: GraphRequest) -> dict[str, Any]:
    """The metric widget JSON: the metric, the threshold as a horizontal annotation, ALARM as a shaded band."""
    metric: list[Any] = [request.namespace, request.metric]
    for name, value in request.dimensions:
        metric += [name, value]
    annotations: dict[str, Any] = {"vertical": [
        [{"label": "ALARM", "value": _iso(request.alarm_start), "color": "#d62728"},
         {"value": _iso(request.alarm_end)}]]}
    if request.threshold is not None:
        annotations["horizontal"] = [{"label": "threshold", "value": request.threshold, "color": "#d62728"}]
    body: dict[str, Any] = {
        "metrics": [[*metric, {"stat": request.statistic or "Average"}]],
        "period": max(60, request.period), "start": _iso(request.start), "end": _iso(request.end),
        "title": request.title[:120], "width": WIDTH, "height": HEIGHT, "annotations": annotations,
        "view": "timeSeries", "stacked": False, "legend": {"position": "bottom"},
    }
    if request.region:
        body["region"] = request.region
    return body


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metric_graphs_from_settings(settings: Settings) -> MetricGraphs:
    """CloudWatch when `METRICS_BACKEND=cloudwatch`, else matplotlib over `LOCAL_METRICS`."""
    if settings.metrics_backend == "cloudwatch":
        return CloudWatchMetricGraphs(region=settings.aws_region)
    return LocalMetricGraphs(settings.local_metrics)
