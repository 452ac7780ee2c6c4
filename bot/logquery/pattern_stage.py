"""What the generator needs for `pattern`, `diff` and `anomaly`: the table of mined templates, its fields, and
the plan the engine follows (scan, mine, then the rest of the query over the templates)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.logquery.functions import Typed

PATTERN_TABLE = "li_patterns"
# The mined templates: one row each; columns the commands after `pattern` read.
PATTERN_COLUMNS = ("pattern VARCHAR, sample_count BIGINT, ratio DOUBLE, severity VARCHAR, sample VARCHAR, "
                   "diff_count BIGINT, diff_description VARCHAR, anomaly_description VARCHAR, "
                   "anomaly_priority VARCHAR")
PATTERN_FIELDS = {"@pattern": Typed("pattern", "str"), "@sampleCount": Typed("sample_count", "num"),
                  "@ratio": Typed("ratio", "num"), "@severityLabel": Typed("severity", "str"),
                  "@logSample": Typed("sample", "str")}
DIFF_FIELDS = {"@diffEventCount": Typed("diff_count", "num"),
               "@differenceDescription": Typed("diff_description", "str")}
ANOMALY_FIELDS = {"@description": Typed("anomaly_description", "str"),
                  "@priority": Typed("anomaly_priority", "str")}
_SHIFTS = {"day": timedelta(days=1), "week": timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class PatternPlan:
    """How to run a query with `pattern`: the scan feeding the miner, and the comparison it asks for.

    `scan_sql` returns one row per distinct masked line: `k` (masked text), `n` (events in the query period),
    `n_prev` (events in the comparison period), `sample` (one raw line) and `level`, the most severe of the events'
    level fields as a rank (`patterns.LEVEL_RANKS`; a rank rather than `mode()` halves the scan's cost).
    """

    scan_sql: str
    compare: bool  # diff or anomaly: count the comparison period too
    anomaly: bool


def comparison_period(period: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[from, to) that `diff` compares [start, end] with: just before it, or the same span a day, a week or a
    calendar month earlier ("the same time the preceding month")."""
    if period == "month":
        return _month_earlier(start), _month_earlier(end)
    if period in _SHIFTS:
        return start - _SHIFTS[period], end - _SHIFTS[period]
    return start - (end - start), start


def _month_earlier(moment: datetime) -> datetime:
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))
