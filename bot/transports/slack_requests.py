"""What `POST /slack/events` checks before Bolt sees a request: a well-formed signature, then a well-formed body.

Bolt parses a body before it checks the signature and trusts the payload's shape, so a signed but malformed
payload (`payload=` empty, `[]`, 1000-deep JSON, `"actions": []`) would fail inside Bolt. Here, in order: a
timestamp that is not a number, or a bad or stale signature, gets 401; a body that is not UTF-8, not strict JSON
(`bot.strict_json`), not an object, or whose context fields (user, channel, team, actions…) are not what Slack
sends gets 400 with one line. What passes is exactly what Bolt's extractors and our listeners can read.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from slack_sdk.signature import SignatureVerifier

from bot import strict_json
from bot.errors import BadInput, VerificationFailed

SLACK_JSON_DEPTH = 32  # rich-text message blocks nest about 10 levels
MAX_SKEW = 5 * 60  # Slack's own rule: refuse requests signed more than 5 minutes away from now


# Slack ids are about a dozen characters; the database keeps who acknowledged in 64.
SlackId = Annotated[str, StringConstraints(max_length=64)]


class _Ref(BaseModel):
    """A user, channel, team or enterprise given as an object: its id, when present, is a string."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: SlackId | None = None


Ref = SlackId | _Ref | None


class _Action(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    action_id: str
    value: str | None = None
    block_id: str | None = None
    type: str | None = None


class SlackPayload(BaseModel):
    """The fields of a Slack request body that Bolt's context extractors and our listeners read."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: str | None = None
    user: Ref = None
    channel: Ref = None
    team: Ref = None
    enterprise: Ref = None
    user_id: SlackId | None = None
    channel_id: SlackId | None = None
    team_id: SlackId | None = None
    enterprise_id: SlackId | None = None
    command: str | None = None
    text: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    actions: list[_Action] | None = Field(default=None, min_length=1)
    authorizations: list[dict[str, Any]] | None = None
    container: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    # Bolt looks for the user and channel inside these too.
    event: SlackPayload | None = None
    message: SlackPayload | None = None
    previous_message: SlackPayload | None = None
    item: SlackPayload | None = None
    assistant_thread: SlackPayload | None = None


def authenticate(*, body: bytes, timestamp: str | None, signature: str | None, secret: str,
                 now: float | None = None) -> None:
    """Raise VerificationFailed (401) unless the request carries a fresh, valid Slack signature."""
    if not timestamp or not signature:
        raise VerificationFailed("missing Slack signature headers")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise VerificationFailed("X-Slack-Request-Timestamp is not a number")
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_SKEW:
        raise VerificationFailed("stale Slack request")
    if not SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature):
        raise VerificationFailed("invalid Slack signature")


def check_body(body: bytes, content_type: str | None) -> None:
    """Raise BadInput (400) with one line when a signed body is not a payload Slack would send."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("body is not UTF-8") from None
    if not text:
        return  # Bolt answers an empty body itself
    data: Any
    # Slack never sends a NUL character, and PostgreSQL refuses one in any text (e.g. an incident's title).
    if content_type == "application/json" or text.startswith("{"):
        data = strict_json.loads(text, what="body", max_depth=SLACK_JSON_DEPTH, nul=False)
    else:
        form = dict(parse_qsl(text, keep_blank_values=True))
        if any("\x00" in key or "\x00" in value for key, value in form.items()):
            raise BadInput("body contains a NUL character")
        if "payload" not in form:
            data = form  # a slash command: form fields, all strings
        else:
            data = strict_json.loads(form["payload"], what="payload", max_depth=SLACK_JSON_DEPTH, nul=False)
    if not isinstance(data, dict):
        raise BadInput("payload must be a JSON object")
    try:
        payload = SlackPayload.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        raise BadInput(" ".join(f"payload field {where}: {error['msg']}".split())[:200]) from None
    if payload.type == "block_actions":
        if not payload.actions:
            raise BadInput("payload field actions: a block_actions payload needs at least one action")
        if isinstance(payload.user, str):
            raise BadInput("payload field user: a block_actions payload names its user as an object")
    if payload.response_url is not None and not _is_web_url(payload.response_url):
        raise BadInput("payload field response_url: not an http(s) URL")


def _is_web_url(url: str) -> bool:
    """Where Bolt may post a reply: an http(s) URL with a host (Slack's are https://hooks.slack.com/...)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    printable = url.isascii() and url.isprintable() and " " not in url
    return parts.scheme in ("https", "http") and bool(parts.hostname) and printable
