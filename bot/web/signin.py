"""Sign in with Slack (OpenID Connect, through Authlib) and the session cookie that remembers it.

`/login` sends the browser to `SLACK_OIDC_URL/openid/connect/authorize` with a fresh state and nonce (kept in the
signed session cookie); `/login/callback` checks the state, trades the code at the Web API's
`openid.connect.token` (repeating the redirect URI), verifies the ID token's signature against
`SLACK_OIDC_URL/openid/connect/keys`, its issuer (`https://slack.com`, whatever host served the keys), audience,
expiry and nonce, and admits members of `SLACK_TEAM_ID` only. `/logout` forgets the session.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import JoseError

from bot.settings import Settings
from bot.web.csrf import csrf_ok, csrf_token
from bot.web.render import render_error

log = structlog.get_logger("incident_bot.web")

# Authlib talks HTTP through httpx2 when it is installed (pagerduty brings it), else through httpx.
try:
    import httpx2

    HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover - depends on what else is installed
    HTTP_ERRORS = (httpx.HTTPError,)

ISSUER = "https://slack.com"
TEAM_CLAIM = "https://slack.com/team_id"
USER_CLAIM = "https://slack.com/user_id"
SCOPES = "openid profile email"
CALLBACK_PATH = "/login/callback"

router = APIRouter(include_in_schema=False)


def build_client(settings: Settings) -> Any:
    """The Authlib client for Slack's OpenID Connect endpoints (None when sign-in is not configured)."""
    if not settings.sign_in_configured:
        return None
    oauth = OAuth()
    return oauth.register(
        "slack",
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        authorize_url=f"{settings.slack_oidc_url}/openid/connect/authorize",
        access_token_url=settings.slack_api_url.rstrip("/") + "/openid.connect.token",
        userinfo_endpoint=settings.slack_api_url.rstrip("/") + "/openid.connect.userInfo",
        jwks_uri=f"{settings.slack_oidc_url}/openid/connect/keys",
        issuer=ISSUER,
        id_token_signing_alg_values_supported=["RS256"],
        client_kwargs={"scope": SCOPES, "token_endpoint_auth_method": "client_secret_post", "timeout": 10},
    )


def redirect_uri(settings: Settings) -> str:
    """The callback URL registered in the Slack app (manifest `redirect_urls`)."""
    return settings.public_url.rstrip("/") + CALLBACK_PATH


@router.get("/login")
async def login(request: Request, next: str = "/") -> Response:
    """Start signing in with Slack."""
    client = request.app.state.web.oidc
    if client is None:
        return render_error(request, 404, "Sign-in with Slack is not configured on this bot (SLACK_CLIENT_ID).")
    # Only a path on this site: "//host" and "/\\host" would send the browser elsewhere after sign-in.
    local = next.startswith("/") and not next.startswith(("//", "/\\")) and "\n" not in next
    request.session["next"] = next if local else "/"
    settings: Settings = request.app.state.settings
    response: Response = await client.authorize_redirect(request, redirect_uri(settings), team=settings.slack_team_id)
    return response


@router.get(CALLBACK_PATH)
async def callback(request: Request) -> Response:
    """Slack sends the browser back here with a code (or an error)."""
    client = request.app.state.web.oidc
    settings: Settings = request.app.state.settings
    if client is None:
        return render_error(request, 404, "Sign-in with Slack is not configured on this bot (SLACK_CLIENT_ID).")
    try:
        token = await client.authorize_access_token(request)
    except (OAuthError, JoseError, ValueError) as exc:
        reason = getattr(exc, "description", None) or getattr(exc, "error", None) or type(exc).__name__
        log.warning("sign_in_failed", reason=str(reason)[:200])
        return render_error(request, 400, f"Sign-in with Slack failed: {str(reason)[:200]}. Try again.")
    except HTTP_ERRORS as exc:
        log.warning("sign_in_failed", reason=f"Slack unreachable: {type(exc).__name__}")
        return render_error(request, 502, "Slack did not answer the sign-in; try again in a moment.")
    claims = token.get("userinfo")
    if not claims:
        log.warning("sign_in_failed", reason="no ID token")
        return render_error(request, 400, "Sign-in with Slack failed: Slack sent no ID token. Try again.")
    if claims.get(TEAM_CLAIM) != settings.slack_team_id:
        log.warning("sign_in_refused", reason="foreign workspace", team=str(claims.get(TEAM_CLAIM))[:32])
        return render_error(request, 403, "This Slack workspace is not the one incident-bot serves.")
    user_id = str(claims.get(USER_CLAIM) or claims.get("sub") or "")
    target = request.session.get("next") or "/"
    # A new session on sign-in: nothing chosen before it (a planted cookie) carries over.
    request.session.clear()
    request.session["user"] = {"id": user_id, "team": settings.slack_team_id,
                               "name": str(claims.get("name") or claims.get("email") or user_id)[:100]}
    csrf_token(request)
    log.info("signed_in", user=user_id)
    return RedirectResponse(str(target), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Forget the session (CSRF-checked, so another site cannot sign people out)."""
    form = await request.form()
    if request.session and not csrf_ok(request, form.get("csrf")):
        return render_error(request, 403, "This form has expired; reload the page and try again.")
    request.session.clear()
    return RedirectResponse("/signed-out", status_code=303)
