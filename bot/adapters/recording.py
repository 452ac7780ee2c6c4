"""Record-only stand-ins for Slack and PagerDuty: used without `SLACK_BOT_TOKEN` / `PAGERDUTY_ROUTING_KEY`.

`RecordingChat` answers like a workspace that accepts everything: channel ids are `R-<name>`, ts values count
up, posts are remembered by key (so `find_post` works) and posts are logged as structlog events. It never
raises a delivery error; `create_channel` still raises `NameTaken` for a name it has seen, as the port says.
`UnconfiguredPager` reports `configured` False and returns the dedup key without sending anything.

To extend: mirror each new `ChatOps`/`Pager` method here, recording instead of sending.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from bot.incidents.ports import Channel, Message, NameTaken, PageEvent

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RecordedPost:
    """A message that would have been posted."""

    channel_id: str
    message: Message
    key: str
    ts: str


class RecordingChat:
    """`ChatOps` that records instead of talking to Slack."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}  # by name
        self.topics: dict[str, str] = {}
        self.purposes: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.bookmarks: dict[str, list[tuple[str, str]]] = {}
        self.posts: list[RecordedPost] = []
        self.files: list[tuple[str, str, str, int]] = []  # channel id, filename, title, bytes
        self._ts = itertools.count(1)
        self._epoch = int(time.time())

    async def create_channel(self, name: str) -> Channel:
        """Record a new channel `R-<name>`; raises NameTaken when it was created before."""
        name = name.removeprefix("#")
        if name in self.channels:
            raise NameTaken(name)
        channel = self._remember(name)
        log.info("chat_channel_recorded", channel=name)
        return channel

    async def find_channel(self, name: str) -> Channel | None:
        """The recorded channel with this name, or None."""
        return self.channels.get(name.removeprefix("#"))

    async def set_topic(self, channel_id: str, topic: str) -> None:
        """Record the topic."""
        self.topics[channel_id] = topic[:250]

    async def set_purpose(self, channel_id: str, purpose: str) -> None:
        """Record the purpose."""
        self.purposes[channel_id] = purpose[:250]

    async def resolve_user(self, user: str) -> str | None:
        """The input itself: with no workspace to ask, every user is taken at its word."""
        return user.strip() or None

    async def group_members(self, handle: str) -> list[str] | None:
        """The group itself as one member: with no workspace to ask, the record names who would be invited."""
        handle = handle.strip().lstrip("@")
        return [f"@{handle}"] if handle else None

    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """Record the invitations (nobody is refused)."""
        self.members.setdefault(channel_id, set()).update(user_ids)
        return {}

    async def add_bookmark(self, channel_id: str, title: str, link: str) -> None:
        """Record the bookmark."""
        self.bookmarks.setdefault(channel_id, []).append((title, link))

    async def find_bookmark(self, channel_id: str, title: str, link: str) -> bool:
        """True when this bookmark was recorded before."""
        return (title, link) in self.bookmarks.get(channel_id, [])

    async def post(self, channel: str, message: Message, *, key: str) -> str:
        """Record the message and return a synthetic ts."""
        channel_id = self._channel_id(channel)
        ts = f"{self._epoch}.{next(self._ts):06d}"
        self.posts.append(RecordedPost(channel_id, message, key, ts))
        log.info("chat_post_recorded", channel=channel_id, key=key, text=message.text[:200])
        return ts

    async def find_post(self, channel: str, *, key: str) -> str | None:
        """The ts of the recorded post with `key` in `channel`, or None."""
        channel_id = self._channel_id(channel)
        return next((p.ts for p in self.posts if p.channel_id == channel_id and p.key == key), None)

    async def update(self, channel: str, ts: str, message: Message) -> None:
        """Replace the recorded message `ts` (recorded as a new post with the same ts when unknown)."""
        channel_id = self._channel_id(channel)
        for index, found in enumerate(self.posts):
            if found.channel_id == channel_id and found.ts == ts:
                self.posts[index] = RecordedPost(channel_id, message, found.key, ts)
                break
        else:
            self.posts.append(RecordedPost(channel_id, message, "", ts))
        log.info("chat_update_recorded", channel=channel_id, ts=ts, text=message.text[:200])

    async def upload_file(self, channel_id: str, *, filename: str, content: bytes, title: str) -> str:
        """Record the file (name, title, size) and return a synthetic file id."""
        file_id = f"F-{next(self._ts):06d}"
        self.files.append((channel_id, filename, title, len(content)))
        log.info("chat_file_recorded", channel=channel_id, filename=filename, bytes=len(content))
        return file_id

    def _remember(self, name: str) -> Channel:
        channel = Channel(id=f"R-{name}", name=name)
        self.channels[name] = channel
        return channel

    def _channel_id(self, channel: str) -> str:
        """`#name`, `name` and `R-name` all mean the same channel."""
        if channel.startswith("R-"):
            return channel
        name = channel.removeprefix("#")
        known = self.channels.get(name)
        return known.id if known else f"R-{name}"


class UnconfiguredPager:
    """`Pager` for when no routing key is set: nothing is sent, events are kept for inspection."""

    def __init__(self) -> None:
        self.events: list[PageEvent] = []

    @property
    def configured(self) -> bool:
        """Always False: paging is not set up."""
        return False

    async def send(self, event: PageEvent) -> str:
        """Record the event and return its dedup key."""
        self.events.append(event)
        log.info("page_not_sent", action=event.action, dedup_key=event.dedup_key)
        return event.dedup_key
