"""Metric graphs: matplotlib over the local EMF stream, CloudWatch's GetMetricWidgetImage over a fake endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from bot.adapters.metric_graphs import CloudWatchMetricGraphs, LocalMetricGraphs
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.incidents.ports import GraphRequest
from pipeline.emf import document, write
from tests.fakes.cloudwatch_widgets import PNG, FakeCloudWatchWidgets

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REQUEST = GraphRequest(
    title="orders-pipeline-DLQSpike: DLQRecordCount", namespace="OrdersPipeline", metric="DLQRecordCount",
    dimensions=(("Pipeline", "orders-pipeline"),), statistic="Sum", period=60, threshold=100.0,
    start=AT - timedelta(minutes=62), end=AT + timedelta(minutes=1), alarm_start=AT - timedelta(minutes=2),
    alarm_end=AT + timedelta(minutes=1), region="us-east-1")


@pytest.fixture
def cloudwatch() -> Iterator[FakeCloudWatchWidgets]:
    """The fake CloudWatch endpoint."""
    fake = FakeCloudWatchWidgets().start()
    yield fake
    fake.stop()


def client(fake: FakeCloudWatchWidgets) -> object:
    """A boto3 CloudWatch client on the fake (dummy credentials, no retries to keep failures quick)."""
    from botocore.config import Config

    return boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=fake.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


async def test_local_graph_is_a_png_of_the_stream(tmp_path: Path) -> None:
    """Datapoints in the window become a PNG (Agg); a metric with none draws nothing."""
    write([document("DLQRecordCount", 5.0 if m < 60 else 300.0,
                    timestamp_ms=int((AT - timedelta(minutes=62 - m)).timestamp() * 1000)) for m in range(63)],
          tmp_path / "run.jsonl")
    png = await LocalMetricGraphs(tmp_path).render(REQUEST)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert await LocalMetricGraphs(tmp_path).render(replace(REQUEST, metric="Nope")) is None
    assert await LocalMetricGraphs(tmp_path / "missing").render(REQUEST) is None


async def test_cloudwatch_graph_asks_for_the_widget_with_threshold_and_alarm_band(
        cloudwatch: FakeCloudWatchWidgets) -> None:
    """One GetMetricWidgetImage call: the metric with its dimensions and stat, the window, the threshold as a
    horizontal annotation and the ALARM period as a vertical band; the PNG comes back as bytes."""
    png = await CloudWatchMetricGraphs(client(cloudwatch)).render(REQUEST)
    assert png == PNG
    [widget] = cloudwatch.widgets
    assert widget["metrics"] == [["OrdersPipeline", "DLQRecordCount", "Pipeline", "orders-pipeline",
                                  {"stat": "Sum"}]]
    assert widget["start"] == "2026-12-01T10:58:00Z" and widget["end"] == "2026-12-01T12:01:00Z"
    assert widget["annotations"]["horizontal"] == [{"label": "threshold", "value": 100.0, "color": "#d62728"}]
    [[band_start, band_end]] = widget["annotations"]["vertical"]
    assert band_start["value"] == "2026-12-01T11:58:00Z" and band_end["value"] == "2026-12-01T12:01:00Z"
    assert json.dumps(widget)  # what was sent is plain JSON


async def test_cloudwatch_graph_failures_are_mapped(cloudwatch: FakeCloudWatchWidgets) -> None:
    """Throttling is worth a retry; a widget CloudWatch refuses is not."""
    graphs = CloudWatchMetricGraphs(client(cloudwatch))
    for _ in range(3):  # botocore retries throttling itself first
        cloudwatch.fail_next("Throttling")
    with pytest.raises(TransientDeliveryError):
        await graphs.render(REQUEST)
    cloudwatch.fail_next("InvalidParameterInput")
    with pytest.raises(PermanentDeliveryError):
        await graphs.render(REQUEST)
