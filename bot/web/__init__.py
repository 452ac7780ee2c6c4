"""The web view: sign in with Slack, the incident pages, and the guard that keeps every route behind a credential.

    access.py   who may read what (session, bearer token, loopback), security headers
    signin.py   Sign in with Slack (OpenID Connect via Authlib), logout
    csrf.py     the forms' CSRF tokens
    pages.py    the routes: list, incident, review, stats
    views.py    what each page shows, read from the database
    present.py  times, durations, query tables, Markdown
    charts.py   SVG geometry for the stats page
    commands.py what the page buttons do (the one door to the domain)

`install_web` wires it into the FastAPI app; `bot/app.py` calls it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from bot.settings import Settings
from bot.web import pages, signin
from bot.web.access import AccessGuard

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "incident_bot_session"
SESSION_MAX_AGE = 7 * 24 * 3600  # a week: on-call rotations are weekly


@dataclass(frozen=True, slots=True)
class WebState:
    """What the web routes need beyond the app's state: the OpenID client (None without sign-in)."""

    oidc: Any


def install_web(app: FastAPI, settings: Settings) -> None:
    """Add the pages, sign-in routes, static files, the access guard and the session cookie to `app`."""
    app.state.web = WebState(oidc=signin.build_client(settings))
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(AccessGuard, settings=settings)
    # Added last, so it runs first: the guard reads the session it decodes. Without a configured secret (no
    # sign-in: the loopback demo) sessions only carry CSRF tokens, and a per-process secret is enough.
    app.add_middleware(
        SessionMiddleware, secret_key=settings.web_session_secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE, same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
