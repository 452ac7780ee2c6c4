"""Alarms and dashboards as code, deployed to moto's CloudWatch server; runbook linting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from bot.cli import app
from pipeline.alarms import ALARMS, alarm_requests, deploy_alarms, lint_alarms
from pipeline.dashboards import FALLBACK_QUERIES, put_dashboard_requests
from tests.support.moto import fresh_aws

REPO = Path(__file__).resolve().parents[2]




@pytest.fixture
def cloudwatch(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    fresh_aws(moto_url, monkeypatch)
    return boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_url)


def test_alarms_deploy_with_the_guide_thresholds(cloudwatch: Any) -> None:
    """All the alarms exist with their thresholds, periods, statistics and severity topics."""
    deploy_alarms(cloudwatch, alarm_requests())
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(alarms) == {f"orders-pipeline-{s.name}" for s in ALARMS}
    dlq = alarms["orders-pipeline-DLQSpike"]
    assert (dlq["MetricName"], dlq["Statistic"], dlq["Threshold"], dlq["Period"], dlq["EvaluationPeriods"]) == (
        "DLQRecordCount", "Sum", 100.0, 60, 2)
    assert dlq["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:orders-pipeline-critical"]
    assert dlq["OKActions"] == dlq["AlarmActions"]
    latency = alarms["orders-pipeline-LatencyP99High"]
    assert latency["ExtendedStatistic"] == "p99" and latency["Threshold"] == 5000.0
    assert latency["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:orders-pipeline-high"]
    assert alarms["orders-pipeline-WindowCompletenessLow"]["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["orders-pipeline-KafkaBrokerDown"]["TreatMissingData"] == "breaching"
    # The platform alarms watch AWS's own metrics, with their dimensions.
    platform = {name: (a["Namespace"], a["MetricName"], a["Statistic"], a["ComparisonOperator"], a["Threshold"],
                       {d["Name"]: d["Value"] for d in a["Dimensions"]})
                for name, a in alarms.items() if a["Namespace"] != "OrdersPipeline"}
    assert platform == {
        "orders-pipeline-KafkaBrokerDown": ("AWS/Kafka", "ActiveControllerCount", "SampleCount",
                                            "LessThanThreshold", 3.0, {"Cluster Name": "orders-pipeline"}),
        "orders-pipeline-ConsumerLagHigh": ("AWS/Kafka", "SumOffsetLag", "Maximum", "GreaterThanThreshold", 50_000.0,
                                            {"Cluster Name": "orders-pipeline", "Consumer Group": "orders-pipeline",
                                             "Topic": "orders.raw"}),
        "orders-pipeline-FirehoseDeliveryFailed": ("AWS/Firehose", "DeliveryToS3.Success", "Average",
                                                   "LessThanThreshold", 1.0, {"DeliveryStreamName": "orders-output"}),
    }
    stalled = alarms["orders-pipeline-PipelineStalled"]
    assert (stalled["MetricName"], stalled["TreatMissingData"], stalled["Threshold"]) == (
        "CanaryHeartbeat", "breaching", 1.0)
    assert stalled["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:orders-pipeline-critical"]
    assert "runbooks/CheckpointFailure.md" in alarms["orders-pipeline-CheckpointFailure"]["AlarmDescription"]


def test_deploying_twice_updates_in_place(cloudwatch: Any) -> None:
    """A second deploy with a changed threshold updates the alarm rather than adding one."""
    deploy_alarms(cloudwatch, alarm_requests())
    requests = alarm_requests()
    requests[0]["Threshold"] = 150.0
    deploy_alarms(cloudwatch, requests)
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    assert len(alarms) == len(ALARMS)
    assert next(a for a in alarms if a["AlarmName"].endswith("DLQSpike"))["Threshold"] == 150.0


def test_cli_deploys_alarms_and_dashboards(cloudwatch: Any, moto_url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`alarms deploy` and `dashboards deploy` create everything, taking the account id from STS."""
    monkeypatch.setenv("ALARM_PREFIX", "test-")
    monkeypatch.setenv("QUERIES_DIR", str(REPO / "queries"))
    runner = CliRunner()
    result = runner.invoke(app, ["alarms", "deploy", "--endpoint-url", moto_url])
    assert result.exit_code == 0, result.output
    assert "deployed alarm test-DLQSpike" in result.output
    result = runner.invoke(app, ["dashboards", "deploy", "--endpoint-url", moto_url])
    assert result.exit_code == 0, result.output
    names = {d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]}
    assert names == {f"orders-pipeline-{n}" for n in ("Health", "Performance", "Errors", "Capacity")}
    body = json.loads(cloudwatch.get_dashboard(DashboardName="orders-pipeline-Errors")["DashboardBody"])
    logs = [w for w in body["widgets"] if w["type"] == "log"]
    assert any("filter dlq = true" in w["properties"]["query"] for w in logs)
    assert all(w["properties"]["query"].startswith("SOURCE '/orders-pipeline/flink' | ") for w in logs)


def test_dry_run_prints_the_requests_as_json() -> None:
    """`alarms deploy --dry-run` prints one put_metric_alarm request per alarm and calls nothing."""
    result = CliRunner().invoke(app, ["alarms", "deploy", "--dry-run"])
    assert result.exit_code == 0, result.output
    requests = json.loads(result.output)
    assert [r["AlarmName"] for r in requests] == [f"orders-pipeline-{s.name}" for s in ALARMS]
    stalled = next(r for r in requests if r["AlarmName"] == "orders-pipeline-PipelineStalled")
    assert stalled["TreatMissingData"] == "breaching" and stalled["Period"] * stalled["EvaluationPeriods"] <= 120


def test_dashboard_queries_come_from_query_files_with_a_fallback(tmp_path: Path) -> None:
    """A query file's `query:` text is used; a missing file falls back to the guide's query."""
    (tmp_path / "slow-operators.yaml").write_text("query: |\n  fields operator\n  | stats count() by operator\n")
    requests = put_dashboard_requests(queries_dir=tmp_path)
    bodies = {r["DashboardName"]: json.loads(r["DashboardBody"]) for r in requests}
    perf = [w["properties"]["query"] for w in bodies["orders-pipeline-Performance"]["widgets"] if w["type"] == "log"]
    assert perf == ["SOURCE '/orders-pipeline/flink' | fields operator\n| stats count() by operator"]
    errors = [w["properties"]["query"] for w in bodies["orders-pipeline-Errors"]["widgets"] if w["type"] == "log"]
    assert f"SOURCE '/orders-pipeline/flink' | {FALLBACK_QUERIES['dlq-breakdown']}" in errors
    for body in bodies.values():
        assert all(w["x"] + w["width"] <= 24 for w in body["widgets"])


def test_lint_accepts_matching_runbooks_and_names_mismatches(tmp_path: Path) -> None:
    """Every alarm needs runbooks/<Name>.md whose front matter has the same alarm and severity."""
    for spec in ALARMS:
        (tmp_path / f"{spec.name}.md").write_text(
            f"---\nalarm: {spec.name}\ntitle: x\nseverity: {spec.severity}\nqueries: []\ninvite: []\n"
            "dashboard: Health\n---\n# x\n")
    assert lint_alarms(tmp_path) == []
    (tmp_path / "DLQSpike.md").write_text("---\nalarm: DLQSpike\ntitle: x\nseverity: HIGH\ndashboard: Health\n---\n")
    (tmp_path / "KafkaBrokerDown.md").unlink()
    problems = lint_alarms(tmp_path)
    assert len(problems) == 2
    assert any(p.startswith("DLQSpike:") and "CRITICAL" in p for p in problems)
    assert any(p.startswith("KafkaBrokerDown: no runbook") for p in problems)


def test_the_repository_runbooks_match_the_alarms() -> None:
    """The runbooks in this repository agree with the alarm definitions."""
    assert lint_alarms(REPO / "runbooks") == []
