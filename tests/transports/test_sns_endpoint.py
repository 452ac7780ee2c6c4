"""POST /sns answers every class of bad input with a clear 4xx and acts only on authentic deliveries."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.alarms import CRITICAL_TOPIC, metric_alarm
from tests.support.app import BotFactory

REAL = Path(__file__).parent.parent / "fixtures" / "sns-real"
AWS_CERT = REAL / "SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"


@pytest.mark.parametrize(("content", "status", "reason"), [
    (b"{oops", 400, "not valid JSON"),
    (b'{"Type": "Notification"}', 400, "missing field: MessageId"),
    (b'{"Type": "Telegram", "MessageId": "1"}', 400, "unknown SNS message type"),
    (b"", 400, "not valid JSON"),
])
async def test_malformed_bodies_get_400(make_bot: BotFactory, content: bytes, status: int, reason: str) -> None:
    """Malformed JSON, missing fields and unknown types get 400 with a one-line reason."""
    async with make_bot() as bot:
        answer = await bot.post_raw(content)
        assert answer.status_code == status
        assert reason in answer.json()["error"]
        assert "\n" not in answer.json()["error"]


async def test_oversized_body_gets_413(make_bot: BotFactory) -> None:
    """A body over 256 KiB is refused before it is parsed."""
    async with make_bot() as bot:
        answer = await bot.post_raw(b"x" * (256 * 1024 + 1))
        assert answer.status_code == 413


async def test_tampered_delivery_gets_403_and_opens_nothing(make_bot: BotFactory) -> None:
    """A delivery whose Message was changed after signing is refused."""
    async with make_bot() as bot:
        envelope = bot.signer.notification(topic_arn=CRITICAL_TOPIC, message=json.dumps(metric_alarm()))
        envelope["Message"] = str(envelope["Message"]).replace("152.0", "15.0")
        answer = await bot.post_raw(json.dumps(envelope).encode())
        assert answer.status_code == 403
        assert "signature" in answer.json()["error"]
        assert await bot.incidents() == []


async def test_foreign_topic_gets_403(make_bot: BotFactory) -> None:
    """A correctly signed delivery from a topic outside SNS_TOPIC_ARNS is refused."""
    async with make_bot() as bot:
        answer = await bot.deliver(metric_alarm(), topic="arn:aws:sns:us-east-1:999999999999:someone-else")
        assert answer.status_code == 403
        assert "SNS_TOPIC_ARNS" in answer.json()["error"]


async def test_wrong_certificate_host_gets_403(make_bot: BotFactory) -> None:
    """A SigningCertURL outside amazonaws.com is refused."""
    async with make_bot() as bot:
        envelope = bot.signer.notification(topic_arn=CRITICAL_TOPIC, message="x")
        envelope["SigningCertURL"] = "https://attacker.example/SimpleNotificationService-x.pem"
        answer = await bot.post_raw(json.dumps(envelope).encode())
        assert answer.status_code == 403


async def test_malformed_alarm_body_gets_400(make_bot: BotFactory) -> None:
    """An alarm whose fields are malformed is refused with the field named."""
    async with make_bot() as bot:
        body = metric_alarm()
        body["StateChangeTime"] = "yesterday"
        answer = await bot.deliver(body)
        assert answer.status_code == 400
        assert "StateChangeTime" in answer.json()["error"]


async def test_real_aws_subscription_confirmation_is_confirmed(make_bot: BotFactory) -> None:
    """AWS's real SubscriptionConfirmation verifies and its SubscribeURL is GET once (the network is faked)."""
    requested: list[str] = []

    def aws(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(200, text="<ConfirmSubscriptionResponse/>")

    topic = "arn:aws:sns:us-west-2:131990247566:dongie-standard-topic"
    async with make_bot(sns_signing_cert_file=AWS_CERT, sns_topic_arns=[topic],
                        http_transport=httpx.MockTransport(aws)) as bot:
        answer = await bot.post_raw((REAL / "javav2_2026_subscription_confirmation_v1.json").read_bytes())
        assert answer.status_code == 200 and answer.json()["outcome"] == "confirmed"
        assert requested and requested[0].startswith("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription")
        unsubscribed = await bot.post_raw((REAL / "javav2_2026_unsubscribe_confirmation_v2.json").read_bytes())
        assert unsubscribed.status_code == 200 and unsubscribed.json()["outcome"] == "unsubscribed"
        notification = await bot.post_raw((REAL / "javav2_2026_notification_v2_no_subject.json").read_bytes())
        assert notification.json()["outcome"] == "not_an_alarm"


async def test_confirmation_failure_is_502_not_500(make_bot: BotFactory) -> None:
    """When the SubscribeURL cannot be reached the answer is 502 with a reason (SNS sends it again)."""
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route")

    async with make_bot(http_transport=httpx.MockTransport(down)) as bot:
        envelope = bot.signer.confirmation(topic_arn=CRITICAL_TOPIC)
        answer = await bot.post_raw(json.dumps(envelope).encode())
        assert answer.status_code == 502
        assert "confirm" in answer.json()["error"]


async def test_subscribe_url_off_sns_host_is_refused(make_bot: BotFactory) -> None:
    """A signed confirmation pointing its SubscribeURL elsewhere is refused and nothing is fetched."""
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("fetched")

    async with make_bot(http_transport=httpx.MockTransport(never)) as bot:
        envelope = bot.signer.confirmation(topic_arn=CRITICAL_TOPIC, subscribe_url="https://evil.example/confirm")
        answer = await bot.post_raw(json.dumps(envelope).encode())
        assert answer.status_code == 403


async def test_api_bad_input_is_4xx(make_bot: BotFactory) -> None:
    """The incidents API answers unknown ids with 404 and malformed ones with 400, each one line."""
    async with make_bot() as bot:
        assert (await bot.client.get("/api/incidents/12345")).status_code == 404
        bad = await bot.client.get("/api/incidents/abc")
        assert bad.status_code == 400 and "incident_id" in bad.json()["error"]
        assert (await bot.client.get("/api/incidents?limit=0")).status_code == 400
        assert (await bot.client.get("/nowhere")).status_code == 404
        assert (await bot.client.get("/healthz")).json() == {"status": "ok"}
        assert (await bot.client.get("/readyz")).status_code == 200


async def test_metrics_count_deliveries(make_bot: BotFactory) -> None:
    """/metrics shows deliveries by type and outcome and incidents opened."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm())
        await bot.post_raw(b"{oops")
        text = (await bot.client.get("/metrics")).text
        assert 'incident_bot_sns_deliveries_total{outcome="opened",type="Notification"} 1.0' in text
        assert 'incident_bot_sns_deliveries_total{outcome="bad_request",type="unknown"} 1.0' in text
        assert 'incident_bot_incidents_opened_total{severity="CRITICAL"} 1.0' in text
