"""PagerDuty V3 webhook bodies in PagerDuty's own shape, signed as PagerDuty signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.support.app import Bot

SECRET = "pd-webhook-secret-0123456789abcdef"
ALICE = {"html_url": "https://acme.pagerduty.com/users/PALICE1", "id": "PALICE1",
         "self": "https://api.pagerduty.com/users/PALICE1", "summary": "Alice Oncall", "type": "user_reference"}
BOB = {"html_url": "https://acme.pagerduty.com/users/PBOB001", "id": "PBOB001",
       "self": "https://api.pagerduty.com/users/PBOB001", "summary": "Bob Builder", "type": "user_reference"}
PD_INCIDENT = "PGR0VU2"
PD_URL = f"https://acme.pagerduty.com/incidents/{PD_INCIDENT}"


def incident_data(incident_id: int, *, status: str = "triggered", assignees: list[dict[str, Any]] | None = None,
                  ) -> dict[str, Any]:
    """`event.data` for an incident event about the page of our incident `incident_id`."""
    return {
        "id": PD_INCIDENT, "type": "incident", "self": f"https://api.pagerduty.com/incidents/{PD_INCIDENT}",
        "html_url": PD_URL, "number": 2, "status": status, "incident_key": f"incident-bot/{incident_id}",
        "created_at": "2026-12-01T10:00:00Z", "title": "[CRITICAL] DLQ spike",
        "service": {"id": "PF9KMXH", "type": "service_reference", "summary": "orders-pipeline"},
        "assignees": assignees if assignees is not None else [ALICE],
        "escalation_policy": {"id": "PUS0KTE", "type": "escalation_policy_reference", "summary": "Default"},
        "teams": [], "priority": None, "urgency": "high", "conference_bridge": None, "resolve_reason": None,
    }


def webhook(event_type: str, data: dict[str, Any], *, at: datetime | None = None,
            agent: dict[str, Any] | None = ALICE, event_id: str | None = None) -> dict[str, Any]:
    """A V3 webhook body."""
    occurred = (at or datetime.now(UTC)).astimezone(UTC)
    return {"event": {
        "id": event_id or str(uuid.uuid4()), "event_type": event_type, "resource_type": "incident",
        "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%S.") + f"{occurred.microsecond // 1000:03d}Z",
        "agent": agent, "client": None, "data": data,
    }}


def sign(body: bytes, *secrets: str) -> str:
    """`X-PagerDuty-Signature` for `body` under each secret, comma-separated."""
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


async def deliver(bot: Bot, body: dict[str, Any] | bytes, *, secrets: tuple[str, ...] = (SECRET,),
                  signature: str | None = None) -> httpx.Response:
    """POST one webhook to /pagerduty/webhook, signed with `secrets` unless `signature` is given."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", "user-agent": "PagerDuty-Webhook/V3.0"}
    header = signature if signature is not None else sign(raw, *secrets)
    if header:
        headers["x-pagerduty-signature"] = header
    return await bot.client.post("/pagerduty/webhook", content=raw, headers=headers)
