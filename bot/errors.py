"""The exception tree every layer of incident-bot raises.

    IncidentBotError
    ├── ConfigError              a setting is missing or malformed (start-up)
    ├── BadInput                 a request or argument we refuse; `reason` is one line for the caller
    │   ├── VerificationFailed   an SNS signature, certificate or Slack signature did not check out
    │   └── UnknownTopic         an SNS topic outside SNS_TOPIC_ARNS
    ├── QueryError               a Logs Insights query cannot be parsed, translated or run
    │   └── UnsupportedQuery     valid Logs Insights the local engine does not implement (names the construct)
    ├── MetricsUnavailable       the metrics store (a run's metrics/, CloudWatch) cannot answer
    └── DeliveryError            an outbound side effect (Slack, PagerDuty) failed
        ├── TransientDeliveryError  worth retrying; `retry_after` in seconds when the vendor said so
        └── PermanentDeliveryError  retrying cannot help; recorded on the incident timeline

Adapters map vendor exceptions onto these, so the domain never sees slack_sdk, pagerduty or botocore errors.
"""

from __future__ import annotations


class IncidentBotError(Exception):
    """Base of every error incident-bot raises on purpose."""


class ConfigError(IncidentBotError):
    """A setting is missing or malformed."""


class BadInput(IncidentBotError):
    """Input we refuse; `reason` is a one-line explanation safe to show the caller."""

    status_code = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerificationFailed(BadInput):
    """A signature, certificate or signing secret did not verify."""

    status_code = 403


class UnknownTopic(BadInput):
    """An SNS message from a topic outside the allowlist."""

    status_code = 403


class QueryError(IncidentBotError):
    """A Logs Insights query that cannot be parsed, translated or run."""


class UnsupportedQuery(QueryError):
    """Valid Logs Insights that the local engine does not implement; the message names the construct."""


class MetricsUnavailable(IncidentBotError):
    """The metrics store cannot answer (no such directory, CloudWatch refused or unreachable); one line."""


class DeliveryError(IncidentBotError):
    """An outbound side effect failed."""


class TransientDeliveryError(DeliveryError):
    """Worth retrying later; `retry_after` is the vendor's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (bad token, channel archived, invalid payload)."""
