"""Jinja2 for the pages: autoescaping on, one environment, every page given who is signed in and a CSRF token.

Templates live in `bot/web/templates/`; anything from outside (alarm text, log lines, what people type) reaches
them as plain strings and is escaped. Only `present.markdown` returns markup, with raw HTML disabled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from bot.web import present
from bot.web.csrf import csrf_token

TEMPLATES = Path(__file__).resolve().parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(when=present.when, minutes=present.minutes_text, ago=present.ago)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` with `context`, plus `principal`, `csrf` and `sign_in` for the layout."""
    principal = getattr(request.state, "principal", None)
    page = _env.get_template(template).render(
        principal=principal, csrf=csrf_token(request), sign_in=request.app.state.web.oidc is not None,
        flash=request.session.pop("flash", None), **context,
    )
    return HTMLResponse(page, status_code=status, headers={"cache-control": "no-store"})


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """A one-line error page."""
    return render(request, "error.html", status=status, message=message)
