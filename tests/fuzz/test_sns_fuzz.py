"""Fuzzing POST /sns: structural mutations of envelopes and signed alarms with hostile fields.

Whatever arrives: no 5xx (there is no store outage here), no error-level log line, and every CRITICAL alarm
the bot accepted gets its page at the fake PagerDuty (none given up, none refused by PagerDuty's rules).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sns.signing import SnsSigner
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fuzz.conftest import errors_in
from tests.fuzz.server import FuzzBot
from tests.fuzz.strategies import dumps, hostile_text, json_values, mutate_bytes, nested, numbers
from tests.support.alarms import CRITICAL_TOPIC, HIGH_TOPIC, composite_alarm, cw_time, metric_alarm

pytestmark = pytest.mark.slow



def fuzz(examples: int) -> settings:
    """Settings of a fuzz run: no deadline (the relay shares the machine), no example database."""
    return settings(max_examples=examples, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KNOWN = ["orders-pipeline-DLQSpike", "orders-pipeline-CheckpointFailure", "orders-pipeline-KafkaBrokerDown",
         "orders-pipeline-FirehoseDeliveryFailed", "orders-pipeline-ConsumerLagHigh", "orders-pipeline-Unknown"]
HOSTS = ["sns.us-east-1.amazonaws.com", "sns.s3.amazonaws.com", "sns.elasticbeanstalk.amazonaws.com",
         "sns.us-east-1.amazonaws.com:abc", "u:p@sns.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com:99999",
         "[::1", "sns.us-east-1.amazonaws.com.evil.example"]


@st.composite
def structural(draw: st.DrawFn, signer: SnsSigner) -> bytes:
    """A signed envelope, then one structural mutation of it."""
    envelope: dict[str, Any] = signer.notification(
        topic_arn=CRITICAL_TOPIC, message=json.dumps(metric_alarm(name=draw(st.sampled_from(KNOWN)))))
    kind = draw(st.integers(0, 7))
    key = draw(st.sampled_from([*envelope, "MessageAttributes", "SubscribeURL", draw(hostile_text)]))
    if kind == 0:
        envelope.pop(key, None)
    elif kind == 1:
        envelope[key] = draw(json_values)
    elif kind == 2:
        return draw(st.binary(max_size=200))
    elif kind == 3:
        return nested(draw(st.integers(1, 1500)), array=draw(st.booleans()))
    elif kind == 4:
        scheme = draw(st.sampled_from(["https", "http", "ftp", ""]))
        envelope["SigningCertURL"] = f"{scheme}://{draw(st.sampled_from(HOSTS))}/{draw(hostile_text)}"
    elif kind == 5:
        envelope["Type"] = draw(st.sampled_from(["SubscriptionConfirmation", "UnsubscribeConfirmation", "x"]))
    elif kind == 6:
        envelope[key] = draw(hostile_text)
    data = dumps(envelope, draw(st.integers(0, 2)))
    if draw(st.integers(0, 3)) == 0:
        data = mutate_bytes(data, draw(st.integers(0, 3)), draw(st.integers(0, 10**6)), draw(st.integers(0, 255)))
    return data


def _maybe(draw: st.DrawFn, valid: Any, hostile: st.SearchStrategy[Any]) -> Any:
    """Mostly the valid value (so many alarms are accepted and page), sometimes a hostile one."""
    # About one field in ten: a body has some fifteen fields, so most bodies carry one or two hostile values.
    return valid if draw(st.integers(0, 99)) >= 10 else draw(hostile)


# Names CloudWatch would take (any printable text up to 255) but nobody would pick: markup, RTL marks, emoji.
names = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=255),
    st.sampled_from(["<!channel> DLQ", "a&b<c>d", "\u202eevil", "orders-pipeline-" + "x" * 239, "😀" * 100,
                     "orders-pipeline-dlqspike", "*bold* _it_ `code`", "{{ alarm.name }}", "#general"]),
).filter(lambda name: name.strip() != "")
times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.000+0000")),
    hostile_text, numbers,
)


@st.composite
def alarm_message(draw: st.DrawFn) -> str:
    """A CloudWatch alarm body with some fields made hostile, serialized (NaN tokens allowed)."""
    at = datetime.now(UTC) - timedelta(seconds=draw(st.integers(0, 3600)))
    state = draw(st.sampled_from(["ALARM", "ALARM", "ALARM", "OK", "INSUFFICIENT_DATA"]))
    if draw(st.booleans()):
        name: Any = draw(st.sampled_from(KNOWN))
    elif draw(st.integers(0, 3)):
        # A distinct alarm each time (the suffix), so that many of them open incidents of their own.
        name = f"{draw(names)}"[:200] + f"-{draw(st.uuids()).hex[:12]}"
    else:
        name = draw(st.one_of(hostile_text, json_values))
    body: dict[str, Any] = (composite_alarm(at=at, state=state) if draw(st.integers(0, 5)) == 0
                            else metric_alarm(state=state, at=at))
    body["AlarmName"] = name
    if isinstance(name, str):
        body["AlarmArn"] = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    body["StateChangeTime"] = _maybe(draw, cw_time(at), times)
    body["NewStateValue"] = _maybe(draw, state, json_values)
    body["OldStateValue"] = _maybe(draw, body.get("OldStateValue"), json_values)
    body["AlarmDescription"] = _maybe(draw, body.get("AlarmDescription"), hostile_text)
    reason = st.one_of(hostile_text, st.text(max_size=20).map(lambda t: f"x [{t} (01/01/26 00:00:00)]"),
                       st.sampled_from(["[1e999 (", "[nan (", "[-inf (", "[1" + "0" * 400 + " ("]))
    body["NewStateReason"] = _maybe(draw, body["NewStateReason"], reason)
    trigger = body.get("Trigger")
    if isinstance(trigger, dict):
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold"):
            trigger[key] = _maybe(draw, trigger[key], st.one_of(numbers, hostile_text))
        for key in ("Dimensions", "Unit", "TreatMissingData", "Metrics", "ComparisonOperator", "MetricName"):
            trigger[key] = _maybe(draw, trigger.get(key), json_values)
    else:
        body["AlarmRule"] = _maybe(draw, body.get("AlarmRule"), hostile_text)
        body["TriggeringChildren"] = _maybe(draw, body.get("TriggeringChildren"), json_values)
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(["Trigger", "Region", "AWSAccountId", "AlarmArn", draw(hostile_text)]))] = draw(
            json_values)
    text = json.dumps(body, allow_nan=True)
    if draw(st.integers(0, 19)) == 0:
        text = text[:-1] + ', "deep": ' + nested(draw(st.integers(10, 300)), array=True).decode() + "}"
    return text


def _post(bot: FuzzBot, data: bytes) -> Any:
    return bot.client.post("/sns", content=data, headers={"content-type": "text/plain; charset=UTF-8"})


# Structure is refused before the store is touched: SQLite is enough (the semantic suite runs on both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_structural_mutations_of_envelopes(fuzz_bot: FuzzBot, signer: SnsSigner, fake_pagerduty: FakePagerDuty,
                                           captured: list[dict[str, Any]], caplog: pytest.LogCaptureFixture,
                                           ) -> None:
    """700 mutated envelopes (deleted and retyped keys, junk bytes, 1500-deep JSON, look-alike certificate
    hosts, flipped bytes, lone surrogates): each gets a 2xx, 400, 403 or 413; never a 5xx."""
    statuses: dict[int, int] = {}

    @fuzz(700)
    @given(data=structural(signer))
    def run(data: bytes) -> None:
        answer = _post(fuzz_bot, data)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code in (200, 400, 403, 413), (answer.status_code, answer.text, data[:300])
        assert "\n" not in answer.text

    run()
    _check_pages(fuzz_bot, fake_pagerduty)
    assert errors_in(captured, caplog) == []
    assert statuses.get(400) and statuses.get(403), statuses
    assert sum(statuses.values()) >= 700, statuses


def test_signed_alarms_with_hostile_fields(fuzz_bot: FuzzBot, signer: SnsSigner, fake_pagerduty: FakePagerDuty,
                                           captured: list[dict[str, Any]], caplog: pytest.LogCaptureFixture,
                                           ) -> None:
    """900 authentic deliveries whose alarm fields are hostile (NaN, 1e309, 10^19, year 1 and 9999, NUL,
    oversized and nested values, names full of markup): 200 or 400, never 5xx; every accepted CRITICAL alarm
    is paged, and every channel, post and alert of an accepted alarm goes out."""
    outcomes: dict[str, int] = {}

    @fuzz(900)
    @given(message=alarm_message(), high=st.booleans(), redeliver=st.integers(0, 9))
    def run(message: str, high: bool, redeliver: int) -> None:
        envelope = signer.notification(topic_arn=HIGH_TOPIC if high else CRITICAL_TOPIC, message=message,
                                       message_id=str(uuid.uuid4()))
        data = json.dumps(envelope).encode()
        for _ in range(2 if redeliver == 0 else 1):
            answer = _post(fuzz_bot, data)
            assert answer.status_code in (200, 400), (answer.status_code, answer.text, message[:500])
            key = answer.json().get("outcome") or "refused"
            outcomes[key] = outcomes.get(key, 0) + 1

    run()
    _check_pages(fuzz_bot, fake_pagerduty)
    assert errors_in(captured, caplog) == []
    assert outcomes.get("opened") and outcomes.get("refused"), outcomes
    assert sum(outcomes.values()) >= 900, outcomes


def _check_pages(bot: FuzzBot, fake_pagerduty: FakePagerDuty) -> None:
    """Every CRITICAL alarm incident has its page at PagerDuty; no page, post or channel step was given up;
    PagerDuty refused nothing."""
    details = bot.wait_settled(lanes=("pager", "chat"))
    assert fake_pagerduty.rejected == []
    for detail in details:
        steps = [step for step in detail["steps"] if step["lane"] in ("pager", "chat")]
        assert all(step["status"] == "done" for step in steps), (detail["id"], steps)
        if detail["severity"] == "CRITICAL" and detail["source"] == "alarm":
            assert fake_pagerduty.incident(f"incident-bot/{detail['id']}") is not None, detail["id"]
