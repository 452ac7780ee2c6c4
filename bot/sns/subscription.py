"""The AWS side of SNS delivery, as code: severity topics, the bot's https subscription, how long SNS keeps
retrying it, and the SQS dead-letter queue for what still fails (`incident-bot aws setup`).

SNS's default HTTPS retry policy gives up after a few tries, so an alarm that fires while the bot is deployed
or down would be lost. The subscription's delivery policy keeps retrying for hours with exponential backoff
(`retry_span` says how long), and its redrive policy moves what still fails to a dead-letter queue that
`incident-bot serve` drains (`bot.transports.sns_dlq`). Every step is idempotent: topics and queues are created
or found by name, an existing subscription of the endpoint gets its attributes set again.
Importable without boto3: `apply` takes any SNS and SQS clients with boto3's method names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DLQ_RETENTION = 14 * 86400  # SQS's maximum: two weeks to bring the bot back
MIN_DELAY, MAX_DELAY = 10, 300  # seconds; a bot back from an outage gets the next retry within 5 minutes

# SNS's HTTP(S) delivery policy (AWS: "Amazon SNS message delivery retries"): 3 retries 10 s apart, 47 growing
# exponentially from 10 s to 300 s, then 50 at 300 s: about 5 hours in all. Sum of the phases ≤ numRetries ≤ 100.
DELIVERY_POLICY: dict[str, Any] = {
    "healthyRetryPolicy": {
        "numRetries": 100,
        "numNoDelayRetries": 0,
        "minDelayTarget": MIN_DELAY,
        "numMinDelayRetries": 3,
        "maxDelayTarget": MAX_DELAY,
        "numMaxDelayRetries": 50,
        "backoffFunction": "exponential",
    },
    "throttlePolicy": {"maxReceivesPerSecond": 20},
    "requestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
}


def retry_span(policy: dict[str, Any] = DELIVERY_POLICY) -> float:
    """Seconds SNS keeps retrying under `policy` (the backoff phase counted at its minimum, min→max)."""
    retry = policy["healthyRetryPolicy"]
    backoff = retry["numRetries"] - retry["numNoDelayRetries"] - retry["numMinDelayRetries"] - retry[
        "numMaxDelayRetries"]
    low, high = retry["minDelayTarget"], retry["maxDelayTarget"]
    # Exponential from low to high over `backoff` steps; the sum of a geometric series.
    ratio = (high / low) ** (1 / max(backoff, 1))
    backoff_span = sum(low * ratio**step for step in range(backoff))
    return float(retry["numMinDelayRetries"] * low + backoff_span + retry["numMaxDelayRetries"] * high)


@dataclass(frozen=True, slots=True)
class Plan:
    """What `aws setup` creates: topic names, the https endpoint, the dead-letter queue, where."""

    topics: Sequence[str]
    endpoint: str
    queue_name: str
    region: str
    account: str

    def topic_arn(self, name: str) -> str:
        """The ARN a topic of this plan has."""
        return f"arn:aws:sns:{self.region}:{self.account}:{name}"

    @property
    def queue_arn(self) -> str:
        """The dead-letter queue's ARN."""
        return f"arn:aws:sqs:{self.region}:{self.account}:{self.queue_name}"


def queue_policy(queue_arn: str, topic_arns: Sequence[str]) -> dict[str, Any]:
    """Lets the topics' subscriptions (and only them) move undeliverable messages into the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "incident-bot-sns-dead-letters",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": list(topic_arns)}},
        }],
    }


def subscription_attributes(queue_arn: str) -> dict[str, str]:
    """The subscription's DeliveryPolicy and RedrivePolicy, as SNS takes them (JSON strings)."""
    return {
        "DeliveryPolicy": json.dumps(DELIVERY_POLICY),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn}),
    }


def requests(plan: Plan, *, queue_url: str | None = None) -> list[dict[str, Any]]:
    """Every AWS request of the setup, in order, as `{"Service", "Action", "Parameters"}` (the dry run)."""
    topic_arns = [plan.topic_arn(name) for name in plan.topics]
    url = queue_url or f"https://sqs.{plan.region}.amazonaws.com/{plan.account}/{plan.queue_name}"
    out: list[dict[str, Any]] = [
        {"Service": "sqs", "Action": "CreateQueue", "Parameters": {
            "QueueName": plan.queue_name, "Attributes": {"MessageRetentionPeriod": str(DLQ_RETENTION)}}},
        *({"Service": "sns", "Action": "CreateTopic", "Parameters": {"Name": name}} for name in plan.topics),
        {"Service": "sqs", "Action": "SetQueueAttributes", "Parameters": {
            "QueueUrl": url, "Attributes": {"Policy": json.dumps(queue_policy(plan.queue_arn, topic_arns))}}},
    ]
    attributes = subscription_attributes(plan.queue_arn)
    out += [
        {"Service": "sns", "Action": "Subscribe", "Parameters": {
            "TopicArn": arn, "Protocol": "https", "Endpoint": plan.endpoint, "Attributes": attributes,
            "ReturnSubscriptionArn": True}}
        for arn in topic_arns
    ]
    return out


@dataclass(frozen=True, slots=True)
class Result:
    """What `apply` made or found."""

    topic_arns: list[str]
    queue_url: str
    subscription_arns: list[str]


def apply(plan: Plan, *, sns: Any, sqs: Any) -> Result:
    """Create or update everything in `plan` with boto3 clients; safe to run again."""
    queue_url = str(sqs.create_queue(QueueName=plan.queue_name,
                                     Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION)})["QueueUrl"])
    queue_arn = str(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
                    ["Attributes"]["QueueArn"])
    topic_arns = [str(sns.create_topic(Name=name)["TopicArn"]) for name in plan.topics]
    sqs.set_queue_attributes(QueueUrl=queue_url,
                             Attributes={"Policy": json.dumps(queue_policy(queue_arn, topic_arns))})
    attributes = subscription_attributes(queue_arn)
    subscriptions = []
    for topic_arn in topic_arns:
        existing = _subscription(sns, topic_arn, plan.endpoint)
        if existing is not None:
            for name, value in attributes.items():
                sns.set_subscription_attributes(SubscriptionArn=existing, AttributeName=name, AttributeValue=value)
            subscriptions.append(existing)
            continue
        answer = sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint=plan.endpoint,
                               Attributes=attributes, ReturnSubscriptionArn=True)
        subscriptions.append(str(answer["SubscriptionArn"]))
    return Result(topic_arns=topic_arns, queue_url=queue_url, subscription_arns=subscriptions)


def _subscription(sns: Any, topic_arn: str, endpoint: str) -> str | None:
    """The confirmed https subscription of `endpoint` to the topic, if any (a pending one is subscribed again,
    which re-sends its confirmation)."""
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            arn = str(sub.get("SubscriptionArn", ""))
            if sub.get("Protocol") == "https" and sub.get("Endpoint") == endpoint and arn.startswith("arn:"):
                return arn
    return None
