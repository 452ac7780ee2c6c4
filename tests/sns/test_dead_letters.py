"""The AWS side as code against moto's server: `aws setup` and the dead-letter queue the bot drains at start."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.sns.signing import SnsSigner, body
from bot.sns.subscription import DELIVERY_POLICY, retry_span
from bot.store import Database, upgrade
from tests.support.alarms import CRITICAL_TOPIC, metric_alarm
from tests.support.app import BotFactory
from tests.support.moto import fresh_aws

ENDPOINT = "https://bot.example.com/sns"
TOPICS = {"orders-pipeline-critical", "orders-pipeline-high"}




@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A clean moto account, with SNS and SQS clients on it."""
    fresh_aws(moto_url, monkeypatch)
    return {"sns": boto3.client("sns", region_name="us-east-1", endpoint_url=moto_url),
            "sqs": boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_url)}


def _setup(moto_url: str) -> dict[str, str]:
    result = CliRunner().invoke(app, ["aws", "setup", "--endpoint", ENDPOINT, "--endpoint-url", moto_url])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "=" in line]
    return dict(line.split("=", 1) for line in lines)


def test_setup_creates_topics_subscription_and_policies_idempotently(aws: dict[str, Any], moto_url: str) -> None:
    """Run twice: the alarms' topics exist once each, each with one https subscription of the endpoint carrying
    the delivery policy and a redrive policy to the dead-letter queue it prints."""
    first = _setup(moto_url)
    second = _setup(moto_url)
    assert first == second
    topic_arns = first["SNS_TOPIC_ARNS"].split(",")
    assert {arn.rsplit(":", 1)[1] for arn in topic_arns} == TOPICS
    assert {t["TopicArn"] for t in aws["sns"].list_topics()["Topics"]} == set(topic_arns)
    queue_url = first["SNS_DLQ_URL"]
    queue_arn = aws["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    policy = json.loads(queue_arn["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == topic_arns
    for arn in topic_arns:
        [sub] = aws["sns"].list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        assert (sub["Protocol"], sub["Endpoint"]) == ("https", ENDPOINT)
        attributes = aws["sns"].get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        assert json.loads(attributes["DeliveryPolicy"]) == DELIVERY_POLICY
        assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": queue_arn["QueueArn"]}


def test_dry_run_shows_topics_subscription_delivery_and_redrive_policies() -> None:
    """`aws setup --dry-run` prints the requests as JSON and calls nothing; SNS retries for over an hour."""
    result = CliRunner().invoke(app, ["aws", "setup", "--endpoint", ENDPOINT, "--dry-run"])
    assert result.exit_code == 0, result.output
    requests = json.loads(result.output)
    actions = [(r["Service"], r["Action"]) for r in requests]
    assert actions[0] == ("sqs", "CreateQueue")
    assert {r["Parameters"]["Name"] for r in requests if r["Action"] == "CreateTopic"} == TOPICS
    subscribes = [r["Parameters"] for r in requests if r["Action"] == "Subscribe"]
    assert len(subscribes) == 2 and all(s["Endpoint"] == ENDPOINT and s["Protocol"] == "https" for s in subscribes)
    policy = json.loads(subscribes[0]["Attributes"]["DeliveryPolicy"])
    assert policy["healthyRetryPolicy"]["backoffFunction"] == "exponential"
    assert retry_span(policy) >= 3600
    assert "deadLetterTargetArn" in json.loads(subscribes[0]["Attributes"]["RedrivePolicy"])


def test_setup_refuses_a_non_https_endpoint() -> None:
    """The endpoint must be https (SNS signs, we verify; plain http would expose the traffic)."""
    result = CliRunner().invoke(app, ["aws", "setup", "--endpoint", "http://bot.example.com/sns", "--dry-run"])
    assert result.exit_code == 2


async def _incidents_soon(bot: Any, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await bot.incidents()
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_alarm_dead_lettered_while_the_bot_was_down_opens_its_incident_at_start(
        aws: dict[str, Any], moto_url: str, make_bot: BotFactory, signer: SnsSigner) -> None:
    """With the bot stopped, SNS dead-letters an alarm (twice, plus a forged one); the bot starts, drains the
    queue through the same checks as POST /sns, and opens exactly one incident; the queue ends empty."""
    queue_url = _setup(moto_url)["SNS_DLQ_URL"]
    envelope = body(signer.notification(topic_arn=CRITICAL_TOPIC, message=json.dumps(metric_alarm()),
                                        message_id=str(uuid.uuid4()))).decode()
    forged = json.loads(envelope)
    forged["Message"] = forged["Message"].replace("152.0", "15.0")
    for message in (envelope, envelope, json.dumps(forged), "not even json"):
        aws["sqs"].send_message(QueueUrl=queue_url, MessageBody=message)

    async with make_bot(sns_dlq_url=queue_url) as bot:
        incidents = await _incidents_soon(bot, 1)
        await asyncio.sleep(0.3)  # the rest of the round
        assert len(await bot.incidents()) == 1
        assert incidents[0]["alarm_name"] == "orders-pipeline-DLQSpike"
        metrics = (await bot.client.get("/metrics")).text
        assert 'outcome="duplicate"' in metrics and 'outcome="forbidden"' in metrics
    left = aws["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert left.get("Messages", []) == []


async def test_only_one_replica_drains_at_a_time(database_url: str) -> None:
    """The drain lock is exclusive across processes (a second holder is told no at once) and released after."""
    upgrade(database_url)
    first, second = Database(database_url), Database(database_url)
    try:
        async with first.exclusive("sns-dlq") as held:
            assert held
            async with second.exclusive("sns-dlq") as other:
                assert not other
        async with second.exclusive("sns-dlq") as later:
            assert later
    finally:
        await first.dispose()
        await second.dispose()
