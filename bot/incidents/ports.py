"""What the incident domain needs from the outside world, as Protocols.

Adapters in `bot/adapters/` implement these; only `bot/app.py` picks which. Every method raises
`TransientDeliveryError` (retry later, honour `retry_after`) or `PermanentDeliveryError` (give up, record it)
from `bot.errors`; nothing vendor-specific leaks through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class NameTaken(Exception):
    """`create_channel` found the name in use; the caller picks another or adopts the existing one."""


@dataclass(frozen=True, slots=True)
class Channel:
    """A chat channel as the bot knows it."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Message:
    """A chat message: plain `text` (notifications, fallback) and optional Block Kit `blocks`."""

    text: str
    blocks: Sequence[Mapping[str, Any]] = ()


class ChatOps(Protocol):
    """A chat workspace (Slack) as the incident flow uses it."""

    async def create_channel(self, name: str) -> Channel:
        """Create a public channel; raises NameTaken when the name exists."""

    async def find_channel(self, name: str) -> Channel | None:
        """The channel with exactly this name, or None."""

    async def set_topic(self, channel_id: str, topic: str) -> None:
        """Set the channel topic (≤ 250 characters; longer is cut by the adapter)."""

    async def set_purpose(self, channel_id: str, purpose: str) -> None:
        """Set the channel purpose."""

    async def resolve_user(self, user: str) -> str | None:
        """A Slack user id for `user` (an id is returned as is, an email is looked up); None if unknown."""

    async def group_members(self, handle: str) -> list[str] | None:
        """Member ids of the user group with this handle (`flink-oncall` or `@flink-oncall`); None if none."""

    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> Mapping[str, str]:
        """Invite users; returns who could not be invited and why (`already_in_channel`, `user_not_found`…)
        without failing the others."""

    async def add_bookmark(self, channel_id: str, title: str, link: str) -> None:
        """Add a link bookmark to the channel."""

    async def find_bookmark(self, channel_id: str, title: str, link: str) -> bool:
        """True when the channel already has this bookmark; lets a retried bookmark stay single."""

    async def post(self, channel: str, message: Message, *, key: str) -> str:
        """Post `message` in `channel` (id or name), tagged with the idempotency `key`; returns the message ts."""

    async def find_post(self, channel: str, *, key: str) -> str | None:
        """The ts of a message posted earlier with `key`, or None; lets a retried post stay single."""

    async def update(self, channel: str, ts: str, message: Message) -> None:
        """Replace the text and blocks of message `ts` posted earlier in `channel` (id or name)."""

    async def upload_file(self, channel_id: str, *, filename: str, content: bytes, title: str) -> str:
        """Share a file in the channel (Slack's two-step external upload); returns the file id."""


@dataclass(frozen=True, slots=True)
class PageEvent:
    """One PagerDuty Events API v2 event."""

    action: str  # trigger | acknowledge | resolve
    dedup_key: str
    summary: str = ""
    severity: str = "critical"
    source: str = ""
    component: str = ""
    custom_details: Mapping[str, Any] = field(default_factory=dict)
    links: Sequence[Mapping[str, str]] = ()
    images: Sequence[Mapping[str, str]] = ()  # {"src", "href", "alt"}: the metric graph
    timestamp: str = ""  # ISO 8601: when the alarm changed state (payload.timestamp)


class Pager(Protocol):
    """An on-call paging service (PagerDuty)."""

    @property
    def configured(self) -> bool:
        """False when paging is not set up; events are then only recorded."""

    async def send(self, event: PageEvent) -> str:
        """Send one event; returns the dedup key PagerDuty acknowledged."""


@dataclass(frozen=True, slots=True)
class GraphRequest:
    """A graph of one alarm metric over [start, end]: the threshold line and the ALARM period
    [alarm_start, alarm_end] shaded."""

    title: str
    namespace: str
    metric: str
    dimensions: Sequence[tuple[str, str]]
    statistic: str
    period: int
    threshold: float | None
    start: datetime
    end: datetime
    alarm_start: datetime
    alarm_end: datetime
    region: str = ""


class MetricGraphs(Protocol):
    """Draws metric graphs as PNG (CloudWatch's GetMetricWidgetImage, or matplotlib over local metrics)."""

    async def render(self, request: GraphRequest) -> bytes | None:
        """The PNG, or None when there is no data to draw; raises a delivery error when the store fails."""


class Directory(Protocol):
    """Who a paging-service user is (PagerDuty's REST API), so the chat side can find them."""

    async def email(self, user_id: str) -> str | None:
        """The email of user `user_id`; None when the service has no such user."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a Logs Insights query, with its final status and scan statistics."""

    fields: Sequence[str]
    rows: Sequence[Mapping[str, Any]]
    status: str = "Complete"  # Complete | Failed | Cancelled | Timeout
    records_scanned: int | None = None
    elapsed_seconds: float | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the query completed."""
        return self.status == "Complete"


class LogSearch(Protocol):
    """A Logs Insights engine: CloudWatch itself, or the embedded DuckDB one over local JSON lines."""

    async def run(self, query: str, *, start: datetime, end: datetime, limit: int | None = None) -> QueryResult:
        """Run Logs Insights `query` over [start, end]; raises QueryError for a query it cannot run."""
