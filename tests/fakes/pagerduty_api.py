"""A fake PagerDuty (Events API v2 and a slice of the REST API v2) over TLS, with a certificate from a
test-generated CA (trustme).

`FakePagerDuty.events_url` is what to use as `PAGERDUTY_EVENTS_URL` (scheme, host and port; the client appends
`/v2/enqueue`); `ca_file` is the PEM bundle that must be trusted (e.g. `SSL_CERT_FILE`). Nothing turns
verification off. It validates events as PagerDuty does, keeps one incident per open dedup key and records
every event.

The same server answers the REST API at `api_url` (`PAGERDUTY_API_URL`) for requests carrying
`Authorization: Token token=<API_TOKEN>` (401 otherwise): `GET /users/{id}` (users added with `add_user`) and
`GET`/`POST`/`PUT /webhook_subscriptions` (classic offset pagination, `filter_type`/`filter_id`; the secret is
returned only by the POST that creates a subscription, as PagerDuty does).

To extend: new validation goes in `_problems`; new state transitions in `_apply`; REST routes in `_rest`.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
EVENTS_PER_MINUTE = 120
API_TOKEN = "u+FAKEPAGERDUTYTOKEN"
SUBSCRIPTION_EVENT_TYPES = frozenset({
    "incident.acknowledged", "incident.annotated", "incident.delegated", "incident.escalated",
    "incident.priority_updated", "incident.reassigned", "incident.reopened", "incident.resolved",
    "incident.responder.added", "incident.responder.replied", "incident.status_update_published",
    "incident.triggered", "incident.unacknowledged",
})


@dataclass
class FakeIncident:
    """The incident (alert) PagerDuty keeps for one dedup key."""

    routing_key: str
    dedup_key: str
    summary: str
    severity: str
    source: str
    status: str = "triggered"  # triggered | acknowledged | resolved
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    remaining: int


class _TLSServer(ThreadingHTTPServer):
    """Handshakes in the per-request thread, so one slow client cannot stall the accept loop."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, context: ssl.SSLContext, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return  # e.g. a client that does not trust our CA; the client reports it
        super().finish_request(request, client_address)


class FakePagerDuty:
    """The fake Events API; `start()` it, trust `ca_file`, send events to `events_url`, `stop()` it."""

    def __init__(self, workdir: Path) -> None:
        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = workdir / "fake-pagerduty-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self.rate_limit_per_minute = EVENTS_PER_MINUTE
        self._lock = threading.RLock()
        self._server: _TLSServer | None = None
        self.reset()

    def start(self) -> FakePagerDuty:
        """Listen with TLS on 127.0.0.1, a free port, in a background thread."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _TLSServer(context, handler)
        # A short poll interval makes stop() quick.
        serve = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-pagerduty", daemon=True
        )
        serve.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def events_url(self) -> str:
        """`https://127.0.0.1:<port>`: the client's `base_url`."""
        assert self._server is not None, "FakePagerDuty is not started"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts only this fake's CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def api_url(self) -> str:
        """The REST API base URL (same server): `PAGERDUTY_API_URL`."""
        return self.events_url

    def add_user(self, user_id: str, name: str, email: str) -> None:
        """A PagerDuty user the REST API knows."""
        with self._lock:
            self.users[user_id] = {"id": user_id, "type": "user", "name": name, "email": email,
                                   "summary": name, "html_url": f"https://acme.pagerduty.com/users/{user_id}"}

    def reset(self) -> None:
        """Forget incidents, events, faults and rate-limit windows."""
        with self._lock:
            self.users: dict[str, dict[str, Any]] = {}
            self.subscriptions: list[dict[str, Any]] = []
            self.rest_requests: list[tuple[str, str]] = []  # (method, path) of authenticated REST calls
            self.incidents: list[FakeIncident] = []
            self.events: list[dict[str, Any]] = []  # accepted, in order
            self.event_times: list[float] = []  # when each accepted event arrived (time.monotonic())
            self.rejected: list[tuple[int, dict[str, Any] | None]] = []  # (status, body) of refused requests
            self.requests = 0
            self.rate_limit_per_minute = EVENTS_PER_MINUTE
            self._faults: list[_Fault] = []
            self._windows: dict[str, deque[float]] = {}

    def fail_next(self, *, status: int = 500, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` requests (Events or REST API) with `status` (429 throttle or 5xx) before
        validating them."""
        with self._lock:
            self._faults.append(_Fault(status, retry_after, times))

    def incident(self, dedup_key: str) -> FakeIncident | None:
        """The latest incident for `dedup_key`, or None."""
        with self._lock:
            return next((i for i in reversed(self.incidents) if i.dedup_key == dedup_key), None)

    def arrivals(self, action: str | None = None) -> list[float]:
        """When accepted events (of `action`, or all) arrived, `time.monotonic()`, in order."""
        with self._lock:
            return [t for t, e in zip(self.event_times, self.events, strict=True)
                    if action is None or e.get("event_action") == action]

    def open_incidents(self) -> list[FakeIncident]:
        """Incidents not resolved yet."""
        with self._lock:
            return [i for i in self.incidents if i.status != "resolved"]

    # -- request handling (called from server threads) -------------------------------------------------------

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
            return fault

    def _throttled(self, routing_key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(routing_key, deque())
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= self.rate_limit_per_minute:
                return True
            window.append(now)
            return False

    def _enqueue(self, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests += 1
        fault = self._take_fault()
        if fault is not None:
            headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            if fault.status == HTTPStatus.TOO_MANY_REQUESTS:
                return 429, _THROTTLED, headers
            return fault.status, {"status": "error", "message": "Internal server error"}, headers
        problems = _problems(body)
        if problems:
            answer = {"status": "invalid event", "message": "Event object is invalid", "errors": problems}
            with self._lock:
                self.rejected.append((400, body if isinstance(body, dict) else None))
            return 400, answer, {}
        if self._throttled(body["routing_key"]):
            with self._lock:
                self.rejected.append((429, body))
            return 429, _THROTTLED, {}
        dedup_key = self._apply(body)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, {}

    def _apply(self, event: dict[str, Any]) -> str:
        with self._lock:
            action = event["event_action"]
            dedup_key = event.get("dedup_key") or uuid.uuid4().hex
            self.events.append({**event, "dedup_key": dedup_key})
            self.event_times.append(time.monotonic())
            current = next(
                (i for i in reversed(self.incidents)
                 if i.dedup_key == dedup_key and i.routing_key == event["routing_key"]),
                None,
            )
            if action == "trigger":
                if current is None or current.status == "resolved":
                    payload = event["payload"]
                    current = FakeIncident(event["routing_key"], dedup_key, payload["summary"],
                                           payload["severity"], payload["source"])
                    self.incidents.append(current)
                current.events.append(event)
            elif current is not None and current.status != "resolved":
                # PagerDuty accepts acknowledge/resolve for unknown keys too; they simply change nothing.
                current.status = "acknowledged" if action == "acknowledge" else "resolved"
                current.events.append(event)
            return str(dedup_key)


    def _rest(self, method: str, path: str, query: dict[str, list[str]], body: Any,
              auth: str) -> tuple[int, dict[str, Any]]:
        fault = self._take_fault()
        if fault is not None:
            return fault.status, {"error": {"message": "Internal Server Error"}}
        if auth != f"Token token={API_TOKEN}":
            return 401, {"error": {"message": "Unauthorized", "code": 2006}}
        with self._lock:
            self.rest_requests.append((method, path))
            parts = [p for p in path.split("/") if p]
            if method == "GET" and len(parts) == 2 and parts[0] == "users":
                user = self.users.get(parts[1])
                if user is None:
                    return 404, {"error": {"message": "Not Found", "code": 2100}}
                return 200, {"user": user}
            if parts[:1] != ["webhook_subscriptions"]:
                return 404, {"error": {"message": "Not Found", "code": 2100}}
            if method == "GET" and len(parts) == 1:
                found = self.subscriptions
                if query.get("filter_type") or query.get("filter_id"):
                    found = [s for s in found if s["filter"]["type"] == query.get("filter_type", [""])[0]
                             and s["filter"]["id"] == query.get("filter_id", [""])[0]]
                offset = int(query.get("offset", ["0"])[0])
                limit = int(query.get("limit", ["25"])[0])
                page = [_redacted(s) for s in found[offset:offset + limit]]
                return 200, {"webhook_subscriptions": page, "offset": offset, "limit": limit,
                             "more": offset + limit < len(found), "total": None}
            if method == "POST" and len(parts) == 1:
                problems = _subscription_problems(body)
                if problems:
                    return 400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": problems}}
                new = json.loads(json.dumps(body["webhook_subscription"]))
                new.update(id=f"PSUB{len(self.subscriptions) + 1:03d}", active=True)
                new["delivery_method"].update(id=f"PDM{len(self.subscriptions) + 1:03d}",
                                              secret=uuid.uuid4().hex + uuid.uuid4().hex)
                self.subscriptions.append(new)
                return 201, {"webhook_subscription": new}
            if method == "PUT" and len(parts) == 2:
                current = next((s for s in self.subscriptions if s["id"] == parts[1]), None)
                if current is None:
                    return 404, {"error": {"message": "Not Found", "code": 2100}}
                change = (body or {}).get("webhook_subscription") if isinstance(body, dict) else None
                if not isinstance(change, dict):
                    return 400, {"error": {"message": "Invalid Input Provided", "code": 2001}}
                for key in ("events", "filter", "description", "active"):
                    if key in change:
                        current[key] = change[key]
                if isinstance(change.get("delivery_method"), dict) and "url" in change["delivery_method"]:
                    current["delivery_method"]["url"] = change["delivery_method"]["url"]
                return 200, {"webhook_subscription": _redacted(current)}
            return 405, {"error": {"message": "Method Not Allowed"}}


def _redacted(subscription: dict[str, Any]) -> dict[str, Any]:
    """A subscription as PagerDuty shows it after creation: the secret is null."""
    shown = json.loads(json.dumps(subscription))
    shown["delivery_method"]["secret"] = None
    return shown


def _subscription_problems(body: Any) -> list[str]:
    sub = body.get("webhook_subscription") if isinstance(body, dict) else None
    if not isinstance(sub, dict):
        return ["webhook_subscription is required"]
    problems = []
    if sub.get("type") != "webhook_subscription":
        problems.append("type must be webhook_subscription")
    method = sub.get("delivery_method")
    if not isinstance(method, dict) or method.get("type") != "http_delivery_method" or not str(
            method.get("url", "")).startswith("https://"):
        problems.append("delivery_method must be an http_delivery_method with an https url")
    events = sub.get("events")
    if not isinstance(events, list) or not events or any(e not in SUBSCRIPTION_EVENT_TYPES for e in events):
        problems.append("events must be a non-empty list of known event types")
    flt = sub.get("filter")
    if not isinstance(flt, dict) or flt.get("type") not in ("service_reference", "team_reference",
                                                             "account_reference") or not flt.get("id"):
        problems.append("filter must reference a service, team or account")
    return problems


_THROTTLED = {"status": "throttle event",
              "message": "Requests for this integration key are arriving too quickly. Please retry later."}


def _problems(body: Any) -> list[str]:
    """What PagerDuty would refuse in this event, as its `errors` list."""
    if not isinstance(body, dict):
        return ["Event object must be a JSON object"]
    problems = []
    routing_key = body.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_LENGTH:
        problems.append("'routing_key' must be a 32 character string")
    action = body.get("event_action")
    if action not in ACTIONS:
        problems.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > DEDUP_KEY_MAX):
        problems.append(f"'dedup_key' must be a string of at most {DEDUP_KEY_MAX} characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        problems.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            problems.append("'payload' is missing or not an object")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary:
                problems.append("'payload.summary' is missing or blank")
            elif len(summary) > SUMMARY_MAX:
                problems.append(f"'payload.summary' must be at most {SUMMARY_MAX} characters")
            if not isinstance(payload.get("source"), str) or not payload.get("source"):
                problems.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                problems.append("'payload.severity' must be one of critical, error, warning, info")
    links = body.get("links")
    if links is not None and (
        not isinstance(links, list)
        or any(not isinstance(link, dict) or not link.get("href") for link in links)
    ):
        problems.append("'links' must be a list of objects with an 'href'")
    return problems


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Handler(BaseHTTPRequestHandler):
    fake: FakePagerDuty
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms per answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: events are recorded on the fake instead."""

    def _rest(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"error": {"message": "Invalid JSON"}}, {})
            return
        status, answer = self.fake._rest(method, url.path, parse_qs(url.query), body,
                                         self.headers.get("Authorization", ""))
        self._send(status, answer, {})

    def do_GET(self) -> None:
        """REST API reads."""
        self._rest("GET")

    def do_PUT(self) -> None:
        """REST API updates."""
        self._rest("PUT")

    def do_POST(self) -> None:
        """POST /v2/enqueue (Events API), anything else is the REST API."""
        if self.path != "/v2/enqueue":
            self._rest("POST")
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            # PagerDuty parses strict JSON: NaN and Infinity (which Python's json writes) are refused.
            body = json.loads(raw, parse_constant=_refuse_constant) if raw else None
        except (ValueError, UnicodeDecodeError):
            self._send(400, {"status": "invalid event", "message": "Event object is invalid",
                             "errors": ["Request body is not valid JSON"]}, {})
            return
        status, answer, headers = self.fake._enqueue(body)
        self._send(status, answer, headers)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
