"""CloudWatch alarm bodies in CloudWatch's own format, for tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
CRITICAL_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:orders-pipeline-critical"
HIGH_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:orders-pipeline-high"


def cw_time(moment: datetime) -> str:
    """CloudWatch's StateChangeTime format (`+0000`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def metric_alarm(
    name: str = "orders-pipeline-DLQSpike",
    state: str = "ALARM",
    old: str = "OK",
    *,
    at: datetime | None = None,
    metric: str = "DLQRecordCount",
    threshold: float = 100.0,
    value: float = 152.0,
    period: int = 60,
    periods: int = 2,
    comparison: str = "GreaterThanThreshold",
) -> dict[str, Any]:
    """A metric alarm body as CloudWatch publishes it."""
    at = at or datetime.now(UTC)
    stamp = (at - timedelta(seconds=period)).strftime("%d/%m/%y %H:%M:%S")
    verb = "greater than" if "Greater" in comparison else "less than"
    reason = (
        f"Threshold Crossed: {periods} out of the last {periods} datapoints [{value} ({stamp})] was {verb} the "
        f"threshold ({threshold}) (minimum {periods} datapoints for OK -> ALARM transition)."
        if state == "ALARM" else
        f"Threshold Crossed: 1 datapoint [{value / 10} ({stamp})] was not {verb} the threshold ({threshold})."
    )
    return {
        "AlarmName": name,
        "AlarmDescription": f"{metric} {comparison} {threshold}",
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": "2026-11-01T10:00:00.000+0000",
        "NewStateValue": state,
        "NewStateReason": reason,
        "StateChangeTime": cw_time(at),
        "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "OldStateValue": old,
        "OKActions": [],
        "AlarmActions": [CRITICAL_TOPIC],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": metric,
            "Namespace": "OrdersPipeline",
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": None,
            "Dimensions": [{"value": "orders-pipeline", "name": "Pipeline"}],
            "Period": period,
            "EvaluationPeriods": periods,
            "DatapointsToAlarm": periods,
            "ComparisonOperator": comparison,
            "Threshold": threshold,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def composite_alarm(name: str = "orders-pipeline-DataLossComposite", state: str = "ALARM",
                    *, at: datetime | None = None) -> dict[str, Any]:
    """A composite alarm body (no Trigger, an AlarmRule and TriggeringChildren)."""
    at = at or datetime.now(UTC)
    child = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:orders-pipeline-DLQSpike"
    return {
        "AlarmName": name,
        "AlarmDescription": None,
        "AWSAccountId": ACCOUNT,
        "NewStateValue": state,
        "NewStateReason": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name} transitioned to {state}",
        "StateChangeTime": cw_time(at),
        "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "AlarmRule": f'ALARM("{child}") OR ALARM("orders-pipeline-CheckpointFailure")',
        "TriggeringChildren": [{"Arn": child, "State": {"Value": "ALARM", "Timestamp": cw_time(at)}}],
    }


def message(body: dict[str, Any]) -> str:
    """The SNS Message string for an alarm body."""
    return json.dumps(body)
