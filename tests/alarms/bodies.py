"""Alarm bodies of every kind, derived from the AWS-written fixtures in tests/fixtures/cloudwatch-alarms."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cloudwatch-alarms"
ARN = "arn:aws:cloudwatch:eu-south-1:123456789012:alarm:"


def fixture(name: str) -> dict[str, Any]:
    """A fixture body as AWS wrote it."""
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def renamed(body: dict[str, Any], alarm_name: str, *, value: float = 152.0, threshold: float = 100.0,
            period: int = 60, periods: int = 2) -> dict[str, Any]:
    """`body` as our alarm `alarm_name` would send it: real region, our threshold, our datapoint."""
    out = copy.deepcopy(body)
    out["AlarmName"] = alarm_name
    out["AlarmArn"] = ARN + alarm_name
    out["Region"] = "EU (Milan)"
    out["AWSAccountId"] = "123456789012"
    out["NewStateReason"] = (
        f"Threshold Crossed: {periods} out of the last {periods} datapoints [{value} (03/06/15 17:43:27)] "
        f"was greater than the threshold ({threshold}) "
        f"(minimum {periods} datapoints for OK -> ALARM transition)."
    )
    if "Trigger" in out:
        out["Trigger"].update(Threshold=threshold, Period=period, EvaluationPeriods=periods)
    return out


def anomaly(body: dict[str, Any]) -> dict[str, Any]:
    """An anomaly-detection alarm: a band expression and `ThresholdMetricId`, no threshold."""
    out = copy.deepcopy(body)
    trigger = out["Trigger"]
    trigger.pop("Threshold", None)
    trigger["ComparisonOperator"] = "LessThanLowerOrGreaterThanUpperThreshold"
    trigger["ThresholdMetricId"] = "ad1"
    trigger["Metrics"] = [
        {"Id": "m1", "ReturnData": True,
         "MetricStat": {"Metric": {"MetricName": "DLQRecordCount", "Namespace": "OrdersPipeline"},
                        "Period": 60, "Stat": "Sum"}},
        {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "Label": "DLQ (expected)",
         "ReturnData": True},
    ]
    return out


def composite(alarm_name: str) -> dict[str, Any]:
    """A composite alarm body: no Trigger, an AlarmRule and the child that moved it."""
    child = ARN + "orders-pipeline-DLQSpike"
    return {
        "AlarmName": alarm_name,
        "AlarmDescription": None,
        "AWSAccountId": "123456789012",
        "NewStateValue": "ALARM",
        "NewStateReason": f"{child} transitioned to ALARM at Wednesday 03 June, 2015 17:43:27 UTC",
        "StateChangeTime": "2015-06-03T17:43:27.123+0000",
        "Region": "EU (Milan)",
        "AlarmArn": ARN + alarm_name,
        "OldStateValue": "OK",
        "AlarmRule": f'ALARM("{child}") OR ALARM("{ARN}orders-pipeline-CheckpointFailure")',
        "TriggeringChildren": [{"Arn": child, "State": {"Value": "ALARM",
                                                        "Timestamp": "2015-06-03T17:43:27.123+0000"}}],
    }


def all_kinds(alarm_name: str) -> dict[str, dict[str, Any]]:
    """One body per alarm kind for `alarm_name`: datapoint 152 over threshold 100 where it has one."""
    metric = renamed(fixture("metric-alarm.json"), alarm_name)
    math = renamed(fixture("metric-math-alarm.json"), alarm_name)
    return {"metric": metric, "metric_math": math, "anomaly_detection": anomaly(math),
            "composite": composite(alarm_name)}
