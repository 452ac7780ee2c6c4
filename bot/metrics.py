"""Prometheus metrics of one app instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """Deliveries by type and outcome, PagerDuty events, incidents opened/resolved, handler latency, outbox steps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "incident_bot_sns_deliveries", "SNS deliveries by message type and outcome", ["type", "outcome"],
            registry=self.registry,
        )
        self.incidents_opened = Counter(
            "incident_bot_incidents_opened", "Incidents opened (or reopened) by severity", ["severity"],
            registry=self.registry,
        )
        self.incidents_resolved = Counter(
            "incident_bot_incidents_resolved", "Incidents resolved by severity", ["severity"], registry=self.registry
        )
        self.handler_seconds = Histogram(
            "incident_bot_sns_handler_seconds", "Time to handle one SNS delivery",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0), registry=self.registry,
        )
        self.pagerduty_events = Counter(
            "incident_bot_pagerduty_events", "PagerDuty webhook events by event type and outcome",
            ["event_type", "outcome"], registry=self.registry,
        )
        self.outbox_steps = Counter(
            "incident_bot_outbox_steps", "Outbox steps finished by kind", ["kind"], registry=self.registry
        )
