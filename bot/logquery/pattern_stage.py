"""What the generator needs for `pattern`, `diff` and `anomaly`: the table of mined templates, its fields, and
the plan the engine follows (scan, mine, then the rest of the query over the templates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

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
PREVIOUS_PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}


@dataclass(frozen=True, slots=True)
class PatternPlan:
    """How to run a query with `pattern`: the scan feeding the miner, and the comparison it asks for.

    `scan_sql` returns one row per distinct masked line: `k` (masked text), `n` (events in the query period),
    `n_prev` (events in the comparison period), `sample` (one raw line) and `level` (the events' level field).
    """

    scan_sql: str
    compare: bool  # diff or anomaly: count the comparison period too
    anomaly: bool
