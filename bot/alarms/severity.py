"""Severity classes from the observability guide, with what each one means for the response."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "CRITICAL"  # data loss or a major feature broken: page on-call, open a channel (ack in 5 min)
    HIGH = "HIGH"  # degraded, approaching SLA breach: post to alerts, investigate within 1 hour
    MEDIUM = "MEDIUM"  # minor, might affect customers: record and post quietly (4 hours)
    LOW = "LOW"  # informational: record and post quietly

    @property
    def pages(self) -> bool:
        """Whether this severity pages on-call through PagerDuty."""
        return self is Severity.CRITICAL

    @property
    def opens_channel(self) -> bool:
        """Whether this severity gets its own incident channel."""
        return self is Severity.CRITICAL
