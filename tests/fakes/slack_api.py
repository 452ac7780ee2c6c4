"""A fake Slack Web API: a real local HTTP server that enforces Slack's rules and records every call.

Point any Slack client at `FakeSlack.api_url` (it ends in `/api/`, like `https://slack.com/api/`). It serves
sync and async clients alike because it runs in its own threads. Arguments are read from the query string, a
form body and a JSON body, since `AsyncWebClient` puts most of them in the query string even on POST.

It is also Slack's OpenID Connect provider ("Sign in with Slack"): `GET /openid/connect/authorize` signs in
`oidc_user` at once and redirects back with a code, `openid.connect.token` trades it (once, same redirect URI,
client secret checked) for an RS256 ID token, `GET /openid/connect/keys` serves the public key, and
`openid.connect.userInfo` answers for the access token. Register clients with `add_oidc_client`.

Rate limits are enforced as Slack does (a 429 with `Retry-After`, recorded in `rate_limited`): about one
`chat.postMessage` per second per channel (short bursts of `POST_BURST` tolerated) and the Web API tiers per
method (`TIERS`, calls per minute, bursts of a quarter of that). Set `enforce_rate_limits = False` to turn them off.

Ambiguous failures, as Slack has them: `fail_next(..., after=True)` performs the call and only then answers
500 (or drops the connection, or hangs `hang` seconds first), so the caller cannot tell whether it happened.
`on_performed(method, args)`, when set, runs after each successful call and before its answer is sent (the
fault suite kills the bot there).

To extend: add a `_m_<method_with_underscores>` handler (e.g. `_m_conversations_rename` for
`conversations.rename`) that takes the merged args and returns the response dict, or raises `_SlackError`.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

BOT_USER_ID = "UBOT000001"
CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250
BLOCKS_MAX = 50
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
HEADER_TEXT_MAX = 150
MARKDOWN_BLOCK_MAX = 12000
MESSAGE_TEXT_MAX = 40000
RESPONSE_URL_POSTS = 5
RESPONSE_URL_TTL = 30 * 60
POSTS_PER_SECOND = 1.0
POST_BURST = 4
# Slack's Web API tiers (calls per minute per workspace) for the methods the bot calls.
TIERS = {
    "conversations.create": 20, "bookmarks.add": 20, "conversations.setTopic": 20, "conversations.setPurpose": 20,
    "conversations.list": 20, "usergroups.list": 20,
    "conversations.invite": 50, "chat.update": 50, "conversations.history": 50, "users.lookupByEmail": 50,
}
TRIGGER_TTL = 3.0  # a trigger_id opens a modal within 3 s of the click
VIEW_TITLE_MAX = 24
VIEW_BLOCKS_MAX = 100
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
INPUT_LABEL_MAX = 2000
PLAIN_TEXT_INPUT_MAX = 3000
# Scopes each method needs beyond the basics; listed in `missing_scopes` to make Slack refuse with missing_scope.
METHOD_SCOPES = {"usergroups.list": "usergroups:read", "users.lookupByEmail": "users:read.email",
                 "files.getUploadURLExternal": "files:write", "files.completeUploadExternal": "files:write"}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_KNOWN_BLOCKS = frozenset(
    {"section", "header", "divider", "context", "actions", "image", "input", "markdown", "rich_text", "table",
     "file", "video"}
)


class _SlackError(Exception):
    """An `{"ok": false, "error": ...}` answer."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class FakeUser:
    """A workspace member."""

    id: str
    name: str
    email: str
    real_name: str = ""

    def as_api(self) -> dict[str, Any]:
        """The user object as users.info returns it."""
        return {
            "id": self.id,
            "name": self.name,
            "real_name": self.real_name or self.name,
            "deleted": False,
            "is_bot": self.id == BOT_USER_ID,
            "profile": {"email": self.email, "real_name": self.real_name or self.name},
        }


@dataclass
class FakeChannel:
    """A channel and everything that happened in it."""

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    def as_api(self) -> dict[str, Any]:
        """The conversation object as conversations.info returns it."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": BOT_USER_ID in self.members,
            "created": self.created,
            "num_members": len(self.members),
            "topic": {"value": self.topic, "creator": BOT_USER_ID if self.topic else "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": BOT_USER_ID if self.purpose else "", "last_set": 0},
        }


OIDC_ISSUER = "https://slack.com"
OIDC_CODE_TTL = 600
OIDC_METHODS = frozenset({"openid.connect.token", "openid.connect.userInfo"})


@dataclass
class _OidcClient:
    secret: str
    redirect_uris: set[str]


@dataclass
class _OidcCode:
    client_id: str
    redirect_uri: str
    user_id: str
    team_id: str
    nonce: str | None
    created: float


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    error: str | None
    disconnect: bool
    remaining: int
    after: bool = False  # perform the call first, then fail: the caller cannot tell it happened
    hang: float = 0.0  # seconds to wait before failing (longer than the client's timeout: a timeout)


@dataclass
class _ResponseUrl:
    created: float
    posts: list[dict[str, Any]] = field(default_factory=list)
    channel: str = ""  # the message a button's response_url belongs to (replace_original updates it)
    ts: str = ""


@dataclass
class FakeFile:
    """A file uploaded with the two-step external upload; `shared_in` once completed into a channel."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    shared_in: str = ""


class FakeSlack:
    """The fake workspace and its HTTP server: `start()` it, point a client at `api_url`, `stop()` it."""

    def __init__(self, token: str = "xoxb-test-token") -> None:  # noqa: S107
        self.token = token
        self.latency = 0.0  # seconds added to every answer, for benchmarks
        self._lock = threading.RLock()
        # One signing key per fake (RSA generation is not free); `rotate_oidc_key` replaces it.
        self.oidc_key = RSAKey.generate_key(2048, parameters={"kid": "fake-slack-1", "use": "sig", "alg": "RS256"})
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Listen on 127.0.0.1, a free port, in a background thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        # A short poll interval makes stop() quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (no trailing slash)."""
        assert self._server is not None, "FakeSlack is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """What to use as `SLACK_API_URL` / the client's `base_url`."""
        return f"{self.base_url}/api/"

    def reset(self) -> None:
        """Forget every channel, user, message, call and fault; keep the server and token."""
        with self._lock:
            self.users: dict[str, FakeUser] = {}
            self.channels: dict[str, FakeChannel] = {}  # by id
            self.usergroups: dict[str, list[str]] = {}  # handle -> member ids
            self.calls: list[tuple[str, dict[str, Any]]] = []
            self.latency = 0.0
            self.missing_scopes: set[str] = set()  # e.g. {"groups:read"}: private channels cannot be listed
            self.on_performed: Callable[[str, dict[str, Any]], None] | None = None
            self._faults: dict[str, list[_Fault]] = {}
            self.enforce_rate_limits = True
            self.rate_limited: list[tuple[str, str]] = []  # (method, channel or "") of every 429 for a rate limit
            self._next_call: dict[tuple[str, str], float] = {}  # GCRA: when the next call is due, per bucket
            self._responses: dict[str, _ResponseUrl] = {}
            self.files: dict[str, FakeFile] = {}
            self.views: list[dict[str, Any]] = []  # modals opened, as views.open received them
            self._triggers: dict[str, tuple[float, str]] = {}  # trigger_id -> (issued at, user)
            self._ids = itertools.count(1)
            self._ts = itertools.count(1)
            self.team_id = "T0001"
            self.oidc_clients: dict[str, _OidcClient] = {}
            self.oidc_user: str | None = None  # who is signed in to Slack in "the browser"
            self.oidc_team: str | None = None  # their workspace; None: this fake's team_id
            self.id_token_claims: dict[str, Any] = {}  # overrides for the next ID tokens (tests of refusals)
            self._oidc_codes: dict[str, _OidcCode] = {}
            self._oidc_tokens: dict[str, tuple[str, str]] = {}  # access token -> (user id, team id)
            self.add_user(BOT_USER_ID, "incident-bot", "incident-bot@example.com")

    # -- set-up helpers --------------------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, email: str, real_name: str = "") -> FakeUser:
        """Add a workspace member."""
        with self._lock:
            user = FakeUser(user_id, name, email, real_name)
            self.users[user_id] = user
            return user

    def add_usergroup(self, handle: str, members: list[str]) -> None:
        """Create a user group (`@handle`) with these members."""
        with self._lock:
            self.usergroups[handle] = list(members)

    def add_channel(self, name: str, *, members: tuple[str, ...] = (), archived: bool = False) -> FakeChannel:
        """Create a channel directly (not through the API); the bot is always a member."""
        with self._lock:
            channel = FakeChannel(self._new_id("C"), name, is_archived=archived)
            channel.members.update({BOT_USER_ID, *members})
            self.channels[channel.id] = channel
            return channel

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: float | None = None,
        times: int = 1,
        error: str | None = None,
        disconnect: bool = False,
        after: bool = False,
        hang: float = 0.0,
    ) -> None:
        """Make the next `times` calls of `method` (or `"*"` for any) fail.

        `status=429` answers `ratelimited` with `Retry-After` (default 1 s); `status=5xx` answers an HTML
        error page; `status=200` with `error=` answers `{"ok": false, "error": error}`; `disconnect=True`
        drops the connection without an answer. `after=True` performs the call first (when it succeeds) and
        then fails as above; `hang` waits that many seconds before failing.
        """
        if status == HTTPStatus.TOO_MANY_REQUESTS and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(status, retry_after, error, disconnect, times, after=after, hang=hang))

    def add_oidc_client(self, client_id: str, secret: str, redirect_uri: str) -> None:
        """Register a "Sign in with Slack" app: its id, secret and one allowed redirect URL."""
        with self._lock:
            self.oidc_clients.setdefault(client_id, _OidcClient(secret, set())).redirect_uris.add(redirect_uri)

    def sign_in_as(self, user_id: str | None, team_id: str | None = None) -> None:
        """Who the authorize page signs in (None: nobody, the page refuses)."""
        with self._lock:
            self.oidc_user, self.oidc_team = user_id, team_id

    @property
    def oidc_url(self) -> str:
        """What to use as `SLACK_OIDC_URL` (the base of /openid/connect/authorize and /keys)."""
        return self.base_url

    def response_url(self, *, channel: str = "", ts: str = "") -> str:
        """A fresh `response_url` served by this fake; with `channel` and `ts` it belongs to that message (a
        button's), and a post with `replace_original: true` replaces the message in place."""
        with self._lock:
            response_id = f"T0001/{next(self._ids)}/{int(time.time() * 1000)}"
            self._responses[response_id] = _ResponseUrl(created=time.time(), channel=channel, ts=ts)
        return f"{self.base_url}/response/{response_id}"

    def trigger_id(self, user: str = "") -> str:
        """A fresh `trigger_id` (of a click by `user`), valid for TRIGGER_TTL seconds."""
        with self._lock:
            trigger = f"{next(self._ids)}.{int(time.time() * 1000)}.fake"
            self._triggers[trigger] = (time.time(), user)
            return trigger

    def shared_files(self, channel: str) -> list[FakeFile]:
        """Files completed into `channel` (id or name), oldest first."""
        found = self.channel(channel)
        with self._lock:
            return [f for f in self.files.values() if found is not None and f.shared_in == found.id]

    # -- query helpers for assertions ------------------------------------------------------------------------

    def channel(self, name_or_id: str) -> FakeChannel | None:
        """The channel with this id, name or `#name`, or None."""
        with self._lock:
            return self._find_channel(name_or_id)

    def channel_names(self) -> list[str]:
        """Names of every channel, in creation order."""
        with self._lock:
            return [c.name for c in self.channels.values()]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages in `channel` (id, name or `#name`), oldest first: ts, text, blocks, metadata, user."""
        found = self.channel(channel)
        return [dict(m) for m in found.messages] if found else []

    def members(self, channel: str) -> set[str]:
        """User ids in `channel`."""
        found = self.channel(channel)
        return set(found.members) if found else set()

    def topic(self, channel: str) -> str:
        """The channel's topic ("" if unset or unknown)."""
        found = self.channel(channel)
        return found.topic if found else ""

    def purpose(self, channel: str) -> str:
        """The channel's purpose ("" if unset or unknown)."""
        found = self.channel(channel)
        return found.purpose if found else ""

    def bookmarks(self, channel: str) -> list[dict[str, Any]]:
        """Bookmarks of `channel`: id, title, link, type."""
        found = self.channel(channel)
        return list(found.bookmarks) if found else []

    def responses(self, url_or_id: str) -> list[dict[str, Any]]:
        """JSON bodies posted to a `response_url`, in order."""
        response_id = url_or_id.split("/response/", 1)[-1]
        with self._lock:
            entry = self._responses.get(response_id)
            return list(entry.posts) if entry else []

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Arguments of every call of `method`, failed ones included."""
        with self._lock:
            return [args for name, args in self.calls if name == method]

    # -- request handling (called from server threads) -------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _find_channel(self, ref: str) -> FakeChannel | None:
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for key in (method, "*"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.pop(0)
                    return fault
        return None

    def _over_limit(self, method: str, args: Mapping[str, Any]) -> float | None:
        """Seconds to wait when this call breaks a rate limit (the call is then refused), else None."""
        if not self.enforce_rate_limits:
            return None
        with self._lock:
            if method == "chat.postMessage":
                channel = self._find_channel(str(args.get("channel") or ""))
                if channel is None:
                    return None
                key, rate, burst = (method, channel.id), POSTS_PER_SECOND, POST_BURST
            elif method in TIERS:
                key, rate, burst = (method, ""), TIERS[method] / 60, max(1, TIERS[method] // 4)
            else:
                return None
            now = time.monotonic()
            due = max(self._next_call.get(key, now), now)
            early = due - (burst - 1) / rate - now
            if early > 0:
                self.rate_limited.append(key)
                return early
            self._next_call[key] = due + 1 / rate
            return None

    def _dispatch(self, method: str, args: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        token = None
        if authorization and authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        token = token or args.get("token")
        if not token:
            raise _SlackError("not_authed")
        if token != self.token:
            raise _SlackError("invalid_auth")
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            raise _SlackError("unknown_method")
        needed = METHOD_SCOPES.get(method)
        if needed and needed in self.missing_scopes:
            raise _SlackError("missing_scope", needed=needed)
        with self._lock:
            result: dict[str, Any] = handler(args)
        return {"ok": True, **result}

    def _post_response(self, response_id: str, body: Mapping[str, Any]) -> tuple[int, str]:
        with self._lock:
            entry = self._responses.get(response_id)
            if entry is None:
                return 404, "invalid_url"
            if time.time() - entry.created > RESPONSE_URL_TTL:
                return 404, "expired_url"
            if len(entry.posts) >= RESPONSE_URL_POSTS:
                return 404, "used_url"
            if not body.get("text") and not body.get("blocks"):
                return 400, "no_text"
            if body.get("blocks"):
                try:
                    _check_blocks(body["blocks"])
                except _SlackError:
                    return 400, "invalid_blocks"
            entry.posts.append(dict(body))
            if _truthy(body.get("replace_original")) and entry.channel and entry.ts:
                channel = self.channels.get(entry.channel)
                stored = next((m for m in channel.messages if m["ts"] == entry.ts), None) if channel else None
                if stored is None:
                    return 404, "message_not_found"
                stored["text"] = str(body.get("text") or "")
                stored.pop("blocks", None)
                if body.get("blocks"):
                    stored["blocks"] = body["blocks"]
                stored["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
            return 200, "ok"

    def _upload(self, file_id: str, raw: bytes) -> tuple[int, str]:
        """Step two of the external upload: the bytes, POSTed to the URL step one returned."""
        with self._lock:
            found = self.files.get(file_id)
            if found is None or found.content is not None:
                return 404, "invalid_upload_url"
            if len(raw) != found.length:
                return 400, f"length mismatch: declared {found.length}, got {len(raw)}"
            found.content = raw
            return 200, f"OK - {len(raw)}"

    # -- OpenID Connect (Sign in with Slack) ---------------------------------------------------------------

    def _authorize(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The authorize page: check the request, then redirect back with a code (or an error)."""
        with self._lock:
            client = self.oidc_clients.get(query.get("client_id", ""))
            redirect_uri = query.get("redirect_uri", "")
            if client is None:
                return 400, {}, b"invalid_client_id"
            if redirect_uri not in client.redirect_uris:
                # Never redirect to an unregistered URL, not even with an error.
                return 400, {}, b"bad_redirect_uri"
            state = query.get("state", "")

            def back(**params: str) -> tuple[int, dict[str, str], bytes]:
                return 302, {"Location": f"{redirect_uri}?{urlencode({**params, 'state': state})}"}, b""

            if query.get("response_type") != "code":
                return back(error="unsupported_response_type")
            if "openid" not in query.get("scope", "").split():
                return back(error="invalid_scope")
            if self.oidc_user is None:
                return back(error="access_denied")
            code = f"code-{next(self._ids)}-{int(time.time() * 1000)}"
            self._oidc_codes[code] = _OidcCode(
                client_id=query["client_id"], redirect_uri=redirect_uri, user_id=self.oidc_user,
                team_id=self.oidc_team or self.team_id, nonce=query.get("nonce"), created=time.time())
            return back(code=code)

    def _openid(self, method: str, args: Mapping[str, Any], authorization: str | None) -> dict[str, Any]:
        with self._lock:
            if method == "openid.connect.userInfo":
                token = (authorization or "").removeprefix("Bearer ").strip() or str(args.get("token") or "")
                if token not in self._oidc_tokens:
                    raise _SlackError("invalid_auth")
                user_id, team_id = self._oidc_tokens[token]
                return {"ok": True, **self._identity(user_id, team_id)}
            client_id, secret = str(args.get("client_id") or ""), str(args.get("client_secret") or "")
            if authorization and authorization.startswith("Basic "):
                client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            client = self.oidc_clients.get(client_id)
            if client is None:
                raise _SlackError("invalid_client_id")
            if secret != client.secret:
                raise _SlackError("bad_client_secret")
            code = self._oidc_codes.pop(str(args.get("code") or ""), None)  # a code works once
            if code is None or code.client_id != client_id or time.time() - code.created > OIDC_CODE_TTL:
                raise _SlackError("invalid_code")
            if str(args.get("redirect_uri") or "") != code.redirect_uri:
                raise _SlackError("bad_redirect_uri")
            access = f"xoxp-{next(self._ids)}-{code.user_id}"
            self._oidc_tokens[access] = (code.user_id, code.team_id)
            now = int(time.time())
            claims = {"iss": OIDC_ISSUER, "sub": code.user_id, "aud": client_id, "exp": now + 3600, "iat": now,
                      "auth_time": now, **({"nonce": code.nonce} if code.nonce else {}),
                      **self._identity(code.user_id, code.team_id), **self.id_token_claims}
            header = {"alg": "RS256", "kid": str(self.oidc_key.kid), "typ": "JWT"}
            return {"ok": True, "access_token": access, "token_type": "Bearer",
                    "id_token": jwt.encode(header, claims, self.oidc_key)}

    def _identity(self, user_id: str, team_id: str) -> dict[str, Any]:
        user = self.users.get(user_id)
        name = (user.real_name or user.name) if user else user_id
        return {"sub": user_id, "https://slack.com/user_id": user_id, "https://slack.com/team_id": team_id,
                "https://slack.com/team_name": "Fake", "email": user.email if user else "", "email_verified": True,
                "name": name, "locale": "en-US"}

    def _jwks(self) -> dict[str, Any]:
        public = self.oidc_key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.oidc_key.kid, "alg": "RS256", "use": "sig"}]}

    def _discovery(self) -> dict[str, Any]:
        return {"issuer": OIDC_ISSUER, "authorization_endpoint": f"{self.base_url}/openid/connect/authorize",
                "token_endpoint": f"{self.api_url}openid.connect.token",
                "userinfo_endpoint": f"{self.api_url}openid.connect.userInfo",
                "jwks_uri": f"{self.base_url}/openid/connect/keys", "response_types_supported": ["code"],
                "scopes_supported": ["openid", "profile", "email"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    # -- Web API methods ------------------------------------------------------------------------------------

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://fake.slack.com/", "team": "Fake", "user": "incident-bot", "team_id": "T0001",
                "user_id": BOT_USER_ID, "bot_id": "B0001"}

    def _channel_arg(self, args: Mapping[str, Any], key: str = "channel") -> FakeChannel:
        ref = str(args.get(key) or "")
        found = self.channels.get(ref)
        if found is None:
            raise _SlackError("channel_not_found")
        return found

    def _m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        if not name:
            raise _SlackError("invalid_name_required")
        if len(name) > CHANNEL_NAME_MAX:
            raise _SlackError("invalid_name_maxlength")
        if not set(name) <= _NAME_CHARS:
            raise _SlackError("invalid_name_specials")
        if any(c.name == name for c in self.channels.values()):
            raise _SlackError("name_taken")
        channel = FakeChannel(self._new_id("C"), name, is_private=_truthy(args.get("is_private")))
        channel.members.add(BOT_USER_ID)
        self.channels[channel.id] = channel
        return {"channel": channel.as_api()}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel_arg(args).as_api()}

    def _m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = str(args.get("types") or "public_channel").split(",")
        if "private_channel" in types and "groups:read" in self.missing_scopes:
            raise _SlackError("missing_scope", needed="groups:read")
        chosen = [
            c for c in self.channels.values()
            if ("private_channel" if c.is_private else "public_channel") in types
            and not (c.is_archived and _truthy(args.get("exclude_archived")))
        ]
        page, cursor = _paginate(chosen, args, default_limit=100)
        return {"channels": [c.as_api() for c in page], "response_metadata": {"next_cursor": cursor}}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_arg(args)
        with_metadata = _truthy(args.get("include_all_metadata"))
        newest_first = list(reversed(channel.messages))
        page, cursor = _paginate(newest_first, args, default_limit=100)
        messages = []
        for stored in page:
            message = {k: v for k, v in stored.items() if k != "metadata" or with_metadata}
            messages.append(message)
        return {"messages": messages, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}

    def _m_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args)
        topic = str(args.get("topic") or "")
        if len(topic) > TOPIC_MAX:
            raise _SlackError("too_long")
        channel.topic = topic
        return {"channel": channel.as_api()}

    def _m_conversations_setPurpose(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args)
        purpose = str(args.get("purpose") or "")
        if len(purpose) > TOPIC_MAX:
            raise _SlackError("too_long")
        channel.purpose = purpose
        return {"channel": channel.as_api()}

    def _m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args)
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _SlackError("no_user")
        errors = []
        for user in users:
            if user == BOT_USER_ID:
                errors.append({"user": user, "ok": False, "error": "cant_invite_self"})
            elif user not in self.users:
                errors.append({"user": user, "ok": False, "error": "user_not_found"})
            elif user in channel.members:
                errors.append({"user": user, "ok": False, "error": "already_in_channel"})
        if errors and not _truthy(args.get("force")):
            raise _SlackError(errors[0]["error"], errors=errors)
        refused = {e["user"] for e in errors}
        channel.members.update(u for u in users if u not in refused)
        return {"channel": channel.as_api(), **({"errors": errors} if errors else {})}

    def _writable(self, args: Mapping[str, Any], key: str = "channel") -> FakeChannel:
        channel = self._channel_arg(args, key)
        if channel.is_archived:
            raise _SlackError("is_archived")
        return channel

    def _message_target(self, args: Mapping[str, Any]) -> FakeChannel:
        ref = str(args.get("channel") or "")
        channel = self._find_channel(ref) if ref else None
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel.is_archived:
            raise _SlackError("is_archived")
        return channel

    def _message_body(self, args: Mapping[str, Any]) -> dict[str, Any]:
        text = str(args.get("text") or "")
        blocks = _json_arg(args.get("blocks"))
        if not text and not blocks:
            raise _SlackError("no_text")
        if len(text) > MESSAGE_TEXT_MAX:
            raise _SlackError("msg_too_long")
        if blocks:
            _check_blocks(blocks)
            for block in blocks:
                if block.get("type") == "image" and not self._image_source_ok(block):
                    raise _SlackError("invalid_blocks")
        body: dict[str, Any] = {"type": "message", "user": BOT_USER_ID, "text": text}
        if blocks:
            body["blocks"] = blocks
        metadata = _json_arg(args.get("metadata"))
        if metadata:
            if not isinstance(metadata, dict) or not metadata.get("event_type") or not isinstance(
                metadata.get("event_payload"), dict
            ):
                raise _SlackError("invalid_metadata_format")
            body["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata["event_payload"],
            }
        return body

    def _image_source_ok(self, block: Mapping[str, Any]) -> bool:
        """An image block needs alt text and an image_url, or a slack_file that was really shared."""
        if not block.get("alt_text"):
            return False
        if block.get("image_url"):
            return True
        slack_file = block.get("slack_file") or {}
        found = self.files.get(str(slack_file.get("id") or ""))
        return found is not None and bool(found.shared_in)

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._message_target(args)
        message = self._message_body(args)
        message["ts"] = self._new_ts()
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args)  # chat.update takes a channel id, never a name
        ts = str(args.get("ts") or "")
        stored = next((m for m in channel.messages if m["ts"] == ts), None)
        if stored is None:
            raise _SlackError("message_not_found")
        if stored.get("user") != BOT_USER_ID:
            raise _SlackError("cant_update_message")
        body = self._message_body(args)
        stored.pop("blocks", None)
        stored.update({k: v for k, v in body.items() if k != "metadata" or "metadata" in args})
        stored["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        return {"channel": channel.id, "ts": ts, "text": stored["text"]}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._message_target(args)
        user = str(args.get("user") or "")
        if user not in self.users:
            raise _SlackError("user_not_found")
        if user not in channel.members:
            raise _SlackError("user_not_in_channel")
        message = self._message_body(args)
        message.update({"ts": self._new_ts(), "to": user})
        channel.ephemeral.append(message)
        return {"message_ts": message["ts"]}

    def _m_bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args, "channel_id")
        title = str(args.get("title") or "")
        kind = str(args.get("type") or "")
        link = str(args.get("link") or "")
        if not title:
            raise _SlackError("invalid_title")
        if kind != "link":
            raise _SlackError("invalid_type")
        if not link.startswith(("https://", "http://")):
            raise _SlackError("invalid_link")
        bookmark = {"id": self._new_id("Bk"), "channel_id": channel.id, "title": title, "link": link,
                    "type": kind}
        channel.bookmarks.append(bookmark)
        return {"bookmark": bookmark}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = str(args.get("filename") or "")
        length = str(args.get("length") or "")
        if not filename:
            raise _SlackError("invalid_arguments")
        if not length.isdigit() or int(length) <= 0:
            raise _SlackError("invalid_arguments")
        found = FakeFile(self._new_id("F"), filename, int(length))
        self.files[found.id] = found
        return {"upload_url": f"{self.base_url}/upload/{found.id}", "file_id": found.id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = _json_arg(args.get("files"))
        if not isinstance(entries, list) or not entries:
            raise _SlackError("invalid_arguments")
        channel_id = str(args.get("channel_id") or "")
        channel = self._writable({"channel": channel_id}) if channel_id else None
        if channel is not None and BOT_USER_ID not in channel.members:
            raise _SlackError("not_in_channel")
        shared = []
        for entry in entries:
            found = self.files.get(str(entry.get("id") or "")) if isinstance(entry, dict) else None
            if found is None or found.content is None:
                raise _SlackError("file_not_found")
            found.title = str(entry.get("title") or found.filename)
            shared.append(found)
        info = [{"id": f.id, "name": f.filename, "title": f.title, "size": f.length,
                 "mimetype": "image/png" if f.filename.endswith(".png") else "application/octet-stream"}
                for f in shared]
        if channel is not None:
            for found in shared:
                found.shared_in = channel.id
            channel.messages.append({"type": "message", "user": BOT_USER_ID, "text": "", "ts": self._new_ts(),
                                     "files": info, "upload": True})
        return {"files": info}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        issued = self._triggers.pop(trigger, None)
        if issued is None:
            raise _SlackError("invalid_trigger_id")
        if time.time() - issued[0] > TRIGGER_TTL:
            raise _SlackError("expired_trigger_id")
        view = _json_arg(args.get("view"))
        _check_view(view)
        self.views.append(view)
        return {"view": {"id": self._new_id("V"), **view, "state": {"values": {}}}}

    def _m_bookmarks_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_arg(args, "channel_id")
        return {"bookmarks": [dict(b) for b in channel.bookmarks]}

    def _m_usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        include_users = _truthy(args.get("include_users"))
        groups = []
        for index, (handle, members) in enumerate(sorted(self.usergroups.items()), start=1):
            group: dict[str, Any] = {
                "id": f"S{index:08d}", "handle": handle, "name": handle, "user_count": len(members),
            }
            if include_users:
                group["users"] = list(members)
            groups.append(group)
        return {"usergroups": groups}

    def _m_users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").lower()
        user = next((u for u in self.users.values() if u.email.lower() == email), None)
        if user is None:
            raise _SlackError("users_not_found")
        return {"user": user.as_api()}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": user.as_api()}


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


def _json_arg(value: object) -> Any:
    """Form and query args carry JSON as strings; JSON bodies carry it as is."""
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise _SlackError("invalid_arguments") from None
    return value


def _paginate(items: list[Any], args: Mapping[str, Any], *, default_limit: int) -> tuple[list[Any], str]:
    """Slack cursors are opaque strings; this one is the offset."""
    limit = int(args.get("limit") or default_limit) or default_limit
    offset = int(str(args.get("cursor") or "0").removeprefix("off:") or 0)
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return page, f"off:{offset + limit}" if more else ""


def _text_of(obj: object) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text") or "")
    return ""


def _check_blocks(blocks: object) -> None:
    """Block Kit limits Slack enforces on messages."""
    if not isinstance(blocks, list) or len(blocks) > BLOCKS_MAX:
        raise _SlackError("invalid_blocks")
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in _KNOWN_BLOCKS:
            raise _SlackError("invalid_blocks")
        kind = block["type"]
        if kind == "section":
            fields = block.get("fields") or []
            if not block.get("text") and not fields:
                raise _SlackError("invalid_blocks")
            if len(_text_of(block.get("text"))) > SECTION_TEXT_MAX or len(fields) > 10:
                raise _SlackError("invalid_blocks")
            if any(len(_text_of(f)) > SECTION_FIELD_MAX for f in fields):
                raise _SlackError("invalid_blocks")
        elif kind == "header":
            text = block.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                raise _SlackError("invalid_blocks")
            if not _text_of(text) or len(_text_of(text)) > HEADER_TEXT_MAX:
                raise _SlackError("invalid_blocks")
        elif kind == "markdown" and len(str(block.get("text") or "")) > MARKDOWN_BLOCK_MAX:
            raise _SlackError("invalid_blocks")
        elif kind == "actions":
            # At most 25 elements; action ids at most 255 characters and unique within the block; button labels
            # at most 75 characters.
            elements = block.get("elements") or []
            ids = [str(e.get("action_id") or "") for e in elements if isinstance(e, dict)]
            if not elements or len(elements) > 25 or len(set(ids)) != len(ids) or any(len(i) > 255 for i in ids):
                raise _SlackError("invalid_blocks")
            if any(e.get("type") == "button" and not 0 < len(_text_of(e.get("text"))) <= 75 for e in elements):
                raise _SlackError("invalid_blocks")


def _check_view(view: object) -> None:
    """Modal limits Slack enforces on views.open (FIELD_NOTES)."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        raise _SlackError("invalid_arguments")
    for key in ("title", "submit", "close"):
        text = view.get(key)
        if text is None and key != "title":
            continue
        if not isinstance(text, dict) or text.get("type") != "plain_text" or not 0 < len(_text_of(text)) \
                <= VIEW_TITLE_MAX:
            raise _SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] bad {key}"]})
    blocks = view.get("blocks") or []
    if not isinstance(blocks, list) or len(blocks) > VIEW_BLOCKS_MAX:
        raise _SlackError("invalid_arguments")
    if any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
        raise _SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] input needs submit"]})
    if len(str(view.get("private_metadata") or "")) > PRIVATE_METADATA_MAX:
        raise _SlackError("invalid_arguments")
    if len(str(view.get("callback_id") or "")) > CALLBACK_ID_MAX:
        raise _SlackError("invalid_arguments")
    for block in blocks:
        if block.get("type") != "input":
            continue
        label, element = block.get("label"), block.get("element") or {}
        if not isinstance(label, dict) or not 0 < len(_text_of(label)) <= INPUT_LABEL_MAX:
            raise _SlackError("invalid_arguments")
        if element.get("type") not in {"plain_text_input", "users_select", "static_select"}:
            raise _SlackError("invalid_arguments")
        if element.get("type") == "plain_text_input" and int(element.get("max_length") or 0) > PLAIN_TEXT_INPUT_MAX:
            raise _SlackError("invalid_arguments")
        if not element.get("action_id") or not block.get("block_id"):
            raise _SlackError("invalid_arguments")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benchmarks open hundreds of connections at once; 5 would drop SYNs

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is not the fake's error; anything else is printed."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms per answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the calls are recorded on the fake instead."""

    def do_GET(self) -> None:
        """GET /api/<method>."""
        self._handle()

    def do_POST(self) -> None:
        """POST /api/<method> or /response/<id>."""
        self._handle()

    def _read_body(self) -> tuple[dict[str, Any], Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not raw:
            return {}, None
        if kind == "application/json":
            parsed = json.loads(raw)
            return (parsed if isinstance(parsed, dict) else {}), parsed
        if kind == "application/x-www-form-urlencoded":
            return dict(parse_qsl(raw.decode(), keep_blank_values=True)), None
        return {}, None

    def _handle(self) -> None:
        fake = self.fake
        if fake.latency:
            time.sleep(fake.latency)
        url = urlsplit(self.path)
        if url.path.startswith("/upload/"):
            length = int(self.headers.get("Content-Length") or 0)
            status, text = fake._upload(url.path.removeprefix("/upload/"), self.rfile.read(length) if length else b"")
            self._send(status, text.encode(), "text/plain")
            return
        try:
            body_args, body_json = self._read_body()
        except (ValueError, UnicodeDecodeError):
            self._send_json(200, {"ok": False, "error": "invalid_json"})
            return
        if url.path == "/openid/connect/authorize":
            status, headers, payload = fake._authorize(dict(parse_qsl(url.query, keep_blank_values=True)))
            self._send(status, payload, "text/plain", headers)
            return
        if url.path == "/openid/connect/keys":
            self._send_json(200, fake._jwks())
            return
        if url.path == "/.well-known/openid-configuration":
            self._send_json(200, fake._discovery())
            return
        if url.path.startswith("/response/"):
            status, text = fake._post_response(url.path.removeprefix("/response/"), body_json or {})
            self._send(status, text.encode(), "text/html")
            return
        if not url.path.startswith("/api/"):
            self._send(404, b"not found", "text/plain")
            return
        method = url.path.removeprefix("/api/")
        args: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
        args.update(body_args)
        with fake._lock:
            fake.calls.append((method, dict(args)))
        fault = fake._take_fault(method)
        if fault is not None and not fault.after and self._send_fault(fault):
            return
        wait = fake._over_limit(method, args)
        if wait is not None:
            self._send_json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(math.ceil(wait))})
            return
        try:
            if method in OIDC_METHODS:
                answer = fake._openid(method, args, self.headers.get("Authorization"))
            else:
                answer = fake._dispatch(method, args, self.headers.get("Authorization"))
        except _SlackError as exc:
            answer = {"ok": False, "error": exc.error, **exc.extra}
        if answer.get("ok") and fake.on_performed is not None:
            fake.on_performed(method, args)
        if fault is not None and fault.after and self._send_fault(fault):
            return
        self._send_json(200, answer)

    def _send_fault(self, fault: _Fault) -> bool:
        if fault.hang:
            time.sleep(fault.hang)
        if fault.disconnect:
            self.close_connection = True
            self.connection.close()
            return True
        if fault.status == HTTPStatus.TOO_MANY_REQUESTS:
            headers = {"Retry-After": str(int(fault.retry_after or 1))}
            self._send_json(429, {"ok": False, "error": "ratelimited"}, headers)
            return True
        if fault.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            self._send(fault.status, b"<html><body>Internal Server Error</body></html>", "text/html")
            return True
        self._send_json(fault.status, {"ok": False, "error": fault.error or "fatal_error"})
        return True

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    def _send(self, status: int, payload: bytes, content_type: str,
              headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

