"""PagerDuty's REST API v2 through the official `pagerduty` client: who a PagerDuty user is (their email, so
the relay can find them in Slack), and the V3 webhook subscription `incident-bot pagerduty setup` manages.

The client blocks, so the async `email` runs it in a worker thread; the subscription calls are for the CLI and
block. Failures map onto `bot.errors`: throttling, 5xx and network trouble → `TransientDeliveryError`; a refusal
(401, 403, 400…) → `PermanentDeliveryError`; a user PagerDuty does not know → None.

To extend: add a method that calls `self._client.r<method>(...)` inside `_calling`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pagerduty

from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError


class PagerDutyRest:
    """The REST API v2 with one API token; `email` implements the relay's `Directory` port."""

    def __init__(self, token: str, *, base_url: str = "https://api.pagerduty.com", timeout: int = 10,
                 max_retries: int = 2, backoff: float = 0.5) -> None:
        try:
            client = pagerduty.RestApiV2Client(token, base_url=base_url)
        except pagerduty.UrlError as exc:
            raise ConfigError(f"PAGERDUTY_API_URL: {exc}") from None
        client.timeout = timeout
        client.sleep_timer = backoff / 2  # the client multiplies before its first sleep
        client.max_network_attempts = max_retries
        client.max_http_attempts = max_retries
        for status in (429, 500, 502, 503, 504):
            client.retry[status] = max_retries  # bounded: 429 would otherwise be retried forever
        self._client = client
        self._emails: dict[str, str | None] = {}

    async def email(self, user_id: str) -> str | None:
        """The email of PagerDuty user `user_id` (cached for the process); None when PagerDuty has no such user."""
        if user_id not in self._emails:
            self._emails[user_id] = await asyncio.to_thread(self._email, user_id)
        return self._emails[user_id]

    def _email(self, user_id: str) -> str | None:
        try:
            with _calling("GET users"):
                user = self._client.rget(f"/users/{user_id}")
        except _NotFound:
            return None
        email = user.get("email") if isinstance(user, dict) else None
        return str(email) if email else None

    def subscriptions(self, *, service_id: str) -> list[dict[str, Any]]:
        """Every webhook subscription filtered on this service (blocking)."""
        params = {"filter_type": "service_reference", "filter_id": service_id}
        with _calling("GET webhook_subscriptions"):
            return [dict(s) for s in self._client.iter_all("/webhook_subscriptions", params=params)]

    def create_subscription(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST a webhook subscription; the answer carries its signing secret, shown only this once (blocking)."""
        with _calling("POST webhook_subscriptions"):
            return _entity(self._client.rpost("/webhook_subscriptions", json=body))

    def update_subscription(self, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT the events, filter and description of an existing subscription (blocking)."""
        with _calling("PUT webhook_subscriptions"):
            return _entity(self._client.rput(f"/webhook_subscriptions/{subscription_id}", json=body))

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


class _NotFound(Exception):
    pass


@contextmanager
def _calling(what: str) -> Iterator[None]:
    try:
        yield
    except pagerduty.HttpError as exc:
        response = exc.response
        status = response.status_code if response is not None else 0
        if status == 404:
            raise _NotFound(what) from None
        if status == 429 or status >= 500:
            raise TransientDeliveryError(f"pagerduty {what}: HTTP {status}") from None
        raise PermanentDeliveryError(f"pagerduty {what}: HTTP {status}: {_reason(response)}") from None
    except pagerduty.Error as exc:
        raise TransientDeliveryError(f"pagerduty {what}: {type(exc.__cause__ or exc).__name__}") from None


def _reason(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return str(response.text)[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        details = "; ".join(str(e) for e in error.get("errors") or [])
        return f"{error.get('message', 'refused')}{': ' + details if details else ''}"[:300]
    return "refused"


def _entity(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


