"""Backtests and tuning: an alarm's rule replayed over its metric history, and the guide's steady-state setting.

`backtest` replays one `AlarmSpec` over `{period start ms: statistic}` with `evaluator.transitions` (the same
function the local evaluator runs, so M of N, TreatMissingData and the comparison behave identically) and turns the
transitions into ALARM episodes (start, end or None while still in ALARM, peak = the most extreme datapoint the
alarm saw). Past incidents of the alarm are judged per setting: caught on time, sooner or later (more than one
period off), or missed. `propose` is the guide's section 6 Q5: threshold at the 95th percentile of normal (the
5th for "less than" alarms), normal meaning outside incidents, with 2–3 evaluation periods. Pure functions:
fetching history and reading incidents is the caller's (see `bot/cli/quality.py`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.alarms import AlarmSpec
from pipeline.evaluator import transitions

MATCH_SLACK = timedelta(minutes=30)  # an episode this close to an incident counts as the alarm for it
NORMAL_PERCENTILE = 95.0
CANDIDATES = ((2, 2), (3, 2), (3, 3))  # (evaluation periods, datapoints to alarm): the guide's 2-3 periods


@dataclass(frozen=True, slots=True)
class Setting:
    """What a human tunes: threshold, evaluation periods, datapoints to alarm."""

    threshold: float
    periods: int
    datapoints: int

    def as_dict(self) -> dict[str, Any]:
        """The contract's `{"threshold", "periods", "datapoints"}`."""
        return {"threshold": self.threshold, "periods": self.periods, "datapoints": self.datapoints}


@dataclass(frozen=True, slots=True)
class Episode:
    """One would-be ALARM stretch; `end` None when the history ends in ALARM, `peak` None without datapoints."""

    start: datetime
    end: datetime | None
    peak: float | None

    def as_dict(self) -> dict[str, Any]:
        """`{"start": ISO, "end": ISO | null, "peak": number | null}`."""
        return {"start": iso(self.start), "end": iso(self.end) if self.end else None, "peak": self.peak}


@dataclass(frozen=True, slots=True)
class PastIncident:
    """An incident of the alarm from the store, with its recorded outcome (None: not classified)."""

    id: int
    opened_at: datetime
    resolved_at: datetime | None
    outcome: str | None = None


def setting_of(spec: AlarmSpec) -> Setting:
    """The alarm's current setting."""
    return Setting(float(spec.threshold), spec.evaluation_periods, spec.datapoints_to_alarm)


def with_setting(spec: AlarmSpec, setting: Setting) -> AlarmSpec:
    """The alarm with another threshold / periods / datapoints; raises ValueError when M > N or N < 1."""
    if setting.periods < 1 or not 1 <= setting.datapoints <= setting.periods:
        raise ValueError(f"datapoints ({setting.datapoints}) must be between 1 and periods ({setting.periods})")
    return replace(spec, threshold=setting.threshold, evaluation_periods=setting.periods,
                   datapoints_to_alarm=setting.datapoints)


def to_values(series: Sequence[tuple[datetime, float]]) -> dict[int, float]:
    """`[(bucket start, value)]` (a `MetricSource` answer) as `{bucket start ms: value}`."""
    return {int(at.timestamp() * 1000): value for at, value in series}


def episodes(spec: AlarmSpec, values: Mapping[int, float], start: datetime, end: datetime) -> list[Episode]:
    """Every ALARM episode the rule implies over the closed periods in [start, end), from the metric's first
    datapoint on (as the evaluator: an alarm exists once its metric does); none when there is no datapoint."""
    period_ms = spec.period * 1000
    end_ms = _ms(end)
    present = _present(spec, values, start, end)
    if not present:
        return []
    first = max(_ms(start), present[0])
    last = end_ms - end_ms % period_ms - period_ms  # the newest bucket that has closed
    found: list[Episode] = []
    opened: datetime | None = None
    for change in transitions(spec, values, first, last):
        if change.new_state == "ALARM":
            opened = change.at
        elif opened is not None:
            found.append(Episode(opened, change.at, _peak(spec, values, present, opened, change.at)))
            opened = None
    if opened is not None:
        found.append(Episode(opened, None, _peak(spec, values, present, opened, end)))
    return found


def _present(spec: AlarmSpec, values: Mapping[int, float], start: datetime, end: datetime) -> list[int]:
    """Bucket starts with a datapoint the replay can see: [start - one evaluation window, end), sorted."""
    lo = _ms(start) - spec.period * 1000 * spec.evaluation_periods
    return sorted(t for t in values if lo <= t < _ms(end))


def evaluated_from(spec: AlarmSpec, values: Mapping[int, float], start: datetime, end: datetime) -> datetime:
    """Where the replay starts: `start`, or the metric's first datapoint when it came later (a short local run)."""
    present = _present(spec, values, start, end)
    if not present or present[0] <= _ms(start):
        return start
    return datetime.fromtimestamp(present[0] / 1000, UTC)


def _peak(spec: AlarmSpec, values: Mapping[int, float], keys: list[int], opened: datetime,
          closed: datetime) -> float | None:
    """The most extreme datapoint from the window that raised the alarm to the one that cleared it."""
    lo = _ms(opened) - spec.evaluation_periods * spec.period * 1000
    seen = [values[t] for t in keys[bisect.bisect_left(keys, lo):bisect.bisect_left(keys, _ms(closed))]]
    if not seen:
        return None
    return min(seen) if spec.comparison.startswith("Less") else max(seen)


def pages_per_week(found: Sequence[Episode], start: datetime, end: datetime) -> float:
    """Episodes (each one a page) per 7 days of the replayed span."""
    weeks = (end - start) / timedelta(days=7)
    return round(len(found) / weeks, 2) if weeks > 0 else 0.0


def judge(spec: AlarmSpec, found: Sequence[Episode], incidents: Sequence[PastIncident]) -> list[dict[str, Any]]:
    """Per incident: `caught` (within a period of its opening), `sooner`, `later`, or `missed` by this setting."""
    tolerance = timedelta(seconds=spec.period)
    verdicts = []
    for incident in incidents:
        lo = incident.opened_at - MATCH_SLACK
        hi = (incident.resolved_at or incident.opened_at) + MATCH_SLACK
        match = next((e for e in found if e.start <= hi and (e.end is None or e.end >= lo)), None)
        verdict: dict[str, Any] = {"id": incident.id, "opened_at": iso(incident.opened_at),
                                   "outcome": incident.outcome}
        if match is None:
            verdicts.append(verdict | {"verdict": "missed", "delta_seconds": None})
            continue
        delta = match.start - incident.opened_at
        word = "caught" if abs(delta) <= tolerance else ("sooner" if delta < timedelta(0) else "later")
        verdicts.append(verdict | {"verdict": word, "delta_seconds": round(delta.total_seconds())})
    return verdicts


def backtest(spec: AlarmSpec, values: Mapping[int, float], start: datetime, end: datetime,
             incidents: Sequence[PastIncident] = ()) -> dict[str, Any]:
    """`{"episodes": [...], "pages_per_week": n}` plus, with incidents, each one's verdict and their counts."""
    found = episodes(spec, values, start, end)
    result: dict[str, Any] = {"episodes": [e.as_dict() for e in found],
                              "pages_per_week": pages_per_week(found, evaluated_from(spec, values, start, end), end)}
    if incidents:
        verdicts = judge(spec, found, incidents)
        result["incidents"] = verdicts
        result["caught"] = {word: sum(1 for v in verdicts if v["verdict"] == word)
                            for word in ("caught", "sooner", "later", "missed")}
    return result


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `pct` % of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def normal_values(spec: AlarmSpec, values: Mapping[int, float], incidents: Sequence[PastIncident],
                  start: datetime, end: datetime) -> list[float]:
    """The datapoints in [start, end) outside every incident (from its evaluation window before the opening to
    its resolution)."""
    lead = spec.evaluation_periods * spec.period * 1000
    spans = [(_ms(i.opened_at) - lead, _ms(i.resolved_at or end)) for i in incidents]
    lo_ms, hi_ms = _ms(start), _ms(end)
    return [v for t, v in values.items()
            if lo_ms <= t < hi_ms and not any(lo <= t < hi for lo, hi in spans)]


def normal_threshold(spec: AlarmSpec, normal: Sequence[float]) -> float:
    """The 95th percentile of normal for "greater than" alarms, the 5th for "less than" ones (the same 95 % of
    normal periods stay on the quiet side); the current threshold when there is no normal history."""
    if not normal:
        return float(spec.threshold)
    less = spec.comparison.startswith("Less")
    return float(percentile(normal, 100 - NORMAL_PERCENTILE if less else NORMAL_PERCENTILE))


def propose(spec: AlarmSpec, values: Mapping[int, float], start: datetime, end: datetime,
            incidents: Sequence[PastIncident] = ()) -> Setting:
    """The guide's steady state: threshold from `normal_threshold`; 2 of 2, 2 of 3 or 3 of 3 periods, picking the
    fewest pages that still raise every incident not classified a false positive, else the nearest to today's."""
    threshold = normal_threshold(spec, normal_values(spec, values, incidents, start, end))
    current = setting_of(spec)
    periods = min(3, max(2, current.periods))
    nearest = Setting(threshold, periods, min(periods, max(2, current.datapoints)))
    real = [i for i in incidents if i.outcome != "false-positive"]
    if not real:
        return nearest
    best: tuple[int, Setting] | None = None
    for n, m in CANDIDATES:
        candidate = Setting(threshold, n, m)
        tuned = with_setting(spec, candidate)
        found = episodes(tuned, values, start, end)
        if any(v["verdict"] == "missed" for v in judge(tuned, found, real)):
            continue
        if best is None or len(found) < best[0]:
            best = (len(found), candidate)
    return best[1] if best else nearest


def iso(moment: datetime) -> str:
    """`2026-12-01T10:00:00Z`."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
