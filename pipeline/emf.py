"""The job's metrics as CloudWatch Embedded Metric Format (EMF) lines: the one writer and the one reader.

Every metric the pipeline, the collector and the checks emit is one EMF document per line, the same lines on
stdout in production (the CloudWatch agent ships them and CloudWatch extracts the metrics, no `PutMetricData`)
and in a local run's `DIR/metrics/*.jsonl`. One document carries one datum:

    {"_aws": {"Timestamp": 1764583200000, "CloudWatchMetrics": [{"Namespace": "OrdersPipeline",
      "Dimensions": [["Operator"]], "Metrics": [{"Name": "RecordsIn", "Unit": "Count"}]}]},
     "Operator": "parse", "RecordsIn": 42}

The value is a number (a count: several documents for the same minute add up, as in CloudWatch), or for gauges
and distributions the agent's aggregated shape `{"Min", "Max", "Count", "Sum"}` plus `"Values"`/`"Counts"` (a
histogram, at most 100 distinct values per document) so percentiles survive aggregation. The spec itself
documents numbers and plain arrays of values (≤ 100); the aggregated shape is the one the CloudWatch agent's
EMF pipeline takes (not verifiable offline here: check it once against a real log group, and fall back to the
spec's arrays, which the reader accepts too, if CloudWatch drops these datums).

Readers (the evaluator, `incident-bot health`, graphs, backtests) use this module only:

    stream = MetricStream.load(run / "metrics")              # or read_metrics_dir(...) for the raw merge
    stream.series("DLQRecordCount", start=t0, end=t1, period=60, statistic="Sum")  # [(datetime, value), ...]
    read_series(run / "metrics", "ProcessingLatency", (), t0, t1, 60, "p99")         # the same, one call

Timestamps are epoch milliseconds, bucketed to the minute (CloudWatch's finest standard resolution here).
To add a statistic, extend `Stat.statistic`.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

NAMESPACE = "OrdersPipeline"
MAX_VALUES_PER_DOCUMENT = 100  # EMF's limit on a metric's values array

Dims = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Dims]


def minute_of(epoch_ms: int) -> int:
    """The start of the minute holding `epoch_ms`."""
    return epoch_ms - epoch_ms % 60_000


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


# -- writing ----------------------------------------------------------------------------------------------------


def document(name: str, value: float | Mapping[str, Any], *, timestamp_ms: int, unit: str = "None",
             dims: Dims = (), namespace: str = NAMESPACE) -> dict[str, Any]:
    """One EMF document carrying one datum: a number, or an aggregated `{"Min","Max","Count","Sum"[,...]}`."""
    doc: dict[str, Any] = {"_aws": {"Timestamp": int(timestamp_ms), "CloudWatchMetrics": [{
        "Namespace": namespace, "Dimensions": [[k for k, _ in dims]],
        "Metrics": [{"Name": name, "Unit": unit}]}]}}
    for key, dim_value in dims:
        doc[key] = dim_value
    doc[name] = value if isinstance(value, int | float) else dict(value)
    return doc


def count_document(name: str, n: float, *, timestamp_ms: int, unit: str = "Count", dims: Dims = (),
                   namespace: str = NAMESPACE) -> dict[str, Any]:
    """A count (or any single value) at `timestamp_ms`."""
    return document(name, float(n), timestamp_ms=timestamp_ms, unit=unit, dims=dims, namespace=namespace)


def stat_documents(name: str, stat: Stat, *, timestamp_ms: int, unit: str = "None",
                   dims: Dims = ()) -> Iterator[dict[str, Any]]:
    """A statistic set, with its histogram split into documents of at most 100 distinct values."""
    base = {"Min": stat.minimum, "Max": stat.maximum, "Count": stat.sample_count, "Sum": stat.total}
    items = sorted(stat.values.items())
    if not items:
        yield document(name, base, timestamp_ms=timestamp_ms, unit=unit, dims=dims)
        return
    for start in range(0, len(items), MAX_VALUES_PER_DOCUMENT):
        chunk = items[start : start + MAX_VALUES_PER_DOCUMENT]
        part = Stat()
        for value, count in chunk:
            part.add(value, count)
        yield document(name, {"Min": part.minimum, "Max": part.maximum, "Count": part.sample_count,
                              "Sum": part.total, "Values": [v for v, _ in chunk],
                              "Counts": [float(c) for _, c in chunk]},
                       timestamp_ms=timestamp_ms, unit=unit, dims=dims)


def encode(doc: Mapping[str, Any]) -> str:
    """One compact JSON line (no newline)."""
    return json.dumps(doc, separators=(",", ":"))


def write(documents: Iterable[Mapping[str, Any]], path: Path | None = None, *, stream: TextIO | None = None) -> int:
    """Append documents as lines to `path`, or to stdout (production: the agent ships them); returns how many."""
    lines = [encode(d) for d in documents]
    if not lines:
        return 0
    text = "\n".join(lines) + "\n"
    if path is None:
        out = stream or sys.stdout
        out.write(text)
        out.flush()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    return len(lines)


# -- reading ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Datum:
    """One metric value read back from a document."""

    name: str
    dims: Dims
    timestamp_ms: int
    stat: Stat
    namespace: str = NAMESPACE


def datums(doc: Mapping[str, Any]) -> Iterator[Datum]:
    """Every datum an EMF document declares (a line that is not EMF yields nothing)."""
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        return
    timestamp = int(meta.get("Timestamp", 0))
    for directive in meta.get("CloudWatchMetrics", []):
        namespace = directive.get("Namespace", NAMESPACE)
        dim_sets = directive.get("Dimensions") or [[]]
        for metric in directive.get("Metrics", []):
            name = metric["Name"]
            if name not in doc:
                continue
            for dim_set in dim_sets:
                dims: Dims = tuple(sorted((k, str(doc[k])) for k in dim_set if k in doc))
                # A fresh Stat per datum: readers may keep it as their bucket and merge into it.
                yield Datum(name, dims, timestamp, _stat(doc[name]), namespace)


def _stat(value: Any) -> Stat:
    stat = Stat()
    if isinstance(value, int | float):
        stat.add(float(value))
    elif isinstance(value, list):  # the spec's plain array of values
        for item in value:
            stat.add(float(item))
            stat.values[float(item)] += 1
    else:
        stat.merge(Stat(float(value["Count"]), float(value["Sum"]), float(value["Min"]), float(value["Max"])))
        values = value.get("Values") or []
        for item, count in zip(values, value.get("Counts") or [1.0] * len(values), strict=True):
            stat.values[float(item)] += int(count)
    return stat


def read_files(paths: Iterable[Path]) -> dict[SeriesKey, dict[int, Stat]]:
    """Merge EMF lines into one `Stat` per (metric, dimensions) and minute, as CloudWatch stores them."""
    series: dict[SeriesKey, dict[int, Stat]] = {}
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.startswith('{"_aws"'):
                    continue  # stdout mixes log lines and metric documents; only the latter count
                for datum in datums(json.loads(line)):
                    minute = minute_of(datum.timestamp_ms)
                    points = series.setdefault((datum.name, datum.dims), {})
                    bucket = points.get(minute)
                    if bucket is None:
                        points[minute] = datum.stat  # the first datum of the minute becomes its bucket
                    else:
                        bucket.merge(datum.stat)
    return series


def read_metrics_dir(directory: Path | str) -> dict[SeriesKey, dict[int, Stat]]:
    """`read_files` over every `*.jsonl` under `directory` (a run's `DIR/metrics/`; empty if absent)."""
    return read_files(sorted(Path(directory).rglob("*.jsonl")))


def _ms(moment: datetime | int | None) -> int | None:
    if moment is None or isinstance(moment, int):
        return moment
    return int(moment.timestamp() * 1000)


def _dt(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


class MetricStream:
    """A metrics directory read once, answered like `GetMetricData`: period-aligned buckets of a statistic."""

    def __init__(self, series: Mapping[SeriesKey, Mapping[int, Stat]]) -> None:
        self.data = series

    @classmethod
    def load(cls, directory: Path | str) -> MetricStream:
        """Read every EMF line under `directory`."""
        return cls(read_metrics_dir(directory))

    def names(self) -> set[str]:
        """The metric names present."""
        return {name for name, _ in self.data}

    def last_timestamp(self) -> datetime | None:
        """The start of the newest minute with any datapoint (the "now" of a finished local run)."""
        minutes = [m for points in self.data.values() for m in points]
        return _dt(max(minutes)) if minutes else None

    def buckets(self, name: str, dims: Dims = (), *, start: datetime | int | None = None,
                end: datetime | int | None = None, period: int = 60) -> list[tuple[int, Stat]]:
        """Merged `Stat`s per period-aligned bucket in [start, end), oldest first; empty buckets are absent."""
        points = self.data.get((name, tuple(sorted(dims))), {})
        lo, hi, period_ms = _ms(start), _ms(end), period * 1000
        merged: dict[int, Stat] = {}
        for minute, stat in points.items():
            if (lo is not None and minute < lo) or (hi is not None and minute >= hi):
                continue
            merged.setdefault(minute - minute % period_ms, Stat()).merge(stat)
        return sorted(merged.items())

    def series(self, name: str, dims: Dims = (), *, start: datetime | int | None = None,
               end: datetime | int | None = None, period: int = 60,
               statistic: str = "Sum") -> list[tuple[datetime, float]]:
        """`[(bucket start, statistic)]` oldest first, like one `GetMetricData` query (no datapoint: absent)."""
        if period == 60:  # buckets are the stored minutes: no merging (backtests read weeks of them)
            lo, hi = _ms(start), _ms(end)
            points = self.data.get((name, tuple(sorted(dims))), {})
            return [(_dt(t), points[t].statistic(statistic)) for t in sorted(points)
                    if (lo is None or t >= lo) and (hi is None or t < hi)]
        return [(_dt(t), stat.statistic(statistic))
                for t, stat in self.buckets(name, dims, start=start, end=end, period=period)]

    def aggregate(self, name: str, dims: Dims = (), *, start: datetime | int | None = None,
                  end: datetime | int | None = None) -> Stat | None:
        """Every datapoint in [start, end) merged into one `Stat` (None when there is none)."""
        lo, hi = _ms(start), _ms(end)
        total: Stat | None = None
        for minute, stat in self.data.get((name, tuple(sorted(dims))), {}).items():
            if (lo is None or minute >= lo) and (hi is None or minute < hi):
                total = total or Stat()
                total.merge(stat)
        return total


def read_series(metrics_dir: Path | str, metric_name: str, dimensions: Sequence[tuple[str, str]] = (),
                start: datetime | int | None = None, end: datetime | int | None = None, period: int = 60,
                statistic: str = "Sum") -> list[tuple[datetime, float]]:
    """One metric's `[(bucket start, value)]` from a metrics directory; see `MetricStream.series`."""
    return MetricStream.load(metrics_dir).series(metric_name, tuple(dimensions), start=start, end=end,
                                                 period=period, statistic=statistic)
