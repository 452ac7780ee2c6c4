"""A production run for `pipeline check`: records from S3 prefixes, metrics from CloudWatch (boto3).

The Firehose delivery streams `PREFIX-output|dlq|late` deliver to `s3://BUCKET/PATH/output/`, `…/dlq/`,
`…/late/` with a newline appended to each record (Firehose's `AppendDelimiterToRecord`); objects may be gzip.
Check one hour by pointing PATH at it (e.g. Firehose's `YYYY/MM/DD/HH/` partitioning under each kind is read
recursively) and giving the same span for the metrics. Metrics: `RecordsIn` (Operator=parse) and
`WatermarkLagMs` over [start, end) with `GetMetricStatistics`, per minute, aggregated here.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline import emf


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → ("bucket", "some/prefix"); raises ValueError otherwise."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise ValueError(f"not an s3://BUCKET/PREFIX URL: {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix.strip("/")


@dataclass(frozen=True, slots=True)
class S3Run:
    """One checked span: the kinds' objects under `s3://bucket/prefix/<kind>/`, the metrics in [start, end)."""

    s3: Any
    cloudwatch: Any
    bucket: str
    prefix: str
    start: datetime
    end: datetime

    def records(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every JSON line of every object under the kind's prefix (gzip or plain)."""
        base = f"{self.prefix}/{kind}/" if self.prefix else f"{kind}/"
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                for line in body.decode("utf-8").splitlines():
                    if line.strip():
                        yield json.loads(line)

    def statistic(self, metric: str, dims: emf.Dims, statistic: str) -> float | None:
        """Sum or Maximum of per-minute datapoints over the span (None without any)."""
        answer = self.cloudwatch.get_metric_statistics(
            Namespace=emf.NAMESPACE, MetricName=metric, Dimensions=[{"Name": k, "Value": v} for k, v in dims],
            StartTime=self.start, EndTime=self.end, Period=60, Statistics=[statistic])
        values = [float(point[statistic]) for point in answer.get("Datapoints", [])]
        if not values:
            return None
        return max(values) if statistic == "Maximum" else sum(values)
