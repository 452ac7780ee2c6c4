"""A run's EMF `metrics/` directory as the health `MetricSource` (`METRICS_BACKEND=local`, `LOCAL_METRICS`).

Reads through `pipeline.emf`, the one reader of the metrics format. The directory is read again when a file changed (a
running job keeps appending); a replay's "now" is the end of its newest minute (`latest`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from bot.errors import MetricsUnavailable
from bot.health.ports import MetricQuery, Series
from pipeline.emf import MetricStream


class LocalMetricSource:
    """EMF lines under `directory` (every `*.jsonl`, recursively)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._cached: tuple[tuple[tuple[str, int, int], ...], MetricStream] | None = None

    def _load(self) -> MetricStream:
        if not self.directory.is_dir():
            raise MetricsUnavailable(f"no metrics directory {self.directory} (set LOCAL_METRICS to a run's metrics/)")
        # Read again only when a file changed (a running job appends): `latest` then `history` read once.
        files = sorted(self.directory.rglob("*.jsonl"))
        signature = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
        if self._cached is None or self._cached[0] != signature:
            self._cached = (signature, MetricStream.load(self.directory))
        return self._cached[1]

    async def fetch(self, queries: Sequence[MetricQuery], *, start: datetime,
                    end: datetime) -> Mapping[str, Series]:
        """Each query's buckets in [start, end) from one read of the directory."""
        stream = await asyncio.to_thread(self._load)
        # One stream holds every namespace (EMF names its own); a metric is found by name and dimensions.
        return {q.id: stream.series(q.metric, q.dimensions, start=start, end=end, period=q.period,
                                    statistic=q.statistic) for q in queries}

    async def history(self, queries: Sequence[MetricQuery], *, start: datetime,
                      end: datetime) -> Mapping[str, Series]:
        """Backtests read the same way: one pass over the directory answers any span."""
        return await self.fetch(queries, start=start, end=end)

    async def latest(self) -> datetime | None:
        """The end of the newest minute with data: a finished replay is judged as of its last minute."""
        newest = (await asyncio.to_thread(self._load)).last_timestamp()
        return newest + timedelta(minutes=1) if newest else None
