"""The playbook: which alarms we know, their runbooks, and how the response is shaped (from settings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.alarms.catalog import AlarmCatalog, CatalogEntry
from bot.alarms.context import alarm_context
from bot.alarms.models import AlarmEvent
from bot.alarms.severity import Severity
from bot.errors import ConfigError
from bot.runbooks import RunbookLibrary


@dataclass(frozen=True, slots=True)
class ResponsePolicy:
    """Response knobs read from settings once, so the domain never reads the environment."""

    reopen_window: timedelta = timedelta(minutes=30)
    correlation_window: timedelta = timedelta(minutes=15)
    storm_threshold: int = 10
    storm_window: timedelta = timedelta(minutes=5)
    ack_timeout: timedelta = timedelta(minutes=5)
    investigate_timeout: timedelta = timedelta(hours=1)
    ack_reminders: int = 3
    unknown_alarm_severity: Severity = Severity.HIGH
    alerts_channel: str = "#alerts"
    incidents_channel: str = "#incidents"  # where post-incident review summaries go, for the whole team
    responders: Mapping[Severity, Sequence[str]] = field(default_factory=dict)
    dashboard_prefix: str = "orders-pipeline"
    log_groups: Sequence[str] = ("/orders-pipeline/flink",)
    default_region: str = "us-east-1"
    runbook_base_url: str = ""
    public_url: str = "http://localhost:8080"


@dataclass(frozen=True, slots=True)
class Playbook:
    """Everything the incident service consults besides the database."""

    catalog: AlarmCatalog
    runbooks: RunbookLibrary
    policy: ResponsePolicy

    def entry_for(self, alarm_name: str) -> CatalogEntry | None:
        """The catalog entry of an alarm, None for an alarm we do not know."""
        return self.catalog.lookup(alarm_name)

    def severity_for(self, alarm_name: str) -> Severity:
        """The alarm's severity from the catalog; unknown alarms get the configured default."""
        entry = self.entry_for(alarm_name)
        return entry.severity if entry else self.policy.unknown_alarm_severity

    def context(self, event: AlarmEvent, *, incident_id: int, channel: str | None) -> dict[str, Any]:
        """The context runbooks render with, for this alarm and incident."""
        entry = self.entry_for(event.alarm_name)
        return alarm_context(
            event, severity=self.severity_for(event.alarm_name), incident_id=incident_id, channel=channel,
            dashboard=entry.dashboard if entry else "Health", dashboard_prefix=self.policy.dashboard_prefix,
            runbook_url=self.runbook_url(entry, incident_id), log_groups=self.policy.log_groups,
            default_region=self.policy.default_region,
        )

    def runbook(self, event: AlarmEvent, context: Mapping[str, Any]) -> str:
        """The alarm's runbook rendered with `context`; the generic one if its own template is broken."""
        entry = self.entry_for(event.alarm_name)
        try:
            return self.runbooks.render(entry, context)
        except ConfigError:
            if entry is None:
                raise
            return self.runbooks.render(None, context)

    def response_time(self, severity: Severity) -> timedelta | None:
        """How long an incident of this severity may stay unacknowledged before a reminder (None: never)."""
        times = {Severity.CRITICAL: self.policy.ack_timeout, Severity.HIGH: self.policy.investigate_timeout}
        return times.get(severity)

    def runbook_url(self, entry: CatalogEntry | None, incident_id: int) -> str:
        """Where a person reads the runbook: the configured base URL, else the bot's own API."""
        name = entry.runbook.name if entry else "generic.md"
        if self.policy.runbook_base_url:
            return f"{self.policy.runbook_base_url.rstrip('/')}/{name}"
        return f"{self.policy.public_url.rstrip('/')}/api/incidents/{incident_id}/runbook"
