"""Customer enrichment: a cached lookup against the customer API, with hits, misses and timeouts counted.

Locally the customer API is simulated (`SimulatedCustomerApi`): it answers from the customer id alone and
*reports* a latency instead of sleeping, so a replay runs at full speed while latency metrics and timeouts behave
as if the API were slow. `SlowWindow`s (written by the generator's `slow_enrichment` fault) raise that latency
for a span of event time. In production, implement `CustomerApi.lookup` with an HTTP client and keep the cache.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

TIERS = ("bronze", "silver", "gold", "platinum")
REGIONS = ("us-east", "us-west", "eu-central", "ap-south")


@dataclass(frozen=True, slots=True)
class SlowWindow:
    """Event-time span [start_ms, end_ms) during which the API answers in `latency_ms` (min, max)."""

    start_ms: int
    end_ms: int
    latency_ms: tuple[float, float] = (3000.0, 9000.0)


@dataclass(frozen=True, slots=True)
class EnrichmentConfig:
    """How enrichment behaves: cache size and TTL (event time), API timeout, simulated slow spans."""

    cache_size: int = 2000
    cache_ttl_ms: int = 120_000
    timeout_ms: float = 8000.0
    base_latency_ms: tuple[float, float] = (15.0, 120.0)
    slow_windows: tuple[SlowWindow, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One enrichment outcome: the customer (None on timeout), whether it came from cache, API latency."""

    customer: dict[str, Any] | None
    cache_hit: bool
    api_latency_ms: float
    timed_out: bool


class CustomerApi(Protocol):
    """Where cache misses go; returns (customer, latency in ms)."""

    def lookup(self, customer_id: str, event_ms: int) -> tuple[dict[str, Any], float]: ...


class SimulatedCustomerApi:
    """Deterministic stand-in for the customer API: same id and time → same answer and latency."""

    def __init__(self, config: EnrichmentConfig) -> None:
        self._config = config

    def lookup(self, customer_id: str, event_ms: int) -> tuple[dict[str, Any], float]:
        """The customer's profile and how long the API took (reported, not slept)."""
        digest = hashlib.blake2b(f"{customer_id}|{event_ms}".encode(), digest_size=8).digest()
        spread = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF
        low, high = self._config.base_latency_ms
        for window in self._config.slow_windows:
            if window.start_ms <= event_ms < window.end_ms:
                low, high = window.latency_ms
                break
        seed = int.from_bytes(hashlib.blake2b(customer_id.encode(), digest_size=4).digest(), "big")
        customer = {
            "customer_id": customer_id,
            "tier": TIERS[seed % len(TIERS)],
            "region": REGIONS[(seed // 7) % len(REGIONS)],
            "lifetime_orders": seed % 500,
        }
        return customer, round(low + (high - low) * spread, 3)


class CustomerCache:
    """An LRU cache with a TTL in event time, counting hits, misses and timeouts."""

    def __init__(self, api: CustomerApi, config: EnrichmentConfig) -> None:
        self._api = api
        self._config = config
        self._entries: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.timeouts = 0

    def get(self, customer_id: str, event_ms: int) -> Lookup:
        """Look `customer_id` up, from cache when fresh; a timeout is reported, never cached."""
        entry = self._entries.get(customer_id)
        if entry is not None and 0 <= event_ms - entry[0] < self._config.cache_ttl_ms:
            self._entries.move_to_end(customer_id)
            self.hits += 1
            return Lookup(entry[1], True, 0.0, False)
        self.misses += 1
        customer, latency = self._api.lookup(customer_id, event_ms)
        if latency > self._config.timeout_ms:
            self.timeouts += 1
            return Lookup(None, False, self._config.timeout_ms, True)
        self._entries[customer_id] = (event_ms, customer)
        self._entries.move_to_end(customer_id)
        if len(self._entries) > self._config.cache_size:
            self._entries.popitem(last=False)
        return Lookup(customer, False, latency, False)
