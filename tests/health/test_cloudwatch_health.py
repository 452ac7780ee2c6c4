"""`METRICS_BACKEND=cloudwatch`: the five signals from one GetMetricData call, against moto's server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from bot import platform_metrics as aws
from bot.adapters.cloudwatch_metrics import CloudWatchMetricSource
from bot.cli import app
from bot.health.verdict import Colour, assess
from tests.support.moto import fresh_aws


@pytest.fixture
def cloudwatch(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    fresh_aws(moto_url, monkeypatch)
    return boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_url)


def _put_last_minutes(client: Any, *, dlq: float, minutes: int = 10) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(minutes, 0, -1):
        at = now - timedelta(minutes=i)
        # Lag is MSK's own metric (AWS/Kafka, with its dimensions): the same request reads both namespaces.
        client.put_metric_data(Namespace=aws.KAFKA_NAMESPACE, MetricData=[
            {"MetricName": aws.CONSUMER_LAG_METRIC, "Timestamp": at, "Value": 1200.0, "Unit": "Count",
             "Dimensions": [{"Name": k, "Value": v} for k, v in aws.CONSUMER_LAG_DIMENSIONS]},
        ])
        client.put_metric_data(Namespace="OrdersPipeline", MetricData=[
            {"MetricName": "DLQRecordCount", "Timestamp": at, "Value": dlq, "Unit": "Count"},
            {"MetricName": "checkpoint_completed_total", "Timestamp": at, "Value": 6.0, "Unit": "Count"},
            {"MetricName": "checkpoint_failures_total", "Timestamp": at, "Value": 0.0, "Unit": "Count"},
            {"MetricName": "WindowCompleteness", "Timestamp": at, "Value": 99.0, "Unit": "Percent"},
        ])
    return now


async def test_one_get_metric_data_call_answers_every_signal(cloudwatch: Any) -> None:
    """The adapter asks for all six series in one request; DLQ at 150 a minute is red."""
    now = _put_last_minutes(cloudwatch, dlq=150.0)
    source = CloudWatchMetricSource(cloudwatch)
    health = await assess(source, now=lambda: now)
    assert source.calls == 1
    signals = {s.name: s for s in health.signals}
    assert health.status is Colour.RED and signals["dlq_rate"].status is Colour.RED
    assert signals["dlq_rate"].value == 150.0 and signals["lag"].value == 1200.0
    assert signals["checkpoint_success"].value == 100.0 and signals["window_completeness"].value == 99.0
    # moto computes no percentiles: the P99 signal has no data there (real CloudWatch answers p99).
    assert signals["latency_p99"].status is Colour.UNKNOWN


def test_cli_reads_cloudwatch_when_asked(cloudwatch: Any, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`METRICS_BACKEND=cloudwatch incident-bot health --json` names the red signal."""
    _put_last_minutes(cloudwatch, dlq=400.0)
    monkeypatch.setenv("METRICS_BACKEND", "cloudwatch")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    result = CliRunner().invoke(app, ["health", "--json"])
    assert result.exit_code == 0, result.output
    health = json.loads(result.output)
    assert health["status"] == "red" and health["summary"].startswith("red: dlq_rate 400 /min")


def test_an_unreachable_store_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A missing local metrics directory exits 2 with one line saying what to set."""
    monkeypatch.setenv("METRICS_BACKEND", "local")
    monkeypatch.setenv("LOCAL_METRICS", str(tmp_path / "nope"))
    result = CliRunner().invoke(app, ["health"])
    assert result.exit_code == 2
    assert "LOCAL_METRICS" in result.output and len(result.output.strip().splitlines()) == 1
