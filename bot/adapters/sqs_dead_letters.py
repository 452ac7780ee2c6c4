"""The SNS dead-letter queue on SQS (boto3), as the drain in `bot.transports.sns_dlq` reads it.

SQS queue URLs live on the SQS endpoint itself (`https://sqs.<region>.amazonaws.com/<account>/<name>`), so the
client talks to the URL's own origin, in the region its host names (else `AWS_REGION`); a local stand-in
(moto's server) works the same way. boto3 blocks: every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

from bot.sns.dead_letters import DeadLetter

_REGION = re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class SqsDeadLetters:
    """Receive and delete dead letters of one SQS queue."""

    def __init__(self, queue_url: str, *, default_region: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        if client is None:
            import boto3

            parts = urlsplit(queue_url)
            match = _REGION.match(parts.hostname or "")
            client = boto3.client("sqs", region_name=match.group(1) if match else default_region,
                                  endpoint_url=f"{parts.scheme}://{parts.netloc}")
        self._client = client

    async def receive(self, limit: int = 10) -> list[DeadLetter]:
        """Up to `limit` (≤ 10) messages, without waiting; they stay invisible to others for 60 s."""
        answer = await asyncio.to_thread(self._client.receive_message, QueueUrl=self.queue_url,
                                         MaxNumberOfMessages=min(limit, 10), WaitTimeSeconds=0,
                                         VisibilityTimeout=60)
        return [DeadLetter(body=str(m.get("Body", "")).encode("utf-8", "surrogatepass"),
                           receipt=str(m["ReceiptHandle"]), message_id=str(m.get("MessageId", "")))
                for m in answer.get("Messages", [])]

    async def delete(self, letter: DeadLetter) -> None:
        """Remove a handled message from the queue."""
        await asyncio.to_thread(self._client.delete_message, QueueUrl=self.queue_url, ReceiptHandle=letter.receipt)
