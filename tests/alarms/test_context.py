"""What `alarm_context` gives runbooks for every alarm kind and for bodies with fields missing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from bot.alarms.context import alarm_context, logs_insights_url, number
from bot.alarms.models import AlarmKind, alarm_from_body
from bot.alarms.severity import Severity
from tests.alarms.bodies import all_kinds, fixture


def test_metric_fixture_context_carries_numbers_window_and_links() -> None:
    """The AWS metric-alarm sample yields its threshold, datapoint, window and console links."""
    event = alarm_from_body(fixture("metric-alarm.json"))
    ctx = alarm_context(event, severity=Severity.CRITICAL, incident_id=12, channel="inc-12-example",
                        dashboard="Errors", runbook_url="https://git.example.com/runbooks/DLQSpike.md")
    assert ctx["alarm"]["name"] == "EXAMPLE"
    assert ctx["alarm"]["kind"] == "metric"
    assert ctx["alarm"]["state"] == "ALARM"
    assert ctx["alarm"]["old_state"] == "INSUFFICIENT_DATA"
    assert ctx["metric"]["name"] == "NetworkOut"
    assert ctx["metric"]["namespace"] == "AWS/EC2"
    assert ctx["metric"]["dimensions"] == {"InstanceId": "TestInstance"}
    assert ctx["comparison"] == ">"
    assert ctx["threshold"] == 0.0
    assert ctx["threshold_text"] == "0"
    assert ctx["observed"] == 1234.0
    assert ctx["observed_text"] == "1,234"
    assert ctx["period_text"] == "1 min"
    assert ctx["evaluation_periods"] == 1
    assert ctx["window"]["end"] == "2015-06-03T17:43:27.123Z"
    assert ctx["window"]["start"] == "2015-06-03T17:42:27.123Z"
    assert ctx["window"]["minutes"] == 1
    assert ctx["window"]["text"] == "17:42–17:43 UTC on 2015-06-03 (1 min)"
    # The sample's ARN says REGION and its Region says EXAMPLE: the default region keeps links usable.
    assert ctx["region"] == "us-east-1"
    assert ctx["region_name"] == "US East (N. Virginia)"
    assert ctx["severity"] == "CRITICAL"
    assert ctx["incident_id"] == 12
    assert ctx["incident_ref"] == "#12"
    assert ctx["channel"] == "inc-12-example"
    assert ctx["links"] == {
        "alarm": "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/EXAMPLE",
        "dashboard": "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
                     "#dashboards:name=orders-pipeline-Errors",
        "logs_insights": ctx["links"]["logs_insights"],
        "runbook": "https://git.example.com/runbooks/DLQSpike.md",
    }
    assert ctx["links"]["logs_insights"].startswith(
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:logs-insights$3FqueryDetail"
    )


def test_region_comes_from_the_arn_and_names_are_url_quoted() -> None:
    """An alarm in eu-south-1 links to that region's console, with its name percent-encoded."""
    body = all_kinds("orders-pipeline-DLQSpike")["metric"]
    body["AlarmName"] = "orders pipeline/DLQ spike"
    ctx = alarm_context(alarm_from_body(body), severity=Severity.HIGH, dashboard_prefix="staging")
    assert ctx["region"] == "eu-south-1"
    assert ctx["region_name"] == "EU (Milan)"
    assert ctx["links"]["alarm"].endswith("?region=eu-south-1#alarmsV2:alarm/orders%20pipeline%2FDLQ%20spike")
    assert ctx["links"]["dashboard"].endswith("#dashboards:name=staging-Health")


def test_long_region_name_gives_the_code_when_the_arn_has_none() -> None:
    """Old bodies without an ARN still link to the right region through the long region name."""
    body = fixture("metric-alarm.json")
    del body["AlarmArn"]
    body["Region"] = "US West (Oregon)"
    ctx = alarm_context(alarm_from_body(body), severity=Severity.HIGH)
    assert ctx["region"] == "us-west-2"
    assert "region=us-west-2" in ctx["links"]["alarm"]


@pytest.mark.parametrize("kind", ["metric", "metric_math", "anomaly_detection", "composite"])
def test_every_kind_gives_a_json_context_with_text_for_each_value(kind: str) -> None:
    """Each alarm kind yields a JSON-serialisable context whose text fields never read `None`."""
    event = alarm_from_body(all_kinds("orders-pipeline-DLQSpike")[kind])
    assert event.kind is AlarmKind(kind)
    ctx = alarm_context(event, severity=Severity.CRITICAL)
    json.dumps(ctx)
    for key in ("threshold_text", "observed_text", "period_text", "condition_text", "comparison", "account"):
        assert ctx[key], key
        assert "None" not in ctx[key], key
    assert ctx["window"]["minutes"] >= 1


def test_metric_math_names_the_underlying_metric_and_expression() -> None:
    """A metric-math alarm shows the metric it reads and the expression it alarms on."""
    ctx = alarm_context(alarm_from_body(fixture("metric-math-alarm.json")), severity=Severity.HIGH)
    assert ctx["metric"]["name"] == "NetworkOut"
    assert ctx["metric"]["statistic"] == "Average"
    assert ctx["metric"]["expressions"] == [{"id": "e1", "expression": "m1*1", "label": "Expression1"}]
    assert ctx["condition_text"] == "NetworkOut = 1,234 > 0 (per 1 min, 1 of 1 periods)"


def test_anomaly_alarm_has_a_band_not_a_threshold() -> None:
    """An anomaly-detection alarm reads as crossing its band, with the raw threshold None."""
    ctx = alarm_context(alarm_from_body(all_kinds("x")["anomaly_detection"]), severity=Severity.HIGH)
    assert ctx["threshold"] is None
    assert ctx["threshold_text"] == "the anomaly band (ad1)"
    assert ctx["comparison"] == "outside band"
    assert ctx["observed_text"] == "152"


def test_composite_alarm_has_rule_children_and_a_default_window() -> None:
    """A composite alarm gives its rule and triggering child, no metric, and a 5-minute window."""
    ctx = alarm_context(alarm_from_body(all_kinds("orders-pipeline-DataLoss")["composite"]),
                        severity=Severity.CRITICAL)
    assert ctx["alarm"]["is_composite"] is True
    assert ctx["alarm"]["rule"].startswith('ALARM("arn:aws:cloudwatch:eu-south-1')
    assert ctx["alarm"]["children"][0]["name"] == "orders-pipeline-DLQSpike"
    assert ctx["alarm"]["children"][0]["state"] == "ALARM"
    assert ctx["metric"]["name"] == ""
    assert ctx["metric"]["label"] == "n/a (composite alarm)"
    assert ctx["threshold"] is None
    assert ctx["threshold_text"] == "n/a (composite alarm)"
    assert ctx["period_text"] == "n/a"
    assert ctx["window"]["minutes"] == 5
    assert ctx["condition_text"].startswith("rule ALARM(")


def test_missing_fields_read_as_words_not_none() -> None:
    """A body with no old state, reason, description or datapoint still reads sensibly."""
    body = fixture("metric-alarm.json")
    for key in ("OldStateValue", "NewStateReason", "AlarmDescription", "AWSAccountId"):
        body.pop(key)
    ctx = alarm_context(alarm_from_body(body), severity=Severity.HIGH)
    assert ctx["alarm"]["old_state"] == "unknown"
    assert ctx["alarm"]["reason"] == "(CloudWatch gave no reason)"
    assert ctx["alarm"]["description"] == ""
    assert ctx["observed"] is None
    assert ctx["observed_text"] == "unknown"
    assert ctx["account"] == "unknown"
    assert ctx["incident_ref"] == "(not opened yet)"
    assert ctx["channel"] == ""


def _decode_query_detail(url: str) -> str:
    fragment = url.split("#logsV2:logs-insights", 1)[1]
    return unquote(unquote(fragment.replace("$", "%")))


def test_logs_insights_link_carries_query_groups_and_absolute_time() -> None:
    """The Logs Insights link decodes to the query text, both log groups and the UTC time range."""
    query = 'fields @timestamp, error_type\n| filter error_type in ["timeout"]\n| stats count() by bin(5m)'
    url = logs_insights_url(
        "eu-west-1",
        start=datetime(2025, 1, 13, 10, 0, tzinfo=UTC),
        end=datetime(2025, 1, 13, 10, 30, tzinfo=UTC),
        log_groups=["/orders-pipeline/flink", "/orders-pipeline/firehose"],
        query=query,
    )
    assert url.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:")
    assert "$257E$2528end$257E$2527" in url  # the console's own spelling of `~(end~'`
    detail = _decode_query_detail(url)
    assert detail.startswith(
        "?queryDetail=~(end~'2025-01-13T10*3a30*3a00.000Z~start~'2025-01-13T10*3a00*3a00.000Z"
    )
    assert "~timeType~'ABSOLUTE~tz~'UTC~" in detail
    assert detail.endswith("~source~(~'*2forders-pipeline*2fflink~'*2forders-pipeline*2ffirehose))")
    editor = re.search(r"~editorString~'([^~]*)~", detail)
    assert editor is not None
    decoded = re.sub(r"\*([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), editor.group(1))
    assert decoded == query


@pytest.mark.parametrize(
    ("value", "text"),
    [(50000.0, "50,000"), (0.5, "0.5"), (99.456, "99.46"), (-3.0, "-3"), (float("nan"), "nan")],
)
def test_numbers_read_as_people_write_them(value: float, text: str) -> None:
    """Metric values print with thousands separators and at most two decimals."""
    assert number(value) == text


def test_anomaly_condition_names_the_band_once() -> None:
    """The anomaly alarm's condition reads `DLQRecordCount = 152 outside band (ad1)`."""
    ctx = alarm_context(alarm_from_body(all_kinds("x")["anomaly_detection"]), severity=Severity.HIGH)
    assert ctx["condition_text"] == "DLQRecordCount = 152 outside band (ad1) (per 1 min, 2 of 2 periods)"
