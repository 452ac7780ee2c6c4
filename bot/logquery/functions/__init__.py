"""The Logs Insights functions the local engine runs, one module per family of AWS's function reference.

To support another function, add it to its family's table; anything absent raises UnsupportedQuery naming it.
"""

from __future__ import annotations

from bot.logquery.functions import datetime, general, ip, numbers, stats, strings
from bot.logquery.functions.base import Generator, Kind, Translator, Typed, sql_string
from bot.logquery.functions.ip import IP_UDFS

FUNCTIONS: dict[str, Translator] = {
    **general.FUNCTIONS, **strings.FUNCTIONS, **numbers.FUNCTIONS, **datetime.FUNCTIONS, **ip.FUNCTIONS,
}
AGGREGATES: dict[str, Translator] = stats.AGGREGATES

__all__ = ["AGGREGATES", "FUNCTIONS", "IP_UDFS", "Generator", "Kind", "Translator", "Typed", "sql_string"]
