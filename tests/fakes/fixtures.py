"""Pytest fixtures that start the fake Slack and PagerDuty servers.

Each server starts once per test session (a TLS CA and a socket are not free) and is reset before every test,
so tests see a clean workspace and none of each other's calls. The function-scoped fixtures also point the
environment at the fakes (`SLACK_API_URL`, `SLACK_BOT_TOKEN`, `PAGERDUTY_EVENTS_URL`, `PAGERDUTY_ROUTING_KEY`,
`SSL_CERT_FILE`), so code that reads settings from the environment talks to them without more set-up.

To extend: add known users or channels in `_seed_slack`; add a fixture per new fake below.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack

SLACK_TOKEN = "xoxb-test-token"
ROUTING_KEY = "R0UT1NGKEY0123456789ABCDEF012345"  # 32 characters, as PagerDuty requires
SLACK_USERS = (
    ("U00ALICE01", "alice", "alice@example.com", "Alice Oncall"),
    ("U00BOB0001", "bob", "bob@example.com", "Bob Builder"),
    ("W00CAROL01", "carol", "carol@example.com", "Carol Enterprise"),
)


def _seed_slack(fake: FakeSlack) -> None:
    fake.reset()
    for user_id, name, email, real_name in SLACK_USERS:
        fake.add_user(user_id, name, email, real_name)
    fake.add_channel("alerts")


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[FakeSlack]:
    """The fake Slack Web API server, one per session; prefer `fake_slack`, which resets it."""
    fake = FakeSlack(token=SLACK_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_slack(fake_slack_server: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    """A clean fake Slack workspace: token `xoxb-test-token`, users alice/bob/carol, channel `#alerts`."""
    _seed_slack(fake_slack_server)
    monkeypatch.setenv("SLACK_API_URL", fake_slack_server.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    return fake_slack_server


@pytest.fixture(scope="session")
def fake_pagerduty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePagerDuty]:
    """The fake PagerDuty Events API over TLS, one per session; prefer `fake_pagerduty`, which resets it."""
    fake = FakePagerDuty(tmp_path_factory.mktemp("fake-pagerduty")).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_pagerduty(fake_pagerduty_server: FakePagerDuty, monkeypatch: pytest.MonkeyPatch) -> FakePagerDuty:
    """A clean fake PagerDuty whose test CA is trusted through `SSL_CERT_FILE` for this test."""
    fake_pagerduty_server.reset()
    monkeypatch.setenv("SSL_CERT_FILE", str(fake_pagerduty_server.ca_file))
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", fake_pagerduty_server.events_url)
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    return fake_pagerduty_server
