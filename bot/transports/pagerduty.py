"""`POST /pagerduty/webhook`: PagerDuty's V3 webhooks, authenticated, then handed to the incident domain.

Order of checks: configured (503 without `PAGERDUTY_WEBHOOK_SECRETS`), size (413), signature (401: each
`v1=<hex>` in `X-PagerDuty-Signature` is compared in constant time with the HMAC-SHA256 of the raw body under
each configured secret, any match accepted, so a secret can be rotated without downtime), then the body is
parsed (400). Only then is it applied (`bot.incidents.pagerduty_events`). PagerDuty retries 5xx and 429 and
drops other 4xx, so a store outage answers 503 and everything refused on purpose a 4xx.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.incidents.pagerduty_events import EVENT_TYPES, Webhook
from bot.transports.http import MAX_BODY, error, read_body

log = structlog.get_logger("incident_bot.pagerduty")

SIGNATURE_HEADER = "X-PagerDuty-Signature"
_MAX_SIGNATURES = 16

router = APIRouter()


def signature_matches(body: bytes, header: str, secrets: Sequence[str]) -> bool:
    """True when one of the `v1=` signatures in `header` is the HMAC-SHA256 of `body` under one of `secrets`."""
    offered = [part.strip().removeprefix("v1=").lower() for part in header.split(",")[:_MAX_SIGNATURES]
               if part.strip().startswith("v1=")]
    expected = [hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() for secret in secrets if secret]
    # Every pair is compared (no early exit) so the time taken says nothing about which one matched.
    found = False
    for signature in offered:
        for digest in expected:
            found |= hmac.compare_digest(signature.encode(), digest.encode())
    return found


@router.post("/pagerduty/webhook")
async def pagerduty_webhook(request: Request) -> Response:
    """PagerDuty V3 webhook endpoint."""
    started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    state = request.app.state
    secrets: list[str] = state.settings.pagerduty_webhook_secrets
    if not secrets:
        return error(503, "PagerDuty webhooks are not configured: set PAGERDUTY_WEBHOOK_SECRETS")
    body = await read_body(request)
    if body is None:
        return error(413, f"body larger than {MAX_BODY // 1024} KiB")
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        log.warning("pagerduty_webhook_rejected", reason="no signature")
        return error(401, f"missing {SIGNATURE_HEADER}")
    if not signature_matches(body, header, secrets):
        log.warning("pagerduty_webhook_rejected", reason="bad signature")
        return error(401, f"{SIGNATURE_HEADER} does not match this body")
    try:
        event = Webhook.model_validate_json(body).event
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        reason = f"{where}: {errors[0]['msg']}" if errors and where else "body is not JSON"
        return error(400, f"not a PagerDuty V3 webhook: {reason}"[:300])
    structlog.contextvars.bind_contextvars(pagerduty_event_id=event.id, pagerduty_event_type=event.event_type)
    try:
        receipt = await state.commands.receive_pagerduty_event(event=event)
    except SQLAlchemyError as exc:
        log.error("pagerduty_store_unavailable", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        return error(503, "the incident store is unavailable; PagerDuty will redeliver")
    log.info("pagerduty_event_received", outcome=receipt.outcome, incident_id=receipt.incident_id,
             seconds=round(time.perf_counter() - started, 4))
    known_type = event.event_type if event.event_type in EVENT_TYPES else "other"  # bounded label values
    state.metrics.pagerduty_events.labels(known_type, receipt.outcome).inc()
    return JSONResponse({"outcome": receipt.outcome, "incident_id": receipt.incident_id}, status_code=202)
