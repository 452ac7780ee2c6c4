"""Per-minute metric datapoints keyed by event time, in CloudWatch's own `PutMetricData` shape.

Every operator keeps a `MinuteMetrics` and flushes it to `DIR/metrics/*.jsonl`; each line is one `MetricDatum`
(MetricName, Dimensions, Timestamp at the minute, Unit, and either StatisticValues or Values/Counts), so the
stream can be sent to CloudWatch unchanged and the local evaluator reads the same lines. Several datums for the
same metric and minute add up, exactly as CloudWatch aggregates them. Three kinds:

- `count`: how many things happened (RecordsIn, DLQRecordCount); one datum per flush, Value = the count.
- `sample`: a gauge sampled per record (WatermarkLagMs, EnrichmentCacheHitRate as 100/0 per lookup, so
  Average is the rate); StatisticValues.
- `observe`: a distribution (ProcessingLatency) kept as Values/Counts, which CloudWatch needs for p99.

To add a metric, call one of these from an operator and add its name to `METRIC_UNITS`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.orders import iso_ms, parse_event_time

NAMESPACE = "OrdersPipeline"
MAX_VALUES_PER_DATUM = 150  # PutMetricData's limit on Values/Counts
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
}

Dims = tuple[tuple[str, str], ...]


def minute_of(epoch_ms: int) -> int:
    """The start of the event-time minute holding `epoch_ms`."""
    return epoch_ms - epoch_ms % 60_000


def _bucket(value: float) -> float:
    """Round to 3 significant figures: ≤0.5 % error, few distinct values per minute."""
    if value <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(value))
    return round(value, digits)


@dataclass(slots=True)
class Stat:
    """Aggregated datapoints of one metric over some span: CloudWatch's statistic set plus a value histogram."""

    sample_count: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    values: Counter[float] = field(default_factory=Counter)

    def add(self, value: float, count: float = 1.0) -> None:
        """Add `count` samples of `value`."""
        self.sample_count += count
        self.total += value * count
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def merge(self, other: Stat) -> None:
        """Fold another span's datapoints into this one."""
        self.sample_count += other.sample_count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.values.update(other.values)

    def statistic(self, name: str) -> float:
        """`Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount` or a percentile `p99` (nearest rank)."""
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.sample_count if self.sample_count else 0.0
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        if name == "SampleCount":
            return self.sample_count
        if name.startswith("p"):
            return self.percentile(float(name[1:]))
        raise ValueError(f"unknown statistic {name!r}")

    def percentile(self, pct: float) -> float:
        """Nearest-rank percentile over Values/Counts (the maximum when no histogram was sent)."""
        total = sum(self.values.values())
        if not total:
            return self.maximum
        rank = max(1, math.ceil(pct / 100 * total))
        seen = 0.0
        for value in sorted(self.values):
            seen += self.values[value]
            if seen >= rank:
                return value
        return max(self.values)


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
        """Everything measured so far as `MetricDatum` dicts."""
        for (dims, minute), (n_in, n_out, n_error) in self._flows.items():
            self.count("RecordsIn", minute, n_in, dims)
            self.count("RecordsOut", minute, n_out, dims)
            self.count("RecordsError", minute, n_error, dims)
            self.count("DLQRecordCount", minute, n_error)
        self._flows.clear()
        for (name, dims, minute), n in self._counts.items():
            yield _datum(name, dims, minute, Value=float(n))
        for (name, dims, minute), stat in self._samples.items():
            yield _datum(name, dims, minute, StatisticValues={
                "SampleCount": stat.sample_count, "Sum": stat.total,
                "Minimum": stat.minimum, "Maximum": stat.maximum,
            })
        for (name, dims, minute), hist in self._observed.items():
            items = sorted(hist.items())
            for start in range(0, len(items), MAX_VALUES_PER_DATUM):
                chunk = items[start : start + MAX_VALUES_PER_DATUM]
                yield _datum(name, dims, minute, Values=[v for v, _ in chunk], Counts=[float(c) for _, c in chunk])

    def flush(self, path: Path) -> int:
        """Append the datums to `path` (JSON lines) and start over; returns how many were written."""
        lines = [json.dumps(d, separators=(",", ":")) for d in self.datums()]
        if lines:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        self._counts.clear()
        self._samples.clear()
        self._observed.clear()
        self._flows.clear()
        return len(lines)


def _datum(name: str, dims: Dims, minute: int, **payload: Any) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
        "Timestamp": iso_ms(minute),
        "Unit": METRIC_UNITS.get(name, "None"),
        **payload,
    }


SeriesKey = tuple[str, Dims]


def read_series(paths: Iterable[Path]) -> dict[SeriesKey, dict[int, Stat]]:
    """Merge datum lines into one `Stat` per (metric, dimensions) and minute, as CloudWatch stores them."""
    series: dict[SeriesKey, dict[int, Stat]] = {}
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    _fold(series, json.loads(line))
    return series


def read_metrics_dir(directory: Path) -> dict[SeriesKey, dict[int, Stat]]:
    """`read_series` over every `*.jsonl` under `directory` (a job's `DIR/metrics/`)."""
    return read_series(sorted(directory.rglob("*.jsonl")))


def _fold(series: dict[SeriesKey, dict[int, Stat]], datum: dict[str, Any]) -> None:
    dims: Dims = tuple(sorted((d["Name"], d["Value"]) for d in datum.get("Dimensions", [])))
    minute = minute_of(parse_event_time(datum["Timestamp"]))
    stat = series.setdefault((datum["MetricName"], dims), {}).setdefault(minute, Stat())
    if "Value" in datum:
        stat.add(float(datum["Value"]))
    elif "StatisticValues" in datum:
        sv = datum["StatisticValues"]
        stat.merge(Stat(sv["SampleCount"], sv["Sum"], sv["Minimum"], sv["Maximum"]))
    else:
        for value, count in zip(datum["Values"], datum.get("Counts") or [1.0] * len(datum["Values"]),
                                strict=True):
            stat.add(float(value), float(count))
            stat.values[float(value)] += count
