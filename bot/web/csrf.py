"""CSRF tokens for the web view's forms: one random token per session, sent back in a hidden `csrf` field.

The session cookie is `SameSite=Lax` already; the token also covers the loopback demo, where no sign-in stands
between another site's form and the bot.
"""

from __future__ import annotations

import secrets

from fastapi import Request


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, presented: object) -> bool:
    """True when the form's token is this session's."""
    expected = request.session.get("csrf")
    return isinstance(expected, str) and isinstance(presented, str) and secrets.compare_digest(expected, presented)
