"""`/pipeline-health`: the five-signal verdict from the metrics store, posted in the channel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import platform_metrics as aws
from bot.adapters.local_metrics import LocalMetricSource
from bot.app import build_adapters
from bot.settings import Settings
from pipeline import emf
from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET, SlackUser, wait_responses
from tests.support.app import Bot, BotFactory


def write_minutes(directory: Path, *, dlq_per_minute: float, minutes: int = 15) -> None:
    """Healthy signals over the last `minutes`, with `dlq_per_minute` DLQ records each minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    docs = []
    for i in range(minutes):
        at = int((now - timedelta(minutes=minutes - i)).timestamp() * 1000)
        docs += [emf.count_document(aws.CONSUMER_LAG_METRIC, 900, timestamp_ms=at, dims=aws.CONSUMER_LAG_DIMENSIONS,
                                    namespace=aws.KAFKA_NAMESPACE),
                 emf.count_document("DLQRecordCount", dlq_per_minute, timestamp_ms=at),
                 emf.count_document("checkpoint_completed_total", 6, timestamp_ms=at),
                 emf.count_document("checkpoint_failures_total", 0, timestamp_ms=at)]
        latency = emf.Stat()
        latency.add(120.0, 50)
        latency.values[120.0] += 50
        docs += list(emf.stat_documents("ProcessingLatency", latency, timestamp_ms=at, unit="Milliseconds"))
        complete = emf.Stat()
        complete.add(100.0, 40)
        docs += list(emf.stat_documents("WindowCompleteness", complete, timestamp_ms=at, unit="Percent"))
    emf.write(docs, directory / "job.jsonl")


@pytest.fixture
async def health_bot(make_bot: BotFactory, fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """A bot with Slack configured whose metrics store is `tmp_path/metrics`."""
    overrides: dict[str, Any] = {"slack_signing_secret": SIGNING_SECRET, "slack_bot_token": SLACK_TOKEN,
                                 "slack_api_url": fake_slack.api_url}
    adapters = build_adapters(Settings(_env_file=None, **overrides))
    adapters.metrics = LocalMetricSource(tmp_path / "metrics")
    async with make_bot(adapters=adapters, **overrides) as bot:
        yield bot


@pytest.fixture
def bob(health_bot: Bot, fake_slack: FakeSlack) -> SlackUser:
    """Bob, asking about the pipeline in #alerts."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    return SlackUser(bot=health_bot, fake=fake_slack, user_id="U00BOB0001", channel_id=alerts.id)


async def test_a_dlq_spike_is_red_naming_the_signal(bob: SlackUser, fake_slack: FakeSlack, tmp_path: Path) -> None:
    """150 DLQ records a minute make the verdict red, and the post says which signal and its threshold."""
    write_minutes(tmp_path / "metrics", dlq_per_minute=150)
    answer, response_url = await bob.command("/pipeline-health")
    assert answer.status_code == 200 and answer.json()["response_type"] == "ephemeral"
    [post] = await wait_responses(fake_slack, response_url)
    text = json.dumps(post, ensure_ascii=False)
    assert post["response_type"] == "in_channel"
    assert "Pipeline health: RED" in text
    assert "dlq_rate 150 /min (red: green &lt; 10 · red &gt; 100)" in text  # mrkdwn: < and > escaped
    assert "latency_p99 120 ms (green" in text


async def test_clean_metrics_are_green(bob: SlackUser, fake_slack: FakeSlack, tmp_path: Path) -> None:
    """Two DLQ records a minute and healthy checkpoints, lag, latency and completeness read green."""
    write_minutes(tmp_path / "metrics", dlq_per_minute=2)
    _, response_url = await bob.command("/pipeline-health")
    [post] = await wait_responses(fake_slack, response_url)
    assert "Pipeline health: GREEN" in json.dumps(post, ensure_ascii=False)


async def test_arguments_are_refused_and_a_missing_store_is_explained(bob: SlackUser, fake_slack: FakeSlack) -> None:
    """`/pipeline-health now` gets the usage line; with no metrics directory the answer says what to set."""
    answer, _ = await bob.command("/pipeline-health", "now")
    assert "takes no arguments" in answer.json()["text"]
    assert "Usage: `/pipeline-health`" in answer.json()["text"]
    _, response_url = await bob.command("/pipeline-health")
    [post] = await wait_responses(fake_slack, response_url)
    assert "LOCAL_METRICS" in post["text"]
