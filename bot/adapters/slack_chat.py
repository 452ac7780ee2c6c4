"""Slack as the incident flow's `ChatOps`: slack_sdk's `AsyncWebClient`, Slack's failures mapped onto ours.

Calls are paced under Slack's rate limits (`bot/adapters/slack_pacing.py`: one post per second per channel,
the Web API tiers per method) so a storm waits here instead of being refused. Rate limits that still come (429,
honouring `Retry-After` up to `max_wait`) are waited out by slack_sdk's retry handler: Slack did nothing, so
sending again is safe. 500/503 and dropped connections are retried a bounded number of times
only for reads and calls that are idempotent anyway (topic, purpose, invitations); for the calls that would
make a second channel, post or bookmark (`conversations.create`, `chat.postMessage`, `bookmarks.add`) Slack
may have acted before failing, so they are not re-sent here: the failure goes back to the outbox, which looks
(`find_channel`, `find_post`, `find_bookmark`) before it tries again. Whatever still fails becomes
`TransientDeliveryError` (`retry_after` set when Slack said so). Refusals (`invalid_auth`,
`channel_not_found`, `is_archived`, invalid blocks…) become `SlackRefused`, a `PermanentDeliveryError` naming
Slack's error code.

Posts carry Slack message metadata (`event_type: incident_bot_post`, `event_payload: {"key": …}`) so
`find_post` can tell whether an earlier, ambiguous attempt landed: callers check it before retrying `post`.

To extend: add a method that calls `self._call("<api.method>", self._client.<api_method>(...))`; map any new
"not really an error" code where it is called (see `invite`), not in `_failure`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack_pacing import SlackPacer
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.incidents.ports import Channel, Message, NameTaken
from bot.presentation.blocks import TOPIC_MAX, cut, fit_message
from bot.presentation.mrkdwn import plain

POST_EVENT_TYPE = "incident_bot_post"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# Slack answers these with HTTP 200 but they are the server's trouble, not ours.
# conversations.invite refusals about one user, not the call: recorded, never fatal.
_PER_USER_ERRORS = frozenset({"already_in_channel", "cant_invite_self", "user_not_found", "cant_invite",
                              "user_is_restricted", "user_team_not_in_channel", "ura_max_channels"})
_TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                               "request_timeout"})


class SlackRefused(PermanentDeliveryError):
    """Slack refused the call and retrying cannot fix it; `error` is Slack's code (e.g. `is_archived`)."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"slack {method}: {error}")
        self.method = method
        self.error = error


class _CappedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out a 429 in-process only when `Retry-After` is short; longer waits go back to the caller."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        retry_after = _retry_after(response.headers)
        return retry_after is None or retry_after <= self.max_wait


class _ProportionalJitter(Jitter):
    """Up to +100% of the wait; slack_sdk's default adds up to a whole second whatever the backoff."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random())  # spreads retries; not for security


def retry_handlers(
    *, max_retries: int = 2, backoff: float = 0.5, max_wait: float = 10.0, ambiguous: bool = True,
) -> list[AsyncRetryHandler]:
    """slack_sdk retry handlers with bounded attempts, shared by the Web API and `response_url` clients;
    `ambiguous=False` keeps only the rate-limit one (for calls that must not be re-sent blindly)."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_ProportionalJitter())
    handlers: list[AsyncRetryHandler] = [_CappedRateLimitRetryHandler(max_retries, max_wait)]
    if ambiguous:
        handlers += [
            AsyncServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
            AsyncConnectionErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
        ]
    return handlers


class SlackChat:
    """`ChatOps` on a Slack workspace through the Web API with a bot token."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://slack.com/api/",
        timeout: int = 10,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_wait: float = 10.0,
        history_depth: int = 200,
        pacer: SlackPacer | None = None,
    ) -> None:
        self._client = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            retry_handlers=retry_handlers(max_retries=max_retries, backoff=backoff, max_wait=max_wait),
        )
        # For calls that create something: a 500 or a lost answer may hide a success, so only 429 is re-sent.
        self._once = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            retry_handlers=retry_handlers(max_retries=max_retries, backoff=backoff, max_wait=max_wait,
                                          ambiguous=False),
        )
        self._history_depth = history_depth
        # One per process: every lane's calls share the buckets.
        self.pacer = pacer or SlackPacer()
        # conversations.list is slow and tightly rate limited; names rarely move, so remember them.
        self._channel_ids: dict[str, str] = {}
        # Teams change rarely and usergroups.list is tier-2 rate limited: one read per process.
        self._groups: dict[str, list[str]] | None = None
        self._with_private = True

    async def create_channel(self, name: str) -> Channel:
        """Create a public channel; raises NameTaken when the name exists."""
        try:
            data = await self._call("conversations.create", self._once.conversations_create(name=name))
        except SlackRefused as exc:
            if exc.error == "name_taken":
                raise NameTaken(name) from None
            raise
        channel = Channel(id=data["channel"]["id"], name=data["channel"]["name"])
        self._remember(channel.name, channel.id)
        return channel

    async def find_channel(self, name: str) -> Channel | None:
        """The (unarchived) channel with exactly this name, or None."""
        name = name.removeprefix("#")
        cursor: str | None = None
        while True:
            try:
                data = await self._list_page(cursor)
            except SlackRefused as exc:
                if exc.error != "missing_scope" or not self._with_private:
                    raise
                # Without groups:read Slack refuses the whole listing; public channels are still findable.
                self._with_private = False
                continue
            for found in data.get("channels", []):
                self._remember(found["name"], found["id"])
                if found["name"] == name:
                    return Channel(id=found["id"], name=found["name"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    async def _list_page(self, cursor: str | None) -> dict[str, Any]:
        types = "public_channel,private_channel" if self._with_private else "public_channel"
        return await self._call(
            "conversations.list",
            self._client.conversations_list(types=types, exclude_archived=True, limit=1000, cursor=cursor),
        )

    async def set_topic(self, channel_id: str, topic: str) -> None:
        """Set the channel topic, cut to Slack's 250 characters."""
        await self._call(
            "conversations.setTopic",
            self._client.conversations_setTopic(channel=channel_id, topic=cut(plain(topic), TOPIC_MAX)),
        )

    async def set_purpose(self, channel_id: str, purpose: str) -> None:
        """Set the channel purpose, cut to Slack's 250 characters."""
        await self._call(
            "conversations.setPurpose",
            self._client.conversations_setPurpose(channel=channel_id, purpose=cut(plain(purpose), TOPIC_MAX)),
        )

    async def group_members(self, handle: str) -> list[str] | None:
        """Members of the user group `handle` (usergroups.list, cached for the process); None if there is none."""
        handle = handle.strip().lstrip("@")
        if self._groups is None:
            data = await self._call("usergroups.list", self._client.usergroups_list(include_users=True))
            self._groups = {g.get("handle", ""): list(g.get("users") or []) for g in data.get("usergroups", [])}
        return self._groups.get(handle)

    async def resolve_user(self, user: str) -> str | None:
        """A user id (`U…`/`W…` or a `<@U…>` mention as is, an email looked up); None if unknown."""
        user = user.strip()
        mention = _MENTION.match(user)
        if mention:
            return mention.group(1)
        if _USER_ID.match(user):
            return user
        if "@" not in user.lstrip("@"):
            return None
        try:
            data = await self._call("users.lookupByEmail", self._client.users_lookupByEmail(email=user))
        except SlackRefused as exc:
            if exc.error == "users_not_found":
                return None
            raise
        return str(data["user"]["id"])

    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """Invite users with `force` (Slack invites the valid ones and lists the rest); returns who was not
        invited and Slack's reason (`already_in_channel`, `user_not_found`…). The bot itself is skipped."""
        users = list(dict.fromkeys(user_ids))
        if not users:
            return {}
        try:
            data = await self._call("conversations.invite",
                                    self._client.conversations_invite(channel=channel_id, users=users, force=True))
        except SlackRefused as exc:
            if exc.error not in _PER_USER_ERRORS:
                raise
            if len(users) == 1:
                return {} if exc.error == "cant_invite_self" else {users[0]: exc.error}
            # Without `force` support Slack refuses the whole batch for one member: invite the rest one by one.
            refused: dict[str, str] = {}
            for user in users:
                refused.update(await self.invite(channel_id, [user]))
            return refused
        return {str(e.get("user")): str(e.get("error")) for e in data.get("errors") or []
                if e.get("error") != "cant_invite_self"}

    async def add_bookmark(self, channel_id: str, title: str, link: str) -> None:
        """Add a link bookmark to the channel."""
        await self._call(
            "bookmarks.add",
            self._once.bookmarks_add(channel_id=channel_id, title=title, type="link", link=link),
        )

    async def find_bookmark(self, channel_id: str, title: str, link: str) -> bool:
        """True when the channel already has a link bookmark with this title and link (bookmarks.list)."""
        data = await self._call("bookmarks.list", self._client.bookmarks_list(channel_id=channel_id))
        return any(b.get("title") == title and b.get("link") == link for b in data.get("bookmarks", []))

    async def post(self, channel: str, message: Message, *, key: str) -> str:
        """Post `message` in `channel` (id, name or `#name`) tagged with `key`; returns the message ts."""
        target = channel if _CHANNEL_ID.match(channel) else "#" + channel.removeprefix("#")
        message = fit_message(message)
        paced = target if _CHANNEL_ID.match(target) else self._channel_ids.get(target[1:], target[1:])
        data = await self._call(
            "chat.postMessage",
            self._once.chat_postMessage(
                channel=target,
                text=message.text,
                blocks=[dict(b) for b in message.blocks] or None,
                metadata={"event_type": POST_EVENT_TYPE, "event_payload": {"key": key}},
                unfurl_links=False,
            ),
            channel=paced,
        )
        if target.startswith("#") and data.get("channel"):
            self._remember(target[1:], str(data["channel"]))
        return str(data["ts"])

    async def update(self, channel: str, ts: str, message: Message) -> None:
        """Replace the text and blocks of the message `ts` posted earlier in `channel` (id, or a name we know)."""
        message = fit_message(message)
        channel_id = await self._channel_id(channel) or channel  # chat.update takes ids only
        await self._call(
            "chat.update",
            self._client.chat_update(channel=channel_id, ts=ts, text=message.text,
                                     blocks=[dict(b) for b in message.blocks]),
        )

    async def upload_file(self, channel_id: str, *, filename: str, content: bytes, title: str) -> str:
        """Share a file in the channel with Slack's two-step upload (files.getUploadURLExternal, the bytes to the
        returned URL, files.completeUploadExternal with `channel_id`); returns the file id."""
        data = await self._call("files.completeUploadExternal", self._client.files_upload_v2(
            channel=channel_id, filename=filename, content=content, title=title, request_file_info=False))
        files = data.get("files") or [{}]
        return str(files[0].get("id") or "")

    async def find_post(self, channel: str, *, key: str) -> str | None:
        """The ts of a recent message posted with `key` (within `history_depth` messages), or None."""
        channel_id = await self._channel_id(channel)
        if channel_id is None:
            return None
        seen = 0
        cursor: str | None = None
        while seen < self._history_depth:
            data = await self._call(
                "conversations.history",
                self._client.conversations_history(
                    channel=channel_id, include_all_metadata=True, limit=min(200, self._history_depth),
                    cursor=cursor,
                ),
            )
            messages = data.get("messages", [])
            for found in messages:
                metadata = found.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == POST_EVENT_TYPE and payload.get("key") == key:
                    return str(found["ts"])
            seen += len(messages)
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not messages:
                return None
        return None

    async def _channel_id(self, channel: str) -> str | None:
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.removeprefix("#")
        if name in self._channel_ids:
            return self._channel_ids[name]
        found = await self.find_channel(name)
        return found.id if found else None

    def _remember(self, name: str, channel_id: str) -> None:
        self._channel_ids[name] = channel_id
        self.pacer.alias(name, channel_id)

    async def _call(self, method: str, call: Awaitable[AsyncSlackResponse], *,
                    channel: str | None = None) -> dict[str, Any]:
        """Await one Web API call once the pacer lets it go (`channel`: a post's channel); map every failure
        onto `bot.errors`."""
        try:
            await self.pacer.before(method, channel)
            response = await call
        except SlackApiError as exc:
            failure = _failure(method, exc)
            if _rate_limited(exc):
                self.pacer.refused(method, failure.retry_after if isinstance(failure, TransientDeliveryError)
                                   else None, channel)
            raise failure from None
        except SlackClientError as exc:
            raise PermanentDeliveryError(f"slack {method}: {exc}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientDeliveryError(f"slack {method}: {type(exc).__name__}") from None
        data = response.data
        return data if isinstance(data, dict) else {}


def _rate_limited(exc: SlackApiError) -> bool:
    data = getattr(exc.response, "data", None)
    error = str(data.get("error") or "") if isinstance(data, dict) else ""
    return int(getattr(exc.response, "status_code", 0) or 0) == 429 or error == "ratelimited"


def _failure(method: str, exc: SlackApiError) -> TransientDeliveryError | PermanentDeliveryError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error") or "") if isinstance(data, dict) else ""
    if _rate_limited(exc):
        return TransientDeliveryError(f"slack {method}: rate limited",
                                      retry_after=_retry_after(getattr(response, "headers", {}) or {}))
    if status >= 500 or error in _TRANSIENT_ERRORS:
        return TransientDeliveryError(f"slack {method}: {error or f'HTTP {status}'}")
    return SlackRefused(method, error or f"HTTP {status}")


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            # slack_sdk hands retry handlers header values as lists, aiohttp as strings.
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None
