"""The bot under test: a real app (lifespan, migrations, relay) behind an HTTP client, with signed SNS delivery."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from bot.clock import Clock
from bot.settings import Settings
from bot.sns.signing import SnsSigner
from tests.support.alarms import CRITICAL_TOPIC, HIGH_TOPIC

if TYPE_CHECKING:
    from bot.app import Adapters


@dataclass
class Bot:
    """A running bot and the means to talk to it like SNS and a browser would."""

    app: FastAPI
    client: httpx.AsyncClient
    signer: SnsSigner

    async def deliver(self, body: dict[str, Any] | str, *, message_id: str | None = None, version: str = "2",
                      topic: str = CRITICAL_TOPIC, subject: str | None = None) -> httpx.Response:
        """POST one signed SNS notification carrying `body` (an alarm dict or a raw message)."""
        message = body if isinstance(body, str) else json.dumps(body)
        envelope = self.signer.notification(topic_arn=topic, message=message, subject=subject,
                                            message_id=message_id or str(uuid.uuid4()), version=version)
        return await self.post_raw(json.dumps(envelope, indent=2).encode())

    async def post_raw(self, content: bytes, **headers: str) -> httpx.Response:
        """POST bytes to /sns as SNS does (text/plain)."""
        return await self.client.post("/sns", content=content,
                                      headers={"content-type": "text/plain; charset=UTF-8", **headers})

    async def drain(self, timeout: float = 30.0) -> None:
        """Perform every due side effect now."""
        await self.app.state.relay.drain(timeout=timeout)

    async def settle(self, timeout: float = 30.0, horizon: float = 15.0) -> None:
        """Drain until no step is pending that is due within `horizon` seconds (retries included)."""
        import asyncio
        from datetime import timedelta

        from bot.incidents import repository

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.drain(timeout=timeout)
            soon = self.app.state.clock() + timedelta(seconds=horizon)
            if not await self.app.state.db.run(lambda session, soon=soon: repository.pending_before(session, soon)):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("outbox did not settle")

    async def incidents(self) -> list[dict[str, Any]]:
        """GET /api/incidents."""
        answer = await self.client.get("/api/incidents")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["incidents"])

    async def incident(self, incident_id: int) -> dict[str, Any]:
        """GET /api/incidents/{id}."""
        answer = await self.client.get(f"/api/incidents/{incident_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def test_settings(database_url: str, cert: Path, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a bot under test: no .env, this run's certificate, our two topics, local logs under tmp."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "sns_signing_cert_file": cert,
        "sns_topic_arns": [CRITICAL_TOPIC, HIGH_TOPIC],
        "local_logs": str(tmp_path / "logs" / "*.jsonl"),
        "slack_bot_token": "",
        "slack_signing_secret": "",
        "pagerduty_routing_key": "",
        "slack_responders_critical": [],
        "slack_responders_high": [],
        "logs_backend": "local",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_bot(settings: Settings, signer: SnsSigner, *, adapters: Adapters | None = None,
                      run_relay: bool = False, http_transport: httpx.AsyncBaseTransport | None = None,
                      clock: Clock | None = None) -> AsyncIterator[Bot]:
    """Start the app's lifespan and yield a client bound to it in-process (on `clock` when given)."""
    from bot.app import NoTracebacks, create_app

    app = create_app(settings, adapters=adapters, run_relay=run_relay, http_transport=http_transport,
                     **({"clock": clock} if clock else {}))
    async with app.router.lifespan_context(app):
        # A loopback client, said explicitly: with neither sign-in nor API_TOKENS configured the bot answers only
        # loopback clients (bot/web/access.py); tests of other addresses use their own transport.
        transport = httpx.ASGITransport(app=NoTracebacks(app), client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            yield Bot(app=app, client=client, signer=signer)


BotFactory = Callable[..., AbstractAsyncContextManager[Bot]]


@pytest.fixture
def make_bot(database_url: str, sns_identity: tuple[SnsSigner, Path], tmp_path: Path) -> BotFactory:
    """`async with make_bot(**settings) as bot:` — a bot on this test's database."""
    signer, cert = sns_identity

    def factory(*, adapters: Adapters | None = None, run_relay: bool = False,
                http_transport: httpx.AsyncBaseTransport | None = None, clock: Clock | None = None,
                **overrides: Any) -> AbstractAsyncContextManager[Bot]:
        return running_bot(test_settings(database_url, cert, tmp_path, **overrides), signer,
                           adapters=adapters, run_relay=run_relay, http_transport=http_transport, clock=clock)

    return factory
