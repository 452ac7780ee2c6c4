"""Pacing Slack Web API calls under Slack's rate limits, so a storm is slowed down by us rather than refused.

Slack allows about one message per second per channel (`chat.postMessage`, short bursts tolerated) and limits
other methods per workspace by tier: Tier 2 about 20 calls a minute (`conversations.create`, `bookmarks.add`,
`conversations.setTopic`/`setPurpose`, `conversations.list`, `usergroups.list`), Tier 3 about 50 (`chat.update`,
`conversations.invite`, `conversations.history`, `users.lookupByEmail`). `SlackPacer` holds one token bucket per
method and one per channel for posts, shared by every caller of one `SlackChat` (one per process), and stays a
little under each limit; a 429 that still comes makes the bucket hold its callers back for `Retry-After`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

TIER_2 = 20.0
TIER_3 = 50.0
# Calls per minute we allow ourselves, a little under Slack's tier (a replica or two may share the workspace).
METHOD_RATES: Mapping[str, float] = {
    "conversations.create": TIER_2,
    "bookmarks.add": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.setPurpose": TIER_2,
    "conversations.list": TIER_2,
    "usergroups.list": TIER_2,
    "conversations.invite": TIER_3,
    "chat.update": TIER_3,
    "conversations.history": TIER_3,
    "users.lookupByEmail": TIER_3,
}
HEADROOM = 0.9
POSTS_PER_SECOND = 1.0
POST_BURST = 3


class TokenBucket:
    """`rate` calls per second on average, up to `burst` at once; waiters are served in arrival order."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        # The theoretical arrival time of the next call (GCRA): a call may go when it is at most a burst early.
        self._next = clock()

    def reserve(self) -> float:
        """Take the next slot; returns how many seconds to wait before using it."""
        now = self._clock()
        slot = max(self._next, now)
        self._next = slot + 1 / self.rate
        return max(0.0, slot - (self.burst - 1) / self.rate - now)

    def hold(self, seconds: float) -> None:
        """Slack said to wait `seconds` (a 429): nobody goes before then."""
        self._next = max(self._next, self._clock() + seconds + (self.burst - 1) / self.rate)

    async def take(self) -> None:
        """Wait for a slot."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


class SlackPacer:
    """The buckets of one Slack workspace connection: per method (tiers) and per channel (posts)."""

    def __init__(self, *, method_rates: Mapping[str, float] = METHOD_RATES, headroom: float = HEADROOM,
                 posts_per_second: float = POSTS_PER_SECOND, post_burst: int = POST_BURST) -> None:
        self._methods = {
            method: TokenBucket(per_minute * headroom / 60, max(1, int(per_minute * headroom / 4)))
            for method, per_minute in method_rates.items()
        }
        self._posts_per_second, self._post_burst = posts_per_second, post_burst
        self._channels: dict[str, TokenBucket] = {}

    def channel(self, key: str) -> TokenBucket:
        """The post bucket of channel `key` (an id, or a name until its id is known)."""
        bucket = self._channels.get(key)
        if bucket is None:
            bucket = self._channels[key] = TokenBucket(self._posts_per_second, self._post_burst)
        return bucket

    def alias(self, name: str, channel_id: str) -> None:
        """Channel `name` is `channel_id`: both share one post bucket from now on."""
        if name in self._channels and channel_id not in self._channels:
            self._channels[channel_id] = self._channels[name]
        elif channel_id in self._channels:
            self._channels[name] = self._channels[channel_id]

    def method(self, method: str) -> TokenBucket | None:
        """The tier bucket of `method`, None for a method we do not pace."""
        return self._methods.get(method)

    async def before(self, method: str, channel: str | None = None) -> None:
        """Wait until `method` (posting in `channel`, when given) may be called."""
        bucket = self.method(method)
        if bucket is not None:
            await bucket.take()
        if channel is not None:
            await self.channel(channel).take()

    def refused(self, method: str, retry_after: float | None, channel: str | None = None) -> None:
        """Slack answered 429 anyway: hold the method's (and channel's) callers back for `retry_after`."""
        wait = retry_after if retry_after is not None else 1.0
        bucket = self.method(method)
        if bucket is not None:
            bucket.hold(wait)
        if channel is not None:
            self.channel(channel).hold(wait)
