"""Sample alarm events and post-incident contexts, one per shape the templates must survive.

`incident-bot lint` renders every runbook against `sample_contexts` and the post-incident template against
`sample_postmortems`, so a template that breaks for a composite alarm or an incident without a page is caught
before it reaches an on-call engineer. To cover a new shape, add an event or context here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.alarms.context import alarm_context
from bot.alarms.models import AlarmEvent, AlarmKind, AlarmState, MetricQuery, TriggeringChild
from bot.alarms.severity import Severity

_AT = datetime(2025, 1, 13, 10, 30, 0, tzinfo=UTC)
_REASON = (
    "Threshold Crossed: 2 out of the last 2 datapoints "
    "[152.0 (13/01/25 10:29:00), 148.0 (13/01/25 10:28:00)] was greater than the threshold (100.0) "
    "(minimum 2 datapoints for OK -> ALARM transition)."
)


def sample_events(alarm_name: str) -> dict[str, AlarmEvent]:
    """One event per alarm kind, plus recovery, no-data and every-optional-field-missing variants."""
    metric = AlarmEvent(
        alarm_name=alarm_name,
        alarm_arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm_name}",
        new_state=AlarmState.ALARM,
        old_state=AlarmState.OK,
        reason=_REASON,
        state_change_time=_AT,
        kind=AlarmKind.METRIC,
        description="Sample alarm for runbook lint",
        account_id="123456789012",
        region_name="US East (N. Virginia)",
        region="us-east-1",
        metric_name="SampleMetric",
        namespace="OrdersPipeline",
        statistic="Sum",
        dimensions={"Environment": "prod", "JobName": "orders-pipeline"},
        period=60,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        comparison_operator="GreaterThanThreshold",
        threshold=100.0,
        treat_missing_data="missing",
        observed_value=152.0,
    )
    math = replace(
        metric,
        kind=AlarmKind.METRIC_MATH,
        metric_name=None,
        namespace=None,
        statistic=None,
        dimensions={},
        metrics=(
            MetricQuery(id="e1", expression="m1 * 60", label="per minute", return_data=True),
            MetricQuery(id="m1", metric_name="SampleMetric", namespace="OrdersPipeline", stat="Sum"),
        ),
    )
    anomaly = replace(
        math,
        kind=AlarmKind.ANOMALY_DETECTION,
        comparison_operator="LessThanLowerOrGreaterThanUpperThreshold",
        threshold=None,
        threshold_metric_id="ad1",
        metrics=(
            MetricQuery(id="m1", metric_name="SampleMetric", namespace="OrdersPipeline", stat="Average",
                        return_data=True),
            MetricQuery(id="ad1", expression="ANOMALY_DETECTION_BAND(m1, 2)", label="band", return_data=True),
        ),
    )
    composite = AlarmEvent(
        alarm_name=alarm_name,
        alarm_arn=metric.alarm_arn,
        new_state=AlarmState.ALARM,
        old_state=AlarmState.OK,
        reason="arn:aws:cloudwatch:us-east-1:123456789012:alarm:child-a transitioned to ALARM",
        state_change_time=_AT,
        kind=AlarmKind.COMPOSITE,
        account_id="123456789012",
        region_name="US East (N. Virginia)",
        region="us-east-1",
        alarm_rule='ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:child-a") OR ALARM("child-b")',
        triggering_children=(
            TriggeringChild(arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:child-a", state="ALARM",
                            timestamp="2025-01-13T10:30:00.000+0000"),
        ),
    )
    bare = AlarmEvent(
        alarm_name=alarm_name,
        alarm_arn="",
        new_state=AlarmState.ALARM,
        old_state=None,
        reason="",
        state_change_time=_AT,
        kind=AlarmKind.METRIC,
    )
    return {
        "metric": metric,
        "metric_math": math,
        "anomaly_detection": anomaly,
        "composite": composite,
        "metric, recovered (OK)": replace(metric, new_state=AlarmState.OK, old_state=AlarmState.ALARM),
        "metric, INSUFFICIENT_DATA": replace(
            metric, new_state=AlarmState.INSUFFICIENT_DATA, observed_value=None
        ),
        "metric, every optional field missing": bare,
    }


def sample_contexts(
    alarm_name: str, severity: Severity, *, dashboard: str = "Health"
) -> list[tuple[str, dict[str, Any]]]:
    """(label, context) pairs covering every sample event, with and without an incident and channel."""
    contexts: list[tuple[str, dict[str, Any]]] = []
    for label, event in sample_events(alarm_name).items():
        contexts.append((label, alarm_context(event, severity=severity, dashboard=dashboard)))
        contexts.append(
            (
                f"{label}, with incident",
                alarm_context(
                    event,
                    severity=severity,
                    incident_id=42,
                    channel="#inc-42-orders-pipeline",
                    dashboard=dashboard,
                    runbook_url="https://git.example.com/runbooks/Sample.md",
                ),
            )
        )
    return contexts


def sample_postmortems() -> list[tuple[str, dict[str, Any]]]:
    """An incident with nothing recorded yet (every other key left to the library's defaults), and a full one."""
    empty: dict[str, Any] = {
        "incident": {"id": 7, "title": "Unknown alarm", "severity": "HIGH", "status": "open",
                     "alarm_name": "orders-pipeline-Sample"},
    }
    full: dict[str, Any] = {
        "incident": {
            "id": 42,
            "title": "DLQ spike",
            "severity": "CRITICAL",
            "status": "resolved",
            "alarm_name": "orders-pipeline-DLQSpike",
            "alarm_arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-pipeline-DLQSpike",
            "opened_at": "2025-01-13T10:30:00Z",
            "acknowledged_at": "2025-01-13T10:33:00Z",
            "resolved_at": "2025-01-13T10:52:30Z",
            "channel": "#inc-42-dlq-spike",
            "pagerduty_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
        },
        "resolved_how": "in PagerDuty by Alice Oncall",
        "mtta_minutes": 3.0,
        "mttr_minutes": 22.5,
        "paged_at": "2025-01-13T10:30:05Z",
        "page_status": "acknowledged",
        "timeline": [
            {"at": "2025-01-13T10:30:00Z", "kind": "opened", "summary": "DLQRecordCount 152 > 100"},
            {"at": "2025-01-13T10:33:00Z", "kind": "acknowledged", "summary": "ack by @alice"},
        ],
        "transitions": [
            {"at": "2025-01-13T10:30:00Z", "old_state": "OK", "new_state": "ALARM", "reason": _REASON},
            {"at": "2025-01-13T10:52:30Z", "old_state": "ALARM", "new_state": "OK", "reason": "back below"},
        ],
        "queries": [{"name": "dlq-spike-cause", "headline": "parse_error 8,000 (80%)"}],
        "summary": "A source schema change sent 80 % of orders to the DLQ for 20 minutes; rolled back.",
        "outcome": {"kind": "actionable", "label": "actionable", "by": "U00ALICE01", "at": "2025-01-13T11:00:00Z"},
        "root_cause": "Source renamed customer_id to cust_id without notice.",
        "owner": "@alice",
        "review": {"by": "U00ALICE01", "at": "2025-01-14T09:00:00Z"},
        "prevention": "Schema-change webhook from the source team.",
        "impact": "About 9,000 orders delayed 20 minutes; none lost (reprocessed from the DLQ).",
    }
    return [("empty", empty), ("full", full)]
