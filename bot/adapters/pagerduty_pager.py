"""PagerDuty as the incident flow's `Pager`: the official `pagerduty` client on the Events API v2.

The client blocks (HTTP and its retry sleeps), so every call runs in a worker thread via `asyncio.to_thread`.
Its own retries are bounded here: by default it retries 429 forever and 5xx up to 6 times with sleeps
growing from 3 s; we allow `max_retries` attempts per status, starting from `backoff` seconds. Whatever still
fails maps onto `bot.errors`: throttling, 5xx and network trouble → `TransientDeliveryError`; a refused event
(400) or a bad routing key → `PermanentDeliveryError`.

To extend (e.g. change events): add a method that builds the body and goes through `_send_event`'s mapping.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import Any

import pagerduty

from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from bot.incidents.ports import PageEvent

ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
ELLIPSIS = "…"
# Domain severities (bot.alarms.severity) onto the Events API's four.
_SEVERITIES = {
    "critical": "critical",
    "high": "error",
    "error": "error",
    "medium": "warning",
    "warning": "warning",
    "low": "info",
    "info": "info",
}
_RETRIED_STATUSES = (429, 500, 502, 503, 504)


def fit_dedup_key(key: str) -> str:
    """`key` if within PagerDuty's 255 characters, else a stable shortened form (same input, same output)."""
    if len(key) <= DEDUP_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: DEDUP_KEY_MAX - len(digest) - 1]}-{digest}"


class PagerDutyPager:
    """`Pager` that sends Events API v2 events for one routing key."""

    def __init__(
        self,
        routing_key: str,
        *,
        base_url: str = "https://events.pagerduty.com",
        max_retries: int = 2,
        backoff: float = 0.5,
        timeout: int = 10,
        default_source: str = "incident-bot",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        extra: dict[str, Any] = {"verify": ssl_context} if ssl_context is not None else {}
        try:
            client = pagerduty.EventsApiV2Client(routing_key, base_url=base_url, **extra)
        except pagerduty.UrlError as exc:
            raise ConfigError(f"PAGERDUTY_EVENTS_URL: {exc}") from None
        # The client multiplies before its first sleep, so the first wait is backoff × 2.
        client.sleep_timer = backoff / 2
        client.timeout = timeout
        client.max_network_attempts = max_retries
        client.max_http_attempts = max_retries
        for status in _RETRIED_STATUSES:
            client.retry[status] = max_retries  # a positive count also stops 429 from retrying forever
        self._client = client
        self._default_source = default_source

    @property
    def configured(self) -> bool:
        """Always True: events really reach PagerDuty."""
        return True

    async def send(self, event: PageEvent) -> str:
        """Send one trigger/acknowledge/resolve event; returns the dedup key PagerDuty acknowledged."""
        action = event.action.lower()
        if action not in ACTIONS:
            raise PermanentDeliveryError(f"pagerduty: unknown event action {event.action!r}")
        if not event.dedup_key:
            raise PermanentDeliveryError("pagerduty: an event needs a dedup_key")
        body: dict[str, Any] = {}
        if action == "trigger":
            body["payload"] = self._payload(event)
            links = [{"href": link["href"], "text": link.get("text", link["href"])}
                     for link in event.links if link.get("href")]
            if links:
                body["links"] = links
            images = [{k: v for k, v in image.items() if k in {"src", "href", "alt"}}
                      for image in event.images if str(image.get("src", "")).startswith("https://")]
            if images:  # PagerDuty shows only https images
                body["images"] = images
        return await asyncio.to_thread(self._send_event, action, fit_dedup_key(event.dedup_key), body)

    async def aclose(self) -> None:
        """Close the client's connections."""
        await asyncio.to_thread(self._client.close)

    def _payload(self, event: PageEvent) -> dict[str, Any]:
        severity = _SEVERITIES.get(event.severity.lower())
        if severity is None:
            raise PermanentDeliveryError(f"pagerduty: unknown severity {event.severity!r}")
        summary = event.summary or event.dedup_key
        if len(summary) > SUMMARY_MAX:
            summary = summary[: SUMMARY_MAX - len(ELLIPSIS)] + ELLIPSIS
        payload: dict[str, Any] = {
            "summary": summary,
            "source": event.source or self._default_source,
            "severity": severity,
        }
        if event.timestamp:
            payload["timestamp"] = event.timestamp
        if event.component:
            payload["component"] = event.component
        if event.custom_details:
            payload["custom_details"] = dict(event.custom_details)
        return payload

    def _send_event(self, action: str, dedup_key: str, body: dict[str, Any]) -> str:
        """Blocking: one event through the client, its failures mapped onto `bot.errors`."""
        try:
            return str(self._client.send_event(action, dedup_key=dedup_key, **body))
        except pagerduty.HttpError as exc:
            raise _http_failure(exc) from None
        except pagerduty.Error as exc:
            # No response at all: connection refused, TLS failure, timeouts after the client's own attempts.
            cause = exc.__cause__
            if isinstance(cause, Exception) and _is_tls_failure(cause):
                raise PermanentDeliveryError(f"pagerduty: TLS failure: {cause}") from None
            raise TransientDeliveryError(f"pagerduty: {type(cause or exc).__name__}") from None


def _http_failure(exc: pagerduty.HttpError) -> TransientDeliveryError | PermanentDeliveryError:
    response = exc.response
    assert response is not None  # HttpError always carries its response
    status = response.status_code
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return TransientDeliveryError("pagerduty: throttled (429)", retry_after=retry_after)
    if status >= 500 or 200 <= status < 300:
        # 2xx here means a malformed success body: the event may have landed, and resending is idempotent.
        return TransientDeliveryError(f"pagerduty: HTTP {status}", retry_after=retry_after)
    errors = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            errors = "; ".join(str(e) for e in body.get("errors") or []) or str(body.get("message") or "")
    except ValueError:
        errors = response.text[:200]
    return PermanentDeliveryError(f"pagerduty: HTTP {status}: {errors or 'refused'}")


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _is_tls_failure(exc: BaseException) -> bool:
    """A certificate problem will not fix itself by retrying."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
