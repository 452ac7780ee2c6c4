"""`pipeline check --out s3://…` in production: records from S3 (plain and gzip), metrics from CloudWatch (moto)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.support.moto import fresh_aws


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fresh_aws(moto_url, monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="orders-lake")
    return s3, boto3.client("cloudwatch", region_name="us-east-1")


def _orders(numbers: list[int]) -> bytes:
    lines = [json.dumps({"order_id": f"ORD-9-{n:05d}", "customer_id": f"CUST-{n}", "amount": 20.0, "currency": "EUR",
                         "items": 1, "event_time": "2026-12-01T10:00:00.000Z",
                         "customer": {"customer_id": f"CUST-{n}"}}) for n in numbers]
    return ("\n".join(lines) + "\n").encode()


def _stage(s3: Any, cloudwatch: Any, *, duplicate: bool) -> None:
    s3.put_object(Bucket="orders-lake", Key="prod/output/2026/12/01/10/orders-output-1", Body=_orders(list(range(6))))
    extra = [5] if duplicate else []
    s3.put_object(Bucket="orders-lake", Key="prod/output/2026/12/01/10/orders-output-2.gz",
                  Body=gzip.compress(_orders([6, 7, *extra])))
    s3.put_object(Bucket="orders-lake", Key="prod/dlq/2026/12/01/10/orders-dlq-1",
                  Body=b'{"error_type":"parse_error"}\n{"error_type":"duplicate"}\n')
    at = datetime.now(UTC) - timedelta(minutes=10)
    cloudwatch.put_metric_data(Namespace="OrdersPipeline", MetricData=[
        {"MetricName": "RecordsIn", "Dimensions": [{"Name": "Operator", "Value": "parse"}], "Timestamp": at,
         "Value": 10.0, "Unit": "Count"},
        {"MetricName": "WatermarkLagMs", "Timestamp": at, "Value": 4200.0, "Unit": "Milliseconds"}])


def test_s3_prefixes_and_cloudwatch_reconcile(aws: tuple[Any, Any]) -> None:
    """10 counted in, 2 in the DLQ, 8 in S3 (one object gzip): every check holds, metrics go to stdout."""
    _stage(*aws, duplicate=False)
    result = CliRunner().invoke(app, ["pipeline", "check", "--out", "s3://orders-lake/prod", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "ok   output_covers_input: output 8 ≥ input 10 − DLQ 2 − late 0 = 8" in result.output
    assert "max watermark lag 4.2 s < 60 s" in result.output
    assert '{"_aws":' in result.output


def test_a_duplicate_in_s3_fails_naming_the_invariant(aws: tuple[Any, Any]) -> None:
    """The same order in two delivered objects fails no_duplicate_orders."""
    _stage(*aws, duplicate=True)
    result = CliRunner().invoke(app, ["pipeline", "check", "--out", "s3://orders-lake/prod", "--json",
                                      "--metrics-out", "/dev/null"])
    assert result.exit_code == 1
    failed = [c for c in json.loads(result.output)["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["no_duplicate_orders"] and "ORD-9-00005" in failed[0]["detail"]
