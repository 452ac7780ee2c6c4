"""Who may read what: the guard in front of every route, and the security headers of every answer.

Open to anyone: `/healthz`, `/readyz`, the sign-in routes and `/static/`; `/sns` and `/slack/events` check their
own signatures. `/metrics` is open when `METRICS_PUBLIC=true` or to loopback clients. Everything else (`/api/*`,
the pages, routes added later) needs a credential: a signed-in session or `Authorization: Bearer <token>` from
`API_TOKENS`. With neither sign-in nor tokens configured (the embedded demo), loopback clients are let in without
one, and nobody else. Without a credential `/api/*` answers 401 `{"error": …}` and a page redirects to sign-in.

To open a new route to the world, add its path to `OPEN_PATHS` (and say why there).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.settings import Settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Health checks answer load balancers; SNS, Slack and PagerDuty prove themselves with signatures; sign-in must be
# reachable before one has a session; static files hold no data.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/sns", "/slack/events", "/pagerduty/webhook", "/login",
                        "/login/callback", "/logout", "/signed-out"})
OPEN_PREFIXES = ("/static/",)
METRICS_PATH = "/metrics"
# A request that came through a proxy is not a loopback client, whatever address the proxy connected from.
_FORWARDED = (b"forwarded", b"x-forwarded-for", b"x-real-ip")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a signed-in Slack user, an API token holder, or a loopback client in the demo."""

    kind: str  # "user", "token" or "loopback"
    user_id: str | None = None
    name: str | None = None

    @property
    def ambient(self) -> bool:
        """True when the browser sends the credential by itself (session cookie, loopback): forms need CSRF."""
        return self.kind != "token"


def is_loopback(scope: Scope) -> bool:
    """True for a direct connection from 127.0.0.0/8 or ::1; test clients named "testclient" are not."""
    client = scope.get("client")
    if not client:
        return False
    if any(name in _FORWARDED for name, _ in scope.get("headers", ())):
        return False
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


def token_matches(presented: str, tokens: Sequence[str]) -> bool:
    """Compare against every configured token in constant time (no early exit on the first match either)."""
    found = False
    for token in tokens:
        found |= hmac.compare_digest(presented.encode(), token.encode())
    return found


class AccessGuard:
    """ASGI middleware (inside the session middleware): refuses requests without a credential, stamps headers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.tokens = tuple(settings.api_tokens)
        self.sign_in = settings.sign_in_configured
        self.team_id = settings.slack_team_id
        self.metrics_public = settings.metrics_public
        self.loopback_only = settings.web_open_to_loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        path = str(scope.get("path", ""))
        refusal = self._refusal(scope, path)
        if refusal is None:
            await self.app(scope, receive, with_headers)
            return
        # Only a page a person opens is sent to sign-in: a form post redirected to Slack would be stopped by the
        # CSP's form-action anyway, and API clients want the reason.
        if path.startswith("/api/") or path == METRICS_PATH or not self.sign_in or scope.get("method") != "GET":
            await _answer(with_headers, 401, refusal)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        await with_headers({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", f"/login?next={quote(target, safe='')}".encode()),
                                        (b"content-length", b"0")]})
        await with_headers({"type": "http.response.body", "body": b""})

    def _refusal(self, scope: Scope, path: str) -> str | None:
        """None when the request may go on, else the one-line reason it may not."""
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        principal, reason = self.principal(scope)
        if path == METRICS_PATH and (self.metrics_public or is_loopback(scope)):
            return None
        if principal is None:
            return reason
        scope.setdefault("state", {})["principal"] = principal
        return None

    def principal(self, scope: Scope) -> tuple[Principal | None, str]:
        """The credential on this request, or None and the reason there is none."""
        headers = dict(scope.get("headers", ()))
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization:
            scheme, _, presented = authorization.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                return None, "the Authorization header must be 'Bearer <token>'"
            if self.tokens and token_matches(presented.strip(), self.tokens):
                return Principal("token"), ""
            return None, "the bearer token is not valid"
        user = (scope.get("session") or {}).get("user")
        if self.sign_in and isinstance(user, dict) and user.get("team") == self.team_id and user.get("id"):
            return Principal("user", user_id=str(user["id"]), name=str(user.get("name") or user["id"])), ""
        if self.loopback_only:
            if is_loopback(scope):
                return Principal("loopback"), ""
            return None, ("no sign-in or API tokens are configured, so only loopback clients are answered "
                          "(set SLACK_CLIENT_ID or API_TOKENS)")
        how = "sign in with Slack or send " if self.sign_in else "send "
        return None, f"credential required: {how}Authorization: Bearer <token>"


async def _answer(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body})
