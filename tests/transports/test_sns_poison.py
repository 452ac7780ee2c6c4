"""Poison input at POST /sns: refused once with a one-line 4xx (SNS does not retry a 4xx), never a 503."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.support.alarms import metric_alarm
from tests.support.app import BotFactory


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(("content", "reason"), [
    (_nested(1000), "not valid JSON"),
    (b'{"Type": "Notification", "MessageId": "\\ud800"}', "not valid JSON"),
    (b'{"Type": "Notification", "MessageId": "x", "Extra": ' + _nested(50) + b"}", "nested deeper"),
    (b'{"Type": NaN}', "not valid JSON"),
    (b'{"Type": "Notification", "MessageId": "a\\u0000b"}', "MessageId"),
    (b'{"Type": "Notification", "MessageId": "' + b"x" * 200 + b'"}', "MessageId"),
    (b'{"Type": ["Notification"]}', "unknown SNS message type"),
])
async def test_unauthenticated_junk_is_400(make_bot: BotFactory, content: bytes, reason: str) -> None:
    """Deep nesting, lone surrogates, NaN and oversized or control-character ids are a 400 naming the problem."""
    async with make_bot() as bot:
        answer = await bot.post_raw(content)
        assert answer.status_code == 400, answer.text
        assert reason in answer.json()["error"]
        assert "\n" not in answer.json()["error"]


async def test_non_numeric_certificate_port_is_403(make_bot: BotFactory) -> None:
    """A SigningCertURL whose port is not a number is a verification failure, not a crash."""
    async with make_bot() as bot:
        envelope = bot.signer.notification(topic_arn="arn:aws:sns:us-east-1:123456789012:orders-pipeline-critical",
                                           message="x")
        envelope["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com:abc/SimpleNotificationService-x.pem"
        answer = await bot.post_raw(json.dumps(envelope).encode())
        assert answer.status_code == 403
        assert "SigningCertURL" in answer.json()["error"]


def _poison(change: str) -> dict[str, Any] | str:
    body = metric_alarm()
    if change == "year 1":
        body["StateChangeTime"] = "0001-01-01T00:00:00.000+0000"
    elif change == "year 9999":
        body["StateChangeTime"] = "9999-12-31T23:59:59.999+0000"
    elif change == "next year":
        body["StateChangeTime"] = "2099-01-01T00:00:00.000+0000"
    elif change == "period 1e19":
        body["Trigger"]["Period"] = 10**19
    elif change == "period huge":
        body["Trigger"]["Period"] = 10**12
    elif change == "long name":
        body["AlarmName"] = "orders-pipeline-" + "x" * 240
    elif change == "nul name":
        body["AlarmName"] = "orders-pipeline-DLQ\x00Spike"
    elif change == "nul reason":
        body["NewStateReason"] = "bad\x00reason"
    elif change == "threshold string inf":
        body["Trigger"]["Threshold"] = "Infinity"
    elif change == "deep":
        body["Extra"] = json.loads(_nested(100))
    elif change == "long arn":
        body["AlarmArn"] = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + "y" * 1100
    text = json.dumps(body)
    if change == "nan threshold":
        text = text.replace('"Threshold": 100.0', '"Threshold": NaN')
    elif change == "1e309 threshold":
        text = text.replace('"Threshold": 100.0', '"Threshold": 1e309')
    elif change == "infinite period":
        text = text.replace('"Period": 60', '"Period": Infinity')
    return text


@pytest.mark.parametrize(("change", "field"), [
    ("year 1", "StateChangeTime"),
    ("year 9999", "StateChangeTime"),
    ("next year", "in the future"),
    ("period 1e19", "alarm body"),
    ("period huge", "Trigger.Period"),
    ("long name", "AlarmName"),
    ("nul name", "NUL"),
    ("nul reason", "NUL"),
    ("threshold string inf", "Trigger.Threshold"),
    ("deep", "nested deeper"),
    ("long arn", "AlarmArn"),
    ("nan threshold", "not valid JSON"),
    ("1e309 threshold", "too large"),
    ("infinite period", "not valid JSON"),
])
async def test_signed_poison_alarms_are_400_once(make_bot: BotFactory, change: str, field: str) -> None:
    """A signed alarm CloudWatch could never have sent is refused with 400 naming the field, opens nothing,
    and logs one warning (no error blaming the store)."""
    async with make_bot() as bot:
        with capture_logs() as logs:
            answer = await bot.deliver(_poison(change))
        assert answer.status_code == 400, answer.text
        assert field in answer.json()["error"]
        assert "\n" not in answer.json()["error"]
        assert await bot.incidents() == []
        assert not [entry for entry in logs if entry["log_level"] in ("error", "critical")]


async def test_free_text_is_clamped_and_the_page_still_goes_out(make_bot: BotFactory) -> None:
    """An oversized description and reason are accepted, clamped, and the incident opens with its page queued."""
    async with make_bot() as bot:
        body = metric_alarm()
        body["AlarmDescription"] = "d" * 100_000
        body["NewStateReason"] = "r" * 100_000 + " [1e999 (01/12/26 10:00:00)]"
        answer = await bot.deliver(body)
        assert answer.status_code == 200, answer.text
        [incident] = await bot.incidents()
        detail = await bot.incident(incident["id"])
        [page] = [step for step in detail["steps"] if step["kind"] == "page"]
        assert page["status"] == "pending"


async def test_look_alike_certificate_hosts_are_refused_without_a_connection(make_bot: BotFactory) -> None:
    """sns.s3.amazonaws.com (S3's host for a bucket named sns) and other look-alikes never get a request."""
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"connected to {request.url}")

    async with make_bot(sns_signing_cert_file=None, http_transport=httpx.MockTransport(never)) as bot:
        for host in ("sns.s3.amazonaws.com", "sns.s3-us-west-2.amazonaws.com", "sns.elasticbeanstalk.amazonaws.com",
                     "sns.not-a-region-1.amazonaws.com", "sns.us-east-1.amazonaws.com.evil.example"):
            envelope = bot.signer.notification(
                topic_arn="arn:aws:sns:us-east-1:123456789012:orders-pipeline-critical", message="x")
            envelope["SigningCertURL"] = f"https://{host}/SimpleNotificationService-x.pem"
            answer = await bot.post_raw(json.dumps(envelope).encode())
            assert answer.status_code == 403, host
            assert "SigningCertURL" in answer.json()["error"]
