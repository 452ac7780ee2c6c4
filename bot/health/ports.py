"""What the health verdict needs from a metrics store, as a Protocol.

Adapters (`bot/adapters/local_metrics.py` over a run's EMF `metrics/` directory, `cloudwatch_metrics.py` over
`GetMetricData`) implement it; only the composition root (`bot/app.py`, the CLI) picks which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

Series = list[tuple[datetime, float]]


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One metric statistic per period, like one `MetricDataQuery`; no namespace means the store's own
    (`OrdersPipeline`), platform metrics name theirs (`AWS/Kafka`) and their dimensions."""

    id: str
    metric: str
    statistic: str  # Sum | Average | Minimum | Maximum | SampleCount | pNN
    period: int = 60
    namespace: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()


class MetricSource(Protocol):
    """A store of the pipeline's metrics."""

    async def fetch(self, queries: Sequence[MetricQuery], *, start: datetime,
                    end: datetime) -> Mapping[str, Series]:
        """Every query's `[(period start, value)]` in [start, end), oldest first, in ONE round trip; a query with
        no datapoint maps to an empty list. Raises `bot.errors.MetricsUnavailable` when the store cannot answer."""

    async def latest(self) -> datetime | None:
        """The end of the newest data when the store is a finished replay (local runs); None for a live store."""


class MetricHistory(Protocol):
    """A store that also answers long spans (backtests over days): `history` is `fetch` without the one-round-trip
    promise (CloudWatch asks in slices)."""

    async def history(self, queries: Sequence[MetricQuery], *, start: datetime,
                      end: datetime) -> Mapping[str, Series]:
        """Every query's `[(period start, value)]` in [start, end), oldest first; raises `MetricsUnavailable`."""

    async def latest(self) -> datetime | None:
        """As `MetricSource.latest`."""
