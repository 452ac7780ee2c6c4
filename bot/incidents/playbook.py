"""The playbook: which alarms we know, their runbooks, and how the response is shaped (from settings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.alarms.catalog import AlarmCatalog, CatalogEntry
from bot.alarms.severity import Severity
from bot.runbooks import RunbookLibrary


@dataclass(frozen=True, slots=True)
class ResponsePolicy:
    """Response knobs read from settings once, so the domain never reads the environment."""

    reopen_window: timedelta = timedelta(minutes=30)
    ack_timeout: timedelta = timedelta(minutes=5)
    ack_reminders: int = 3
    unknown_alarm_severity: Severity = Severity.HIGH
    alerts_channel: str = "#alerts"
    responders: Mapping[Severity, Sequence[str]] = field(default_factory=dict)
    dashboard_prefix: str = "orders-pipeline"
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

    def runbook_url(self, entry: CatalogEntry | None, incident_id: int) -> str:
        """Where a person reads the runbook: the configured base URL, else the bot's own API."""
        name = entry.runbook.name if entry else "generic.md"
        if self.policy.runbook_base_url:
            return f"{self.policy.runbook_base_url.rstrip('/')}/{name}"
        return f"{self.policy.public_url.rstrip('/')}/api/incidents/{incident_id}/runbook"
