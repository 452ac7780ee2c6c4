"""A run's EMF `metrics/` directory as the health `MetricSource` (`METRICS_BACKEND=local`, `LOCAL_METRICS`).

Reads through `pipeline.emf`, the one reader of the metrics format. The directory is read anew on every fetch (a
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

    def _load(self) -> MetricStream:
        if not self.directory.is_dir():
            raise MetricsUnavailable(f"no metrics directory {self.directory} (set LOCAL_METRICS to a run's metrics/)")
        return MetricStream.load(self.directory)

    async def fetch(self, queries: Sequence[MetricQuery], *, start: datetime,
                    end: datetime) -> Mapping[str, Series]:
        """Each query's buckets in [start, end) from one read of the directory."""
        stream = await asyncio.to_thread(self._load)
        return {q.id: stream.series(q.metric, start=start, end=end, period=q.period, statistic=q.statistic)
                for q in queries}

    async def latest(self) -> datetime | None:
        """The end of the newest minute with data: a finished replay is judged as of its last minute."""
        newest = (await asyncio.to_thread(self._load)).last_timestamp()
        return newest + timedelta(minutes=1) if newest else None
