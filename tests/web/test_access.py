"""Nothing readable without a credential: the guard, bearer tokens, loopback, /metrics, and Sign in with Slack."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.support.alarms import metric_alarm
from tests.support.app import Bot, BotFactory
from tests.web.conftest import CLIENT_ID, SESSION_SECRET, client_for, sign_in

WebBot = Callable[..., AbstractAsyncContextManager[Bot]]
PAGES = ["/", "/incidents/1", "/incidents/1/review", "/incidents/1/review.md", "/stats"]


def api_paths(bot: Bot) -> list[str]:
    """Every route under /api (as the OpenAPI schema lists them), with an incident id filled in."""
    paths = [path for path in bot.app.openapi()["paths"] if path.startswith("/api/")]
    paths += ["/api/openapi.json", "/api/docs", "/api/not-a-route"]
    return sorted({p.replace("{incident_id}", "1") for p in paths})


async def test_every_api_route_and_page_refuses_a_remote_client_without_credential(web_bot: WebBot) -> None:
    """Without a credential /api/* answers 401 with one line and pages redirect to sign-in."""
    async with web_bot() as bot, client_for(bot) as remote:
        paths = api_paths(bot)
        assert {"/api/incidents", "/api/incidents/1", "/api/incidents/1/postmortem", "/api/openapi.json"} <= set(paths)
        for path in paths:
            answer = await remote.get(path)
            assert answer.status_code == 401, path
            assert set(answer.json()) == {"error"} and "\n" not in answer.json()["error"]
        for path in PAGES:
            answer = await remote.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=")
        refused = await remote.post("/incidents/1/acknowledge", data={"csrf": "x"})
        assert refused.status_code == 401 and set(refused.json()) == {"error"}


async def test_loopback_needs_a_credential_once_sign_in_is_configured(web_bot: WebBot) -> None:
    """A client on 127.0.0.1 gets no free pass when sign-in (with or without tokens) is configured."""
    for tokens in ([], ["t"]):
        async with web_bot(api_tokens=tokens) as bot, client_for(bot, client=("127.0.0.1", 40000)) as local:
            assert (await local.get("/api/incidents")).status_code == 401
            assert (await local.get("/")).status_code == 303


async def test_bearer_token_from_api_tokens_opens_the_api(web_bot: WebBot, caplog: pytest.LogCaptureFixture,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`API_TOKENS=a,b`: `Bearer a` and `Bearer b` work, anything else is 401; tokens never reach the logs."""
    caplog.set_level(logging.DEBUG)
    async with web_bot(api_tokens=["first-token-aaaa", "second-token-bbbb"]) as bot, client_for(bot) as remote:
        await bot.deliver(metric_alarm())
        for token in ("first-token-aaaa", "second-token-bbbb"):
            answer = await remote.get("/api/incidents", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200 and len(answer.json()["incidents"]) == 1
        for header in ("Bearer wrong-token", "Bearer first-token-aaa", "Basic Zm9vOmJhcg==", "Bearer "):
            answer = await remote.get("/api/incidents", headers={"Authorization": header})
            assert answer.status_code == 401, header
        page = await remote.get("/", headers={"Authorization": "Bearer first-token-aaaa"})
        assert page.status_code == 200
    logged = caplog.text + capsys.readouterr().out
    assert "first-token-aaaa" not in logged and "wrong-token" not in logged


async def test_api_tokens_alone_also_close_loopback(make_bot: BotFactory) -> None:
    """With only API_TOKENS set, loopback clients need the token too."""
    async with make_bot(api_tokens=["a"]) as bot:
        assert (await bot.client.get("/api/incidents")).status_code == 401
        ok = await bot.client.get("/api/incidents", headers={"Authorization": "Bearer a"})
        assert ok.status_code == 200


async def test_without_sign_in_or_tokens_only_loopback_is_answered(make_bot: BotFactory,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The embedded demo: loopback reads everything; a remote client, a proxied request and "testclient" do not;
    start-up says so once."""
    async with make_bot() as bot:
        # structlog prints to stdout until a CLI test routes it through stdlib logging for the whole process.
        said = capsys.readouterr().out + "".join(r.getMessage() for r in caplog.records)
        assert said.count("web_loopback_only") == 1
        assert (await bot.client.get("/api/incidents")).status_code == 200
        assert (await bot.client.get("/")).status_code == 200
        proxied = await bot.client.get("/api/incidents", headers={"X-Forwarded-For": "198.51.100.1"})
        assert proxied.status_code == 401
        for client in [("203.0.113.7", 1), ("testclient", 50000)]:
            async with client_for(bot, client=client) as other:
                answer = await other.get("/api/incidents")
                assert answer.status_code == 401
                assert "loopback" in answer.json()["error"]
                assert (await other.get("/")).status_code == 401
        async with client_for(bot, client=("::1", 1)) as ipv6:
            assert (await ipv6.get("/api/incidents")).status_code == 200


async def test_health_is_open_and_metrics_only_to_loopback_or_when_public(make_bot: BotFactory) -> None:
    """/healthz and /readyz answer anyone; /metrics answers loopback, a token, or anyone with METRICS_PUBLIC."""
    async with make_bot(api_tokens=["t"]) as bot, client_for(bot) as remote:
        assert (await remote.get("/healthz")).status_code == 200
        assert (await remote.get("/readyz")).status_code == 200
        assert (await remote.get("/metrics")).status_code == 401
        assert (await bot.client.get("/metrics")).status_code == 200
        assert (await remote.get("/metrics", headers={"Authorization": "Bearer t"})).status_code == 200
    async with make_bot(api_tokens=["t"], metrics_public=True) as bot, client_for(bot) as remote:
        assert (await remote.get("/metrics")).status_code == 200


async def test_sign_in_with_slack_opens_pages_and_api(web_bot: WebBot, fake_slack: FakeSlack) -> None:
    """The OpenID dance: state and nonce go out, a code comes back, the ID token is checked, a session begins."""
    async with web_bot() as bot, client_for(bot) as browser:
        await bot.deliver(metric_alarm())
        start = await browser.get("/login", params={"next": "/stats"})
        authorize = start.headers["location"]
        assert authorize.startswith(f"{fake_slack.oidc_url}/openid/connect/authorize?")
        for part in ("response_type=code", f"client_id={CLIENT_ID}", "state=", "nonce=", "team=T0001",
                     "scope=openid+profile+email", "redirect_uri=http%3A%2F%2Fbot.test%2Flogin%2Fcallback"):
            assert part in authorize
        done = await sign_in(browser, "/stats")
        assert done.status_code == 303 and done.headers["location"] == "/stats"
        for elsewhere in ("//evil.example/", "/\\evil.example", "https://evil.example/"):
            again = await sign_in(browser, elsewhere)
            assert again.headers["location"] == "/", elsewhere
        cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie")
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
        assert SESSION_SECRET not in cookie
        page = await browser.get("/")
        assert page.status_code == 200 and "Alice Oncall" in page.text and "DLQ" in page.text
        assert (await browser.get("/api/incidents")).status_code == 200
        token_call = fake_slack.calls_to("openid.connect.token")[-1]
        assert token_call["redirect_uri"] == "http://bot.test/login/callback" and token_call["code"]


async def test_session_cookie_is_secure_when_public_url_is_https(web_bot: WebBot) -> None:
    """Behind https the session cookie carries Secure."""
    async with web_bot(public_url="https://bot.test") as bot, client_for(bot, base_url="https://bot.test") as browser:
        done = await sign_in(browser)
        cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie")
        assert "secure" in cookie.lower()
        assert (await browser.get("/")).status_code == 200


async def test_a_member_of_another_workspace_is_refused(web_bot: WebBot, fake_slack: FakeSlack) -> None:
    """Only SLACK_TEAM_ID members get a session."""
    fake_slack.sign_in_as("U00ALICE01", team_id="T0OTHER")
    async with web_bot() as bot, client_for(bot) as browser:
        done = await sign_in(browser)
        assert done.status_code == 403 and "not the one incident-bot serves" in done.text
        assert (await browser.get("/api/incidents")).status_code == 401


async def test_a_forged_issuer_or_a_replayed_state_is_refused(web_bot: WebBot, fake_slack: FakeSlack) -> None:
    """An ID token from another issuer fails; a callback whose state this browser never started fails."""
    async with web_bot() as bot, client_for(bot) as browser:
        fake_slack.id_token_claims = {"iss": "https://evil.example"}
        assert (await sign_in(browser)).status_code == 400
        fake_slack.id_token_claims = {}
        assert (await browser.get("/api/incidents")).status_code == 401
        async with client_for(bot) as stranger:
            answer = await stranger.get("/login/callback", params={"code": "code-1", "state": "made-up"})
            assert answer.status_code == 400
            assert (await stranger.get("/api/incidents")).status_code == 401


async def test_logout_needs_the_form_token_and_ends_the_session(web_bot: WebBot) -> None:
    """Sign out is a CSRF-checked POST; afterwards pages redirect to sign-in again."""
    async with web_bot() as bot, client_for(bot) as browser:
        await sign_in(browser)
        assert (await browser.post("/logout", data={"csrf": "forged"})).status_code == 403
        assert (await browser.get("/")).status_code == 200
        page = (await browser.get("/")).text
        token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        out = await browser.post("/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/signed-out"
        assert (await browser.get("/")).status_code == 303


def test_sign_in_settings_must_be_complete() -> None:
    """SLACK_CLIENT_ID without the secret, team or session secret stops start-up with one line."""
    from bot.errors import ConfigError
    from bot.settings import load_settings

    with pytest.raises(ConfigError, match="SLACK_CLIENT_SECRET, SLACK_TEAM_ID, WEB_SESSION_SECRET"):
        load_settings(_env_file=None, slack_client_id="x")
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings(_env_file=None, web_session_secret="short")


async def test_slack_refusing_or_dropping_the_code_exchange_is_a_clear_page(web_bot: WebBot,
                                                                             fake_slack: FakeSlack) -> None:
    """`ok: false` from openid.connect.token is a 400 page, a dropped connection a 502; no session either way."""
    async with web_bot() as bot, client_for(bot) as browser:
        fake_slack.fail_next("openid.connect.token", status=200, error="invalid_code")
        refused = await sign_in(browser)
        assert refused.status_code == 400 and "invalid_code" in refused.text
        fake_slack.fail_next("openid.connect.token", disconnect=True)
        dropped = await sign_in(browser)
        assert dropped.status_code == 502 and "Slack did not answer" in dropped.text
        assert (await browser.get("/api/incidents")).status_code == 401
