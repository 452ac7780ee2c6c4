"""CloudWatch `GetMetricData` as the health `MetricSource` (`METRICS_BACKEND=cloudwatch`).

One `get_metric_data` call carries every query (paginated only past 100,800 datapoints, which 15 minutes never
reach); boto3 blocks, so it runs in a thread. Vendor errors become `MetricsUnavailable` with one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.errors import MetricsUnavailable
from bot.health.ports import MetricQuery, Series

NAMESPACE = "OrdersPipeline"


class CloudWatchMetricSource:
    """Metrics of the `OrdersPipeline` namespace through a boto3 `cloudwatch` client."""

    def __init__(self, client: Any = None, *, region: str | None = None, endpoint_url: str | None = None,
                 namespace: str = NAMESPACE) -> None:
        self.client: Any = client or boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url,
                                             config=Config(retries={"mode": "standard", "max_attempts": 3}))
        self.namespace = namespace
        self.calls = 0

    async def fetch(self, queries: Sequence[MetricQuery], *, start: datetime,
                    end: datetime) -> Mapping[str, Series]:
        """All queries in one `GetMetricData` request, oldest datapoint first."""
        request = [{"Id": q.id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": self.namespace, "MetricName": q.metric, "Dimensions": []},
            "Period": q.period, "Stat": q.statistic}} for q in queries]
        return await asyncio.to_thread(self._fetch, request, start, end)

    def _fetch(self, request: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Series]:
        out: dict[str, Series] = {q["Id"]: [] for q in request}
        token: str | None = None
        try:
            while True:
                self.calls += 1
                extra = {"NextToken": token} if token else {}
                answer = self.client.get_metric_data(MetricDataQueries=request, StartTime=start, EndTime=end,
                                                     ScanBy="TimestampAscending", **extra)
                for result in answer.get("MetricDataResults", []):
                    points = [(t.astimezone(UTC), float(v)) for t, v in
                              zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                              if v is not None]
                    out.setdefault(result["Id"], []).extend(points)
                token = answer.get("NextToken")
                if not token:
                    break
        except (BotoCoreError, ClientError) as exc:
            raise MetricsUnavailable(f"CloudWatch GetMetricData failed: {' '.join(str(exc).split())[:200]}") from None
        return {key: sorted(points) for key, points in out.items()}

    async def latest(self) -> datetime | None:
        """Live metrics: judged as of now."""
        return None
