"""The guide's correctness checks (section 1) over a run's output, and the metrics that let an alarm page on them.

Invariants, every 5 minutes (`INVARIANTS`, alarm InvariantViolated):
    output_covers_input   output ≥ input − DLQ − late (no record silently lost)
    no_duplicate_orders   every order_id once in the sink (exactly-once held)
    watermark_lag         the watermark trails the newest event by < 60 s
Reconciliation, hourly (alarm ReconciliationMismatch):
    sample_validation     100 random output records: required fields present, values valid, customer enriched

The watermark lag is the job's own `WatermarkLagMs` (newest event time − the watermark the `window-in` operator
sees with each record). PyFlink ships each record to Python with the watermark its Java wrapper had when it
sent it, and a Python operator forwards watermarks only once its buffered bundle is done, so the watermark trails
by the records in flight: about a second of event time at real-time rates, but minutes in a fast local replay
that compresses 30 minutes into seconds (measured: up to 10 minutes). Replays therefore pass a larger
`max_watermark_lag_ms` (`--max-watermark-lag`).

Input is what the source operator counted (`RecordsIn` of `parse` in the metrics), or the source file's line
count when given. Each check emits `CheckFailed` (dimension `Check`, 0 or 1) and the failures add up into
`InvariantViolations` / `ReconciliationMismatches` (no dimension: what the alarms watch), as EMF documents.
To add a check, write a function returning `CheckResult` and add it to `run_checks` (and to `INVARIANTS` if it
is one).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline import emf
from pipeline.job import read_lines
from pipeline.orders import RecordError, is_canary, parse_order, validate_order

INVARIANTS = ("output_covers_input", "no_duplicate_orders", "watermark_lag")
RECONCILIATION = ("sample_validation",)
MAX_WATERMARK_LAG_MS = 60_000
SAMPLE_SIZE = 100
OUTPUT_FIELDS = ("order_id", "customer_id", "amount", "currency", "event_time", "customer")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: its name, whether it held, and what was measured (one line)."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every check of one pass."""

    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """Whether every check held."""
        return all(c.ok for c in self.checks)

    def failed(self, names: tuple[str, ...]) -> list[CheckResult]:
        """The failed checks among `names`."""
        return [c for c in self.checks if c.name in names and not c.ok]

    def as_dict(self) -> dict[str, Any]:
        """`{"ok", "checks": [{"name", "ok", "detail"}]}` (the `--json` contract)."""
        return {"ok": self.ok, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]}


class RunData(Protocol):
    """Where a run's records and metrics are read: a local directory, or S3 prefixes and CloudWatch."""

    def records(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every JSON record of `output`, `dlq` or `late`."""

    def statistic(self, metric: str, dims: emf.Dims, statistic: str) -> float | None:
        """One statistic of a metric over the whole checked span (None: no datapoint)."""


@dataclass(frozen=True, slots=True)
class LocalRun:
    """A local run directory: `output/`, `dlq/`, `late/` part files and the EMF `metrics/`."""

    out: Path

    def records(self, kind: str) -> Iterator[dict[str, Any]]:
        """The finished part files' records."""
        yield from read_lines(self.out / kind)

    def statistic(self, metric: str, dims: emf.Dims, statistic: str) -> float | None:
        """From the run's EMF metrics, read once per call (a check pass asks twice)."""
        stat = emf.MetricStream.load(self.out / "metrics").aggregate(metric, dims)
        return None if stat is None else stat.statistic(statistic)


def run_checks(run: RunData | Path | str, *, source: Path | None = None, sample_size: int = SAMPLE_SIZE,
               seed: int | None = None, max_watermark_lag_ms: int = MAX_WATERMARK_LAG_MS) -> CheckReport:
    """Run every check over a run (a local `out_dir` with output/, dlq/, late/, metrics/, or any `RunData`)."""
    data = LocalRun(Path(run)) if isinstance(run, Path | str) else run
    outputs = list(data.records("output"))
    return CheckReport((
        output_covers_input(data, outputs, source),
        no_duplicate_orders(outputs),
        watermark_lag(data.statistic("WatermarkLagMs", (), "Maximum"), limit_ms=max_watermark_lag_ms),
        sample_validation(outputs, sample_size=sample_size, seed=seed),
    ))


def output_covers_input(data: RunData, outputs: list[dict[str, Any]], source: Path | None) -> CheckResult:
    """output ≥ input − DLQ − late."""
    if source is not None:
        with source.open(encoding="utf-8") as handle:
            inputs = sum(1 for line in handle if line.strip() and not is_canary(line))
    else:
        counted = data.statistic("RecordsIn", (("Operator", "parse"),), "Sum")
        if counted is None:
            return CheckResult("output_covers_input", False, "no input count: no RecordsIn for operator parse "
                                                             "in the metrics (give --source)")
        inputs = int(counted)
    dlq = sum(1 for _ in data.records("dlq"))
    late = sum(1 for _ in data.records("late"))
    expected = inputs - dlq - late
    ok = len(outputs) >= expected
    detail = f"output {len(outputs)} {'≥' if ok else '<'} input {inputs} − DLQ {dlq} − late {late} = {expected}"
    if not ok:
        detail += f": {expected - len(outputs)} records missing"
    return CheckResult("output_covers_input", ok, detail)


def no_duplicate_orders(outputs: list[dict[str, Any]]) -> CheckResult:
    """Every order_id appears once in the sink."""
    counts = Counter(str(o.get("order_id")) for o in outputs)
    repeated = sorted(k for k, n in counts.items() if n > 1)
    if not repeated:
        return CheckResult("no_duplicate_orders", True, f"{len(counts)} order ids, each once")
    extra = sum(counts[k] - 1 for k in repeated)
    shown = ", ".join(repeated[:5]) + (", …" if len(repeated) > 5 else "")
    return CheckResult("no_duplicate_orders", False,
                       f"{len(repeated)} order ids appear more than once ({extra} extra records): {shown}")


def watermark_lag(worst: float | None, *, limit_ms: int = MAX_WATERMARK_LAG_MS) -> CheckResult:
    """The largest WatermarkLagMs sample (`worst`) stays under 60 s."""
    if worst is None:
        return CheckResult("watermark_lag", False, "no WatermarkLagMs datapoints: the watermark is not measured")
    ok = worst < limit_ms
    return CheckResult("watermark_lag", ok, f"max watermark lag {worst / 1000:.1f} s {'<' if ok else '≥'} "
                                            f"{limit_ms / 1000:.0f} s")


def sample_validation(outputs: list[dict[str, Any]], *, sample_size: int = SAMPLE_SIZE,
                      seed: int | None = None) -> CheckResult:
    """`sample_size` random output records: required fields present, values valid, customer enriched."""
    if not outputs:
        return CheckResult("sample_validation", True, "no output records to sample")
    sample = random.Random(seed).sample(outputs, min(sample_size, len(outputs)))
    problems = [f"{record.get('order_id')}: {problem}" for record in sample
                if (problem := _record_problem(record))]
    if not problems:
        return CheckResult("sample_validation", True, f"{len(sample)} random records valid")
    shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
    return CheckResult("sample_validation", False, f"{len(problems)} of {len(sample)} sampled records invalid: "
                                                   f"{shown}")


def _record_problem(record: dict[str, Any]) -> str | None:
    missing = [name for name in OUTPUT_FIELDS if record.get(name) in (None, "")]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        validate_order(parse_order(json.dumps(record)))
    except RecordError as error:
        return error.message
    customer = record["customer"]
    if not isinstance(customer, dict) or customer.get("customer_id") != record["customer_id"]:
        return "customer enrichment does not match customer_id"
    return None


def documents(report: CheckReport, *, timestamp_ms: int) -> Iterator[dict[str, Any]]:
    """The pass as EMF: `CheckFailed` per check, `InvariantViolations` and `ReconciliationMismatches`."""
    for check in report.checks:
        yield emf.count_document("CheckFailed", 0 if check.ok else 1, timestamp_ms=timestamp_ms,
                                 dims=(("Check", check.name),))
    yield emf.count_document("InvariantViolations", len(report.failed(INVARIANTS)), timestamp_ms=timestamp_ms)
    yield emf.count_document("ReconciliationMismatches", len(report.failed(RECONCILIATION)),
                             timestamp_ms=timestamp_ms)
