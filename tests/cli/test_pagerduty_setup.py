"""`incident-bot pagerduty setup` against the fake PagerDuty REST API (TLS trusted through SSL_CERT_FILE)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.incidents.pagerduty_events import EVENT_TYPES
from tests.fakes.pagerduty_api import API_TOKEN, FakePagerDuty

ENDPOINT = "https://bot.example.com/pagerduty/webhook"


@pytest.fixture
def cli(fake_pagerduty: FakePagerDuty, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose PAGERDUTY_API_URL and PAGERDUTY_API_TOKEN point at the fake."""
    monkeypatch.setenv("PAGERDUTY_API_URL", fake_pagerduty.api_url)
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", API_TOKEN)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return CliRunner()


def setup(cli: CliRunner, *extra: str, service: str = "PF9KMXH") -> tuple[int, str]:
    result = cli.invoke(app, ["pagerduty", "setup", "--endpoint", ENDPOINT, "--service", service, *extra])
    return result.exit_code, result.output


def test_setup_creates_the_subscription_and_prints_its_secret(cli: CliRunner, fake_pagerduty: FakePagerDuty) -> None:
    """The first run creates a V3 subscription for the service with the bot's events and prints the secret."""
    code, output = setup(cli)
    assert code == 0, output
    [subscription] = fake_pagerduty.subscriptions
    assert subscription["delivery_method"]["url"] == ENDPOINT
    assert subscription["filter"] == {"type": "service_reference", "id": "PF9KMXH"}
    assert set(subscription["events"]) == set(EVENT_TYPES)
    assert {"incident.acknowledged", "incident.unacknowledged", "incident.resolved", "incident.reassigned",
            "incident.escalated", "incident.responder.added", "incident.annotated"} <= set(EVENT_TYPES)
    assert subscription["delivery_method"]["secret"] in output.splitlines()


def test_setup_is_idempotent_and_updates_a_drifted_subscription(
    cli: CliRunner, fake_pagerduty: FakePagerDuty
) -> None:
    """A second run changes nothing; after someone trimmed the events in PagerDuty, a run puts them back."""
    assert setup(cli)[0] == 0
    code, output = setup(cli)
    assert code == 0 and "up to date" in output
    assert len(fake_pagerduty.subscriptions) == 1
    fake_pagerduty.subscriptions[0]["events"] = ["incident.triggered"]
    code, output = setup(cli)
    assert code == 0 and "updated webhook subscription PSUB001" in output, output
    assert set(fake_pagerduty.subscriptions[0]["events"]) == set(EVENT_TYPES)
    assert len(fake_pagerduty.subscriptions) == 1
    assert [m for m, _ in fake_pagerduty.rest_requests].count("POST") == 1


def test_another_service_gets_its_own_subscription(cli: CliRunner, fake_pagerduty: FakePagerDuty) -> None:
    """The same endpoint for a second service is a second subscription, not an update of the first."""
    assert setup(cli)[0] == 0
    assert setup(cli, service="PSECOND")[0] == 0
    assert [s["filter"]["id"] for s in fake_pagerduty.subscriptions] == ["PF9KMXH", "PSECOND"]


def test_dry_run_prints_the_request_and_sends_nothing(cli: CliRunner, fake_pagerduty: FakePagerDuty) -> None:
    """--dry-run prints the POST it would send; nothing is created."""
    code, output = setup(cli, "--dry-run")
    assert code == 0, output
    request = json.loads(output)
    assert request["method"] == "POST" and request["url"].endswith("/webhook_subscriptions")
    assert request["body"]["webhook_subscription"]["delivery_method"]["url"] == ENDPOINT
    assert fake_pagerduty.subscriptions == []


def test_refusals_are_one_line(cli: CliRunner, fake_pagerduty: FakePagerDuty,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad token, a plain-http endpoint or no token at all end with one error line and exit 1."""
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "wrong")
    code, output = setup(cli)
    assert code == 1 and "HTTP 401" in output and len(output.strip().splitlines()) == 1
    result = cli.invoke(app, ["pagerduty", "setup", "--endpoint", "http://bot/pagerduty/webhook",
                              "--service", "PF9KMXH"])
    assert result.exit_code == 1 and "https://HOST/pagerduty/webhook" in result.output
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "")
    code, output = setup(cli)
    assert code == 1 and "PAGERDUTY_API_TOKEN" in output
    assert fake_pagerduty.subscriptions == []
