"""CloudWatch `GetMetricData` as the health `MetricSource` (`METRICS_BACKEND=cloudwatch`).

One `get_metric_data` call carries every query (paginated only past 100,800 datapoints, which 15 minutes never
reach); `history` (backtests over days) asks in slices. boto3 blocks, so it runs in a thread. Vendor errors become
`MetricsUnavailable` with one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.errors import MetricsUnavailable
from bot.health.ports import MetricQuery, Series

NAMESPACE = "OrdersPipeline"
# GetMetricData answers at most 100,800 datapoints per call; a slice of 360 periods (6 h at one minute) keeps each
# call small whatever the number of alarms, and keeps stand-ins that scan every datapoint per period (moto) usable.
HISTORY_SLICE_PERIODS = 360


class CloudWatchMetricSource:
    """Metrics of the `OrdersPipeline` namespace (and the platform's, when a query names one) through a boto3
    `cloudwatch` client."""

    def __init__(self, client: Any = None, *, region: str | None = None, endpoint_url: str | None = None,
                 namespace: str = NAMESPACE) -> None:
        self.client: Any = client or boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url,
                                             config=Config(retries={"mode": "standard", "max_attempts": 3}))
        self.namespace = namespace
        self.calls = 0

    async def fetch(self, queries: Sequence[MetricQuery], *, start: datetime,
                    end: datetime) -> Mapping[str, Series]:
        """All queries in one `GetMetricData` request, oldest datapoint first, keyed by each query's own id."""
        # CloudWatch wants ids matching ^[a-z][a-zA-Z0-9_]*$; ours are names such as `KafkaBrokerDown`.
        request = [self._query(f"q{n}", q) for n, q in enumerate(queries)]
        found = await asyncio.to_thread(self._fetch, request, start, end)
        return {q.id: found.get(f"q{n}", []) for n, q in enumerate(queries)}

    def _query(self, request_id: str, q: MetricQuery) -> dict[str, Any]:
        """One `MetricDataQuery`: the store's namespace unless the query names one (`AWS/Kafka`)."""
        return {"Id": request_id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": q.namespace or self.namespace, "MetricName": q.metric,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions]},
            "Period": q.period, "Stat": q.statistic}}

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

    async def history(self, queries: Sequence[MetricQuery], *, start: datetime,
                      end: datetime) -> Mapping[str, Series]:
        """Like `fetch` over a long span (backtests): metrics that `ListMetrics` does not know are skipped, and the
        span is asked for in slices of `HISTORY_SLICE_PERIODS` periods, each request paginated."""
        return await asyncio.to_thread(self._history, list(queries), start, end)

    def _history(self, queries: list[MetricQuery], start: datetime, end: datetime) -> dict[str, Series]:
        out: dict[str, Series] = {q.id: [] for q in queries}
        known = self._metric_names({q.namespace or self.namespace for q in queries})
        wanted = [q for q in queries if (q.namespace or self.namespace, q.metric) in known]
        for period in sorted({q.period for q in wanted}):
            group = [q for q in wanted if q.period == period]
            request = [self._query(f"q{n}", q) for n, q in enumerate(group)]
            step = timedelta(seconds=period * HISTORY_SLICE_PERIODS)
            cursor = _floor(start, period)
            while cursor < end:
                upto = min(end, cursor + step)
                found = self._fetch(request, cursor, upto)
                for n, q in enumerate(group):
                    out[q.id].extend(found.get(f"q{n}", []))
                cursor = upto
        return out

    def _metric_names(self, namespaces: set[str]) -> set[tuple[str, str]]:
        names: set[tuple[str, str]] = set()
        try:
            for namespace in sorted(namespaces):
                for page in self.client.get_paginator("list_metrics").paginate(Namespace=namespace):
                    self.calls += 1
                    names.update((namespace, m["MetricName"]) for m in page.get("Metrics", []))
        except (BotoCoreError, ClientError) as exc:
            raise MetricsUnavailable(f"CloudWatch ListMetrics failed: {' '.join(str(exc).split())[:200]}") from None
        return names


def _floor(moment: datetime, period: int) -> datetime:
    """The start of the period holding `moment` (CloudWatch aligns buckets to the period)."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)
