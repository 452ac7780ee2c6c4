"""Local alarm evaluation with CloudWatch's semantics, on synthetic metrics, and delivery as signed SNS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.alarms.models import AlarmState, parse_alarm
from bot.sns.envelope import parse_envelope
from bot.sns.signing import SnsSigner, generate_identity
from bot.sns.verify import SignatureVerifier
from pipeline import infra
from pipeline.alarms import ALARMS, AlarmSpec
from pipeline.emf import datums, read_files
from pipeline.evaluator import deliver, evaluate_series
from pipeline.metrics import Stat

T0 = int(datetime(2026, 11, 25, 10, 30, tzinfo=UTC).timestamp() * 1000)
DLQ = next(a for a in ALARMS if a.name == "DLQSpike")


def _series(name: str, values: dict[int, float]) -> dict[Any, dict[int, Stat]]:
    out: dict[int, Stat] = {}
    for minute, value in values.items():
        stat = Stat()
        stat.add(value)
        out[T0 + minute * 60_000] = stat
    return {(name, ()): out}


def test_two_breaching_minutes_raise_the_alarm_with_cloudwatch_wording() -> None:
    """Two minutes over 100 move DLQSpike to ALARM with CloudWatch's reason, newest datapoint first."""
    changes = evaluate_series(_series("DLQRecordCount", {0: 5, 1: 152, 2: 148}), [DLQ])
    assert [(c.old_state, c.new_state) for c in changes] == [("OK", "ALARM")]
    body = changes[0].body
    assert body["NewStateReason"] == (
        "Threshold Crossed: 2 out of the last 2 datapoints [148.0 (25/11/26 10:32:00), 152.0 (25/11/26 10:31:00)]"
        " was greater than the threshold (100.0) (minimum 2 datapoints for OK -> ALARM transition).")
    assert body["StateChangeTime"] == "2026-11-25T10:33:00.000+0000"
    assert body["Region"] == "US East (N. Virginia)"
    assert body["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-pipeline-DLQSpike"
    assert body["Trigger"]["Statistic"] == "SUM" and body["Trigger"]["Namespace"] == "OrdersPipeline"
    assert changes[0].topic_arn.endswith(":orders-pipeline-critical")
    assert changes[0].subject == 'ALARM: "orders-pipeline-DLQSpike" in US East (N. Virginia)'


def test_a_single_spike_does_not_page() -> None:
    """One breaching minute between quiet ones is noise: no state change."""
    assert evaluate_series(_series("DLQRecordCount", {0: 5, 1: 500, 2: 3, 3: 4}), [DLQ]) == []


def test_alarm_returns_to_ok_when_the_window_stops_breaching() -> None:
    """After the spike, one quiet minute is enough to leave ALARM for a 2-of-2 alarm."""
    changes = evaluate_series(_series("DLQRecordCount", {0: 150, 1: 150, 2: 3}), [DLQ])
    assert [(c.old_state, c.new_state) for c in changes] == [("OK", "ALARM"), ("ALARM", "OK")]
    assert changes[1].body["NewStateReason"].endswith(
        "was not greater than the threshold (100.0) (minimum 1 datapoint for ALARM -> OK transition).")
    assert changes[1].body["OldStateValue"] == "ALARM"


def test_m_out_of_n_counts_breaching_datapoints_only() -> None:
    """A 2-of-3 alarm fires on breaches in minutes 0 and 2 with a quiet minute between."""
    spec = replace(DLQ, evaluation_periods=3, datapoints_to_alarm=2)
    changes = evaluate_series(_series("DLQRecordCount", {0: 150, 1: 3, 2: 150}), [spec])
    assert [c.new_state for c in changes] == ["ALARM"]
    assert "2 out of the last 3 datapoints" in changes[0].body["NewStateReason"]


def test_missing_data_follows_treat_missing_data() -> None:
    """Missing minutes do not breach under notBreaching; under breaching they complete a 2-of-2 window."""
    gaps = {0: 150, 3: 150, 5: 1}
    assert evaluate_series(_series("DLQRecordCount", gaps), [DLQ]) == []
    breaching = replace(DLQ, treat_missing_data="breaching")
    changes = evaluate_series(_series("DLQRecordCount", gaps), [breaching])
    assert changes[0].new_state == "ALARM" and changes[0].at.minute == 31


def test_less_than_alarms_and_five_minute_periods() -> None:
    """WindowCompleteness averages over 5-minute periods and fires below 95 % for two of them."""
    spec = next(a for a in ALARMS if a.name == "WindowCompletenessLow")
    values = {m: (100.0 if m < 5 else 90.0) for m in range(15)}
    changes = evaluate_series(_series("WindowCompleteness", values), [spec])
    assert changes[0].new_state == "ALARM"
    assert "was less than the threshold (95.0)" in changes[0].body["NewStateReason"]
    assert changes[0].body["Trigger"]["Period"] == 300


def test_percentile_alarms_use_the_distribution() -> None:
    """LatencyP99High reads p99 of the latency histogram, and says so as an ExtendedStatistic."""
    spec: AlarmSpec = next(a for a in ALARMS if a.name == "LatencyP99High")
    series: dict[int, Stat] = {}
    for minute in range(3):
        stat = Stat()
        for value, count in ((100.0, 95), (8000.0, 5)):
            stat.add(value, count)
            stat.values[value] += count
        series[T0 + minute * 60_000] = stat
    changes = evaluate_series({("ProcessingLatency", ()): series}, [spec])
    assert changes[0].new_state == "ALARM"
    assert changes[0].body["Trigger"]["ExtendedStatistic"] == "p99"
    assert "[8000.0 (25/11/26 10:31:00), 8000.0 (25/11/26 10:30:00)]" in changes[0].body["NewStateReason"]


def test_alarms_on_metrics_never_emitted_are_not_evaluated() -> None:
    """KafkaBrokerDown treats missing data as breaching, but with no broker metric at all it is skipped."""
    changes = evaluate_series(_series("DLQRecordCount", {0: 1, 1: 1, 2: 1}), ALARMS)
    assert changes == []


def test_the_bot_parses_the_body_it_receives() -> None:
    """The body parses with the bot's own alarm parser into the values the evaluator used."""
    change = evaluate_series(_series("DLQRecordCount", {0: 152, 1: 148}), [DLQ])[0]
    event = parse_alarm(json.dumps(change.body))
    assert event is not None
    assert event.new_state is AlarmState.ALARM and event.old_state is AlarmState.OK
    assert event.observed_value == 148.0 and event.threshold == 100.0 and event.period == 60
    assert event.region == "us-east-1"


def test_simulated_platform_faults_fire_the_aws_metric_alarms_with_their_namespace_and_dimensions() -> None:
    """`pipeline.infra` writes AWS/Kafka and AWS/Firehose datums as AWS does; the alarms find them by name and
    dimensions, and the body the bot parses names the real namespace and dimensions."""
    faults = [infra.PlatformFault("broker_down", T0 + 5 * 60_000, T0 + 9 * 60_000),
              infra.PlatformFault("firehose_failure", T0 + 12 * 60_000, T0 + 13 * 60_000),
              infra.PlatformFault("consumer_lag", T0 + 14 * 60_000, T0 + 19 * 60_000)]
    series = read_files([])
    for doc in infra.minute_datums(T0, T0 + 25 * 60_000, faults):
        for datum in datums(doc):
            series.setdefault((datum.name, datum.dims), {}).setdefault(datum.timestamp_ms, Stat()).merge(datum.stat)
    changes = [c for c in evaluate_series(series, ALARMS) if c.new_state == "ALARM"]
    fired = {c.alarm_name.removeprefix("orders-pipeline-"): c for c in changes}
    assert set(fired) == {"KafkaBrokerDown", "FirehoseDeliveryFailed", "ConsumerLagHigh"}
    brokers = parse_alarm(json.dumps(fired["KafkaBrokerDown"].body))
    assert brokers is not None and brokers.namespace == "AWS/Kafka" and brokers.statistic == "SAMPLE_COUNT"
    assert brokers.metric_name == "ActiveControllerCount" and brokers.observed_value == 2.0
    assert brokers.dimensions == {"Cluster Name": "orders-pipeline"}
    firehose = parse_alarm(json.dumps(fired["FirehoseDeliveryFailed"].body))
    assert firehose is not None and firehose.namespace == "AWS/Firehose"
    assert firehose.dimensions == {"DeliveryStreamName": "orders-output"} and firehose.observed_value == 0.75
    lag = parse_alarm(json.dumps(fired["ConsumerLagHigh"].body))
    assert lag is not None and lag.metric_name == "SumOffsetLag" and lag.dimensions["Topic"] == "orders.raw"


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sns_endpoint() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sns", _Recorder.received
    server.shutdown()
    server.server_close()


async def test_deliver_posts_signed_sns_notifications(
    tmp_path: Path, sns_endpoint: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    """Each change arrives as a text/plain SNS Notification whose signature verifies with the cert."""
    url, received = sns_endpoint
    key, cert = generate_identity(tmp_path)
    changes = evaluate_series(_series("DLQRecordCount", {0: 150, 1: 150, 2: 3}), [DLQ])
    assert deliver(changes, url, SnsSigner.from_file(key)) == [200, 200]
    headers, raw = received[0]
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert headers["x-amz-sns-message-type"] == "Notification"
    envelope = parse_envelope(raw)
    await SignatureVerifier(fetch=_no_fetch, local_cert=cert).verify(envelope)
    assert envelope.subject == 'ALARM: "orders-pipeline-DLQSpike" in US East (N. Virginia)'
    assert json.loads(parse_envelope(received[1][1]).message)["NewStateValue"] == "OK"


async def _no_fetch(url: str) -> bytes:
    raise AssertionError("the local certificate must be used")
