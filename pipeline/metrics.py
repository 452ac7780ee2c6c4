"""Per-minute metric datapoints keyed by event time, written as CloudWatch Embedded Metric Format lines.

Every operator keeps a `MinuteMetrics` and flushes it as EMF documents (`pipeline.emf`): to its own file under
`DIR/metrics/` locally, to the worker's stdout in production (the CloudWatch agent ships them with the logs and
CloudWatch extracts the metrics). Each document is one datum at its event-time minute; several documents for
the same metric and minute add up, exactly as CloudWatch aggregates them. Three kinds:

- `count`: how many things happened (RecordsIn, DLQRecordCount); one datum per flush, value = the count.
- `sample`: a gauge sampled per record (WatermarkLagMs, EnrichmentCacheHitRate as 100/0 per lookup, so
  Average is the rate); a statistic set.
- `observe`: a distribution (ProcessingLatency) kept as Values/Counts, which CloudWatch needs for p99.

To add a metric, call one of these from an operator and add its name to `METRIC_UNITS`. Read metrics back
with `pipeline.emf` (the one reader).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline import emf
from pipeline.emf import NAMESPACE, Dims, SeriesKey, Stat, minute_of

__all__ = ["METRIC_UNITS", "NAMESPACE", "Dims", "MinuteMetrics", "SeriesKey", "Stat", "minute_of"]

METRIC_UNITS = {
    "RecordsIn": "Count",
    "RecordsOut": "Count",
    "RecordsError": "Count",
    "DLQRecordCount": "Count",
    "DuplicateRecordDetected": "Count",
    "LateArrivals": "Count",
    "EnrichmentCacheHits": "Count",
    "EnrichmentCacheMisses": "Count",
    "EnrichmentTimeouts": "Count",
    "EnrichmentCacheHitRate": "Percent",
    "WindowCompleteness": "Percent",
    "WatermarkLagMs": "Milliseconds",
    "ProcessingLatency": "Milliseconds",
    "CanaryLatencyMs": "Milliseconds",
    "CanaryHeartbeat": "Count",
}


def _bucket(value: float) -> float:
    """Round to 3 significant figures: ≤0.5 % error, few distinct values per minute."""
    if value <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(value))
    return round(value, digits)


class MinuteMetrics:
    """What one operator instance measured, per metric and event-time minute, until the next flush."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, Dims, int], float] = {}
        self._samples: dict[tuple[str, Dims, int], Stat] = {}
        self._observed: dict[tuple[str, Dims, int], Counter[float]] = {}
        self._flows: dict[tuple[Dims, int], list[int]] = {}

    def flow(self, event_ms: int, dims: Dims, *, out: bool, error: bool) -> None:
        """One record through an operator: RecordsIn, RecordsOut or RecordsError (+ DLQRecordCount) by `dims`.

        The same datums as four `count` calls, at a quarter of the cost: every operator calls this per record.
        """
        key = (dims, event_ms - event_ms % 60_000)
        row = self._flows.get(key)
        if row is None:
            row = self._flows[key] = [0, 0, 0]
        row[0] += 1
        if out:
            row[1] += 1
        if error:
            row[2] += 1

    def count(self, name: str, event_ms: int, n: float = 1, dims: Dims = ()) -> None:
        """Count `n` occurrences (0 makes the datapoint exist, so a quiet minute reads 0, not missing)."""
        key = (name, dims, minute_of(event_ms))
        self._counts[key] = self._counts.get(key, 0) + n

    def sample(self, name: str, event_ms: int, value: float, dims: Dims = ()) -> None:
        """Record one sample of a gauge."""
        key = (name, dims, minute_of(event_ms))
        stat = self._samples.get(key)
        if stat is None:
            stat = self._samples[key] = Stat()
        stat.add(value)

    def observe(self, name: str, event_ms: int, value: float, dims: Dims = ()) -> None:
        """Record one value of a distribution (kept as a histogram, so percentiles survive merging)."""
        key = (name, dims, minute_of(event_ms))
        hist = self._observed.get(key)
        if hist is None:
            hist = self._observed[key] = Counter()
        hist[_bucket(value)] += 1

    def datums(self) -> Iterator[dict[str, Any]]:
        """Everything measured so far as EMF documents."""
        for (dims, minute), (n_in, n_out, n_error) in self._flows.items():
            self.count("RecordsIn", minute, n_in, dims)
            self.count("RecordsOut", minute, n_out, dims)
            self.count("RecordsError", minute, n_error, dims)
            self.count("DLQRecordCount", minute, n_error)
        self._flows.clear()
        for (name, dims, minute), n in self._counts.items():
            yield emf.count_document(name, n, timestamp_ms=minute, unit=METRIC_UNITS.get(name, "None"), dims=dims)
        for (name, dims, minute), stat in self._samples.items():
            yield from emf.stat_documents(name, stat, timestamp_ms=minute, unit=METRIC_UNITS.get(name, "None"),
                                          dims=dims)
        for (name, dims, minute), hist in self._observed.items():
            stat = Stat()
            for value, count in hist.items():
                stat.add(value, count)
                stat.values[value] += count
            yield from emf.stat_documents(name, stat, timestamp_ms=minute, unit=METRIC_UNITS.get(name, "None"),
                                          dims=dims)

    def flush(self, path: Path | None) -> int:
        """Write the datums to `path` (appended), or to stdout when None, and start over; returns how many."""
        written = emf.write(self.datums(), path)
        self._counts.clear()
        self._samples.clear()
        self._observed.clear()
        self._flows.clear()
        return written
