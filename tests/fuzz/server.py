"""The bot as a real HTTP server on loopback for the fuzz suites: uvicorn in a thread, relay running,
PagerDuty = the fake PagerDuty, chat record-only, Slack app verifying with the test signing secret."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bot.adapters.pagerduty_pager import PagerDutyPager
from bot.adapters.recording import RecordingChat
from bot.app import Adapters, NoTracebacks, build_adapters, create_app
from bot.settings import Settings
from tests.fakes.fixtures import ROUTING_KEY, SLACK_TOKEN
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET
from tests.support.app import test_settings


@dataclass
class FuzzBot:
    """A running bot and a client bound to it."""

    url: str
    client: httpx.Client
    settings: Settings

    def wait_settled(self, timeout: float = 60.0, lanes: tuple[str, ...] = ("pager",)) -> list[dict[str, Any]]:
        """Wait until no incident has a pending step in `lanes`; returns every incident with its steps."""
        deadline = time.monotonic() + timeout
        while True:
            summaries = self.client.get("/api/incidents", params={"limit": 1000}).json()["incidents"]
            details = [self.client.get(f"/api/incidents/{s['id']}").json() for s in summaries]
            pending = [step for d in details for step in d["steps"]
                       if step["lane"] in lanes and step["status"] == "pending"]
            if not pending or time.monotonic() > deadline:
                return details
            time.sleep(0.2)


@contextmanager
def running_server(database_url: str, cert: Path, tmp_path: Path, *, pagerduty: FakePagerDuty,
                   slack: FakeSlack, chat_to_slack: bool = False) -> Iterator[FuzzBot]:
    """Serve the bot on a free loopback port until the block ends; chat is record-only unless `chat_to_slack`."""
    overrides: dict[str, Any] = {"slack_signing_secret": SIGNING_SECRET, "slack_bot_token": SLACK_TOKEN,
                                 "slack_api_url": slack.api_url, "pagerduty_routing_key": ROUTING_KEY,
                                 "pagerduty_events_url": pagerduty.events_url}
    settings = test_settings(database_url, cert, tmp_path, **overrides)
    built = build_adapters(settings)
    pager = PagerDutyPager(ROUTING_KEY, base_url=pagerduty.events_url, ssl_context=pagerduty.client_context())
    chat = built.chat if chat_to_slack else RecordingChat()
    adapters = Adapters(chat=chat, pager=pager, logs=built.logs, record_only=not chat_to_slack)
    app = NoTracebacks(create_app(settings, adapters=adapters, run_relay=True))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="fuzz-bot", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the bot did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield FuzzBot(url=url, client=client, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
