"""SNS over HTTPS: authenticate a delivery, then hand it to alarm intake.

Order of checks: size (done by the route), envelope shape (400), topic allowlist (403), signature (403). Only
then do we act: confirm a subscription by GETting its SubscribeURL (SNS hosts only), log an unsubscribe, or pass
a notification to the `receive_alarm` application command (`bot.incidents.commands`). We answer 2xx only once
the delivery is safely stored; a store outage answers 503 so SNS retries instead of losing the alarm.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import BadInput, UnknownTopic, VerificationFailed
from bot.incidents.commands import IncidentCommands
from bot.incidents.intake import ReceiptOutcome
from bot.metrics import Metrics
from bot.sns.envelope import MessageType, parse_envelope
from bot.sns.verify import SignatureVerifier, is_sns_url

log = structlog.get_logger("incident_bot.sns")


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to one delivery."""

    status: int
    body: dict[str, Any]


@dataclass(slots=True)
class SnsIntake:
    """Everything the SNS endpoint needs, built once by the app."""

    commands: IncidentCommands
    verifier: SignatureVerifier
    topics: Collection[str]
    confirm: Callable[[str], Awaitable[None]]
    metrics: Metrics

    async def handle(self, body: bytes) -> Answer:
        """Authenticate and act on one SNS delivery body."""
        started = time.perf_counter()
        kind, outcome = "unknown", "rejected"
        structlog.contextvars.clear_contextvars()
        try:
            envelope = parse_envelope(body)
            kind = envelope.type.value
            structlog.contextvars.bind_contextvars(sns_message_id=envelope.message_id, sns_type=kind)
            if self.topics and envelope.topic_arn not in self.topics:
                raise UnknownTopic(f"topic {envelope.topic_arn[:256]} is not in SNS_TOPIC_ARNS")
            await self.verifier.verify(envelope)
            if envelope.type is MessageType.NOTIFICATION:
                receipt = await self.commands.receive_alarm(
                    message_id=envelope.message_id, topic_arn=envelope.topic_arn, message=envelope.message,
                )
                outcome = receipt.outcome
                structlog.contextvars.bind_contextvars(alarm_name=receipt.alarm_name, incident_id=receipt.incident_id)
                severity = self.commands.playbook.severity_for(receipt.alarm_name or "")
                if receipt.outcome in {ReceiptOutcome.OPENED, ReceiptOutcome.REOPENED}:
                    self.metrics.incidents_opened.labels(severity).inc()
                elif receipt.outcome is ReceiptOutcome.RESOLVED:
                    self.metrics.incidents_resolved.labels(severity).inc()
                not_alarm = receipt.outcome is ReceiptOutcome.NOT_AN_ALARM
                log.info("notification_not_an_alarm" if not_alarm else "alarm_received",
                         outcome=outcome, topic_arn=envelope.topic_arn)
                return Answer(200, {"outcome": outcome, "incident_id": receipt.incident_id})
            if envelope.type is MessageType.SUBSCRIPTION_CONFIRMATION:
                url = envelope.subscribe_url or ""
                if not is_sns_url(url):
                    raise VerificationFailed("SubscribeURL is not an https URL on an SNS host")
                await self.confirm(url)
                outcome = "confirmed"
                log.info("subscription_confirmed", topic_arn=envelope.topic_arn)
                return Answer(200, {"outcome": outcome})
            outcome = "unsubscribed"
            log.warning("unsubscribe_confirmation", topic_arn=envelope.topic_arn)
            return Answer(200, {"outcome": outcome})
        except BadInput as exc:
            outcome = "forbidden" if exc.status_code == 403 else "bad_request"
            log.warning("sns_rejected", reason=exc.reason, status=exc.status_code)
            return Answer(exc.status_code, {"error": exc.reason})
        except SQLAlchemyError as exc:
            outcome = "store_unavailable"
            log.error("sns_store_unavailable", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            return Answer(503, {"error": "the incident store is unavailable; SNS will redeliver"})
        except ConfirmationFailed as exc:
            outcome = "confirm_failed"
            log.error("subscription_confirm_failed", error=str(exc))
            return Answer(502, {"error": str(exc)})
        finally:
            self.metrics.deliveries.labels(kind, outcome).inc()
            self.metrics.handler_seconds.observe(time.perf_counter() - started)


class ConfirmationFailed(Exception):
    """GETting the SubscribeURL failed; SNS re-sends the confirmation, so we answer 502."""
