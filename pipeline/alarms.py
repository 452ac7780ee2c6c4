"""The guide's CRITICAL and HIGH alarms as code, their `put_metric_alarm` requests, and `lint_alarms`.

Every alarm is named `{prefix}{Name}`, watches one metric (our own in `OrdersPipeline`, or the platform's in
`AWS/Kafka` / `AWS/Firehose` with their dimensions, see `bot.platform_metrics`), notifies the SNS topic
of its severity (`orders-pipeline-critical` / `-high`) on ALARM and on OK (so incidents resolve), and names its
runbook `runbooks/<Name>.md`. Noise-prone thresholds need 2 of 2 (or 2 of 3) periods; zero-tolerance metrics
(checkpoint failures, Firehose failures) need one datapoint anywhere in the guide's window ("> 0 in 5 min").
To add an alarm, append an `AlarmSpec` to `ALARMS` and write its runbook with matching `alarm:`/`severity:`.
Importable without pyflink or boto3: `deploy_alarms` takes any client with `put_metric_alarm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot import platform_metrics as aws
from bot.alarms.catalog import AlarmCatalog
from pipeline.emf import NAMESPACE

DEFAULT_PREFIX = "orders-pipeline-"
DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """One CloudWatch metric alarm; `statistic` is Sum/Average/Minimum/Maximum/SampleCount or `pNN`."""

    name: str
    severity: str
    metric: str
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing_data: str
    summary: str
    unit: str | None = None
    namespace: str = NAMESPACE
    dimensions: tuple[tuple[str, str], ...] = ()

    @property
    def runbook(self) -> str:
        """The runbook's path in the repository."""
        return f"runbooks/{self.name}.md"

    @property
    def extended(self) -> bool:
        """Whether the statistic is a percentile (CloudWatch's ExtendedStatistic)."""
        return self.statistic.startswith("p")


ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec("DLQSpike", "CRITICAL", "DLQRecordCount", "Sum", 60, 2, 2, "GreaterThanThreshold", 100,
              "notBreaching", "More than 100 records a minute to the DLQ for 2 minutes: data quality or parser.",
              "Count"),
    AlarmSpec("CheckpointFailure", "CRITICAL", "checkpoint_failures_total", "Sum", 60, 5, 1,
              "GreaterThanThreshold", 0, "notBreaching",
              "A checkpoint failed in the last 5 minutes: state is not persisting, a restart would lose data.",
              "Count"),
    # "< 3 brokers alive": each MSK broker reports ActiveControllerCount once a minute, so its SampleCount counts
    # the brokers reporting (bot.platform_metrics); no datapoint at all is a dead cluster, so missing data breaches.
    AlarmSpec("KafkaBrokerDown", "CRITICAL", aws.BROKER_METRIC, "SampleCount", 60, 2, 2,
              "LessThanThreshold", 3, "breaching",
              "Fewer than 3 Kafka brokers alive: the cluster cannot tolerate another failure.", None,
              aws.KAFKA_NAMESPACE, aws.BROKER_DIMENSIONS),
    # "> 0 failures in 1 min": DeliveryToS3.Success is successful puts / all puts, so any failure puts it below 1.
    AlarmSpec("FirehoseDeliveryFailed", "CRITICAL", aws.FIREHOSE_METRIC, "Average", 60, 1, 1,
              "LessThanThreshold", 1, "notBreaching",
              "Firehose failed to deliver records to S3 in the last minute.", None,
              aws.FIREHOSE_NAMESPACE, aws.FIREHOSE_DIMENSIONS),
    AlarmSpec("ConsumerLagHigh", "HIGH", aws.CONSUMER_LAG_METRIC, "Maximum", 60, 3, 2, "GreaterThanThreshold",
              50_000, "notBreaching", "Consumer lag above 50K records: falling behind the producer.", None,
              aws.KAFKA_NAMESPACE, aws.CONSUMER_LAG_DIMENSIONS),
    AlarmSpec("LatencyP99High", "HIGH", "ProcessingLatency", "p99", 60, 3, 2, "GreaterThanThreshold", 5000,
              "notBreaching", "Processing latency P99 above 5 s: the real-time SLO is breached.", "Milliseconds"),
    AlarmSpec("WindowCompletenessLow", "HIGH", "WindowCompleteness", "Average", 300, 2, 2, "LessThanThreshold",
              95, "notBreaching", "Under 95 % of a window's records were aggregated (late arrivals, loss).",
              "Percent"),
    # No canary through the sink for 2 minutes: a stopped source or a stuck job, which otherwise sends no metric
    # at all ("no traffic = no metrics = no alert"), so missing data breaches.
    AlarmSpec("PipelineStalled", "CRITICAL", "CanaryHeartbeat", "Sum", 60, 2, 2, "LessThanThreshold", 1,
              "breaching", "No canary order came through the pipeline for 2 minutes: the pipeline is stalled.",
              "Count"),
    # `incident-bot pipeline check`: the guide's invariants (every 5 minutes) and reconciliation (hourly).
    AlarmSpec("InvariantViolated", "CRITICAL", "InvariantViolations", "Sum", 300, 1, 1, "GreaterThanThreshold",
              0, "notBreaching", "A correctness invariant failed: records lost, duplicated in S3, or the "
              "watermark 60 s behind.", "Count"),
    AlarmSpec("ReconciliationMismatch", "HIGH", "ReconciliationMismatches", "Sum", 3600, 1, 1,
              "GreaterThanThreshold", 0, "notBreaching",
              "The hourly reconciliation found output records that are incomplete or invalid.", "Count"),
)


def alarm_name(spec: AlarmSpec, prefix: str = DEFAULT_PREFIX) -> str:
    """The CloudWatch alarm name, `{prefix}{Name}`."""
    return f"{prefix}{spec.name}"


def topic_name(severity: str) -> str:
    """The name of the SNS topic alarms of `severity` notify (`incident-bot aws setup` creates it)."""
    return f"orders-pipeline-{severity.lower()}"


def topic_names() -> list[str]:
    """The topics the alarms notify, one per severity, in the order the severities first appear."""
    return list(dict.fromkeys(topic_name(spec.severity) for spec in ALARMS))


def topic_arn(severity: str, *, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT) -> str:
    """The SNS topic an alarm of `severity` notifies."""
    return f"arn:aws:sns:{region}:{account}:{topic_name(severity)}"


def description(spec: AlarmSpec) -> str:
    """The alarm description: what it means, its severity and its runbook."""
    return f"[{spec.severity}] {spec.summary} Runbook: {spec.runbook}"


def put_metric_alarm_request(spec: AlarmSpec, *, prefix: str = DEFAULT_PREFIX, region: str = "us-east-1",
                             account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """The keyword arguments of boto3 `put_metric_alarm` for `spec` (the same request creates or updates)."""
    topic = topic_arn(spec.severity, region=region, account=account)
    request: dict[str, Any] = {
        "AlarmName": alarm_name(spec, prefix),
        "AlarmDescription": description(spec),
        "ActionsEnabled": True,
        "AlarmActions": [topic],
        "OKActions": [topic],
        "MetricName": spec.metric,
        "Namespace": spec.namespace,
        "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions],
        "Period": spec.period,
        "EvaluationPeriods": spec.evaluation_periods,
        "DatapointsToAlarm": spec.datapoints_to_alarm,
        "Threshold": float(spec.threshold),
        "ComparisonOperator": spec.comparison,
        "TreatMissingData": spec.treat_missing_data,
        "Tags": [{"Key": "severity", "Value": spec.severity}, {"Key": "runbook", "Value": spec.runbook}],
    }
    if spec.extended:
        request["ExtendedStatistic"] = spec.statistic
        request["EvaluateLowSampleCountPercentile"] = "evaluate"
    else:
        request["Statistic"] = spec.statistic
    return request


def alarm_requests(*, prefix: str = DEFAULT_PREFIX, region: str = "us-east-1",
                   account: str = DEFAULT_ACCOUNT) -> list[dict[str, Any]]:
    """Every alarm's `put_metric_alarm` request, in catalog order."""
    return [put_metric_alarm_request(s, prefix=prefix, region=region, account=account) for s in ALARMS]


class MetricAlarmClient(Protocol):
    """The part of boto3's CloudWatch client `deploy_alarms` uses."""

    def put_metric_alarm(self, **kwargs: Any) -> Any: ...


def deploy_alarms(client: MetricAlarmClient, requests: list[dict[str, Any]]) -> list[str]:
    """Create or update each alarm (put_metric_alarm is idempotent); returns the names deployed."""
    for request in requests:
        client.put_metric_alarm(**request)
    return [r["AlarmName"] for r in requests]


def lint_alarms(runbooks_dir: Path) -> list[str]:
    """One problem per line: an alarm without `runbooks/<Name>.md`, or whose runbook gives another severity."""
    catalog, _ = AlarmCatalog.scan(Path(runbooks_dir))  # malformed runbooks are the runbook lint's to report
    entries = {entry.key: entry for entry in catalog.entries}
    problems: list[str] = []
    for spec in ALARMS:
        entry = entries.get(spec.name)
        path = Path(runbooks_dir) / f"{spec.name}.md"
        if entry is None:
            problems.append(f"{spec.name}: no runbook {path}" if not path.is_file()
                            else f"{spec.name}: runbook {path} is not valid (the runbook lint says why)")
        elif entry.severity != spec.severity:
            problems.append(f"{spec.name}: {entry.runbook.name} says severity {entry.severity}, the alarm is "
                            f"{spec.severity}")
    return problems
