"""PagerDutyPager against the fake Events API v2 over TLS (a test CA, verification on); UnconfiguredPager."""

from __future__ import annotations

import os
import ssl

import httpx
import pytest

from bot.adapters.pagerduty_pager import PagerDutyPager, fit_dedup_key
from bot.adapters.recording import UnconfiguredPager
from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from bot.incidents.ports import PageEvent
from tests.fakes.fixtures import ROUTING_KEY
from tests.fakes.pagerduty_api import FakePagerDuty


@pytest.fixture
def pager(fake_pagerduty: FakePagerDuty) -> PagerDutyPager:
    """A pager on the fake, trusting its CA through SSL_CERT_FILE, with short retry sleeps."""
    return PagerDutyPager(ROUTING_KEY, base_url=fake_pagerduty.events_url, max_retries=2, backoff=0.01)


def _trigger(key: str = "orders-pipeline-kafka-lag", **overrides: object) -> PageEvent:
    fields: dict[str, object] = {
        "action": "trigger",
        "dedup_key": key,
        "summary": "CRITICAL orders-pipeline-kafka-lag: consumer lag 250000 > 100000",
        "severity": "critical",
        "source": "orders-pipeline",
        "component": "kafka-source",
        "custom_details": {"metric": "records_lag_max", "value": 250000},
        "links": [{"href": "https://runbooks.example.com/kafka-lag", "text": "Runbook"}],
    }
    fields.update(overrides)
    return PageEvent(**fields)  # type: ignore[arg-type]


async def test_trigger_acknowledge_resolve_reach_pagerduty(
    pager: PagerDutyPager, fake_pagerduty: FakePagerDuty
) -> None:
    """A trigger opens an incident with our summary and details; acknowledge and resolve move it along."""
    key = await pager.send(_trigger())

    incident = fake_pagerduty.incident(key)
    assert incident is not None
    assert incident.status == "triggered"
    assert incident.summary.startswith("CRITICAL orders-pipeline-kafka-lag")
    sent = fake_pagerduty.events[0]
    assert sent["payload"]["component"] == "kafka-source"
    assert sent["payload"]["custom_details"] == {"metric": "records_lag_max", "value": 250000}
    assert sent["links"] == [{"href": "https://runbooks.example.com/kafka-lag", "text": "Runbook"}]

    await pager.send(PageEvent(action="acknowledge", dedup_key=key))
    assert incident.status == "acknowledged"
    await pager.send(PageEvent(action="resolve", dedup_key=key))
    assert incident.status == "resolved"
    assert [e["event_action"] for e in fake_pagerduty.events] == ["trigger", "acknowledge", "resolve"]
    assert pager.configured is True


async def test_duplicate_trigger_stays_one_incident(
    pager: PagerDutyPager, fake_pagerduty: FakePagerDuty
) -> None:
    """Sending the same trigger twice (a retry) leaves one open incident."""
    first = await pager.send(_trigger("dup-1"))
    second = await pager.send(_trigger("dup-1"))

    assert first == second == "dup-1"
    assert len(fake_pagerduty.open_incidents()) == 1
    assert len(fake_pagerduty.events) == 2


async def test_long_summary_and_dedup_key_are_fitted(
    pager: PagerDutyPager, fake_pagerduty: FakePagerDuty
) -> None:
    """A 2,000-character summary is cut to 1,024 and a 300-character key shortened the same way every time."""
    long_key = "k" * 300

    key = await pager.send(_trigger(long_key, summary="s" * 2000))
    await pager.send(PageEvent(action="resolve", dedup_key=long_key))

    assert key == fit_dedup_key(long_key)
    assert len(key) == 255
    incident = fake_pagerduty.incident(key)
    assert incident is not None
    assert len(incident.summary) == 1024
    assert incident.status == "resolved"


async def test_domain_severities_map_to_pagerduty_ones(
    pager: PagerDutyPager, fake_pagerduty: FakePagerDuty
) -> None:
    """HIGH and LOW become PagerDuty's error and info; an empty source becomes incident-bot."""
    await pager.send(_trigger("sev-high", severity="HIGH", source=""))
    await pager.send(_trigger("sev-low", severity="LOW"))

    assert [e["payload"]["severity"] for e in fake_pagerduty.events] == ["error", "info"]
    assert fake_pagerduty.events[0]["payload"]["source"] == "incident-bot"


async def test_refused_event_is_permanent(fake_pagerduty: FakePagerDuty) -> None:
    """A 400 (here a routing key of the wrong length) fails permanently and names PagerDuty's complaint."""
    pager = PagerDutyPager("too-short", base_url=fake_pagerduty.events_url, backoff=0.01)

    with pytest.raises(PermanentDeliveryError) as refused:
        await pager.send(_trigger())

    assert "routing_key" in str(refused.value)
    assert fake_pagerduty.incidents == []


async def test_server_error_storm_is_transient(pager: PagerDutyPager, fake_pagerduty: FakePagerDuty) -> None:
    """5xx on every attempt is retried a bounded number of times, then raised as TransientDeliveryError."""
    fake_pagerduty.fail_next(status=503, times=50)

    with pytest.raises(TransientDeliveryError):
        await pager.send(_trigger())

    assert fake_pagerduty.requests == 3
    assert fake_pagerduty.incidents == []


async def test_one_server_error_is_retried(pager: PagerDutyPager, fake_pagerduty: FakePagerDuty) -> None:
    """A single 500 is retried by the client and the trigger lands."""
    fake_pagerduty.fail_next(status=500)

    key = await pager.send(_trigger("after-500"))

    assert fake_pagerduty.incident(key) is not None


async def test_throttling_is_bounded_and_transient(
    pager: PagerDutyPager, fake_pagerduty: FakePagerDuty
) -> None:
    """429s are not retried forever: after the bounded retries the event is transient with Retry-After."""
    fake_pagerduty.fail_next(status=429, times=50, retry_after=20)

    with pytest.raises(TransientDeliveryError) as throttled:
        await pager.send(_trigger())

    assert throttled.value.retry_after == 20
    assert fake_pagerduty.requests == 3


async def test_rate_limit_of_120_events_a_minute(
    pager: PagerDutyPager, fake_pagerduty: FakePagerDuty
) -> None:
    """The fake throttles a routing key past its per-minute budget, and the pager reports it as transient."""
    fake_pagerduty.rate_limit_per_minute = 3
    for n in range(3):
        await pager.send(_trigger(f"burst-{n}"))

    with pytest.raises(TransientDeliveryError):
        await pager.send(_trigger("burst-3"))

    assert len(fake_pagerduty.incidents) == 3


async def test_unknown_action_is_permanent(pager: PagerDutyPager, fake_pagerduty: FakePagerDuty) -> None:
    """An action PagerDuty does not know is refused before anything is sent."""
    with pytest.raises(PermanentDeliveryError):
        await pager.send(PageEvent(action="snooze", dedup_key="k"))

    assert fake_pagerduty.requests == 0


async def test_explicit_ssl_context_works_without_ssl_cert_file(
    fake_pagerduty: FakePagerDuty, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CA can also be given as an SSL context instead of through SSL_CERT_FILE."""
    monkeypatch.delenv("SSL_CERT_FILE")
    pager = PagerDutyPager(ROUTING_KEY, base_url=fake_pagerduty.events_url, backoff=0.01,
                           ssl_context=fake_pagerduty.client_context())

    assert await pager.send(_trigger("explicit-ca")) == "explicit-ca"


async def test_untrusted_certificate_is_refused(
    fake_pagerduty: FakePagerDuty, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the test CA trusted, TLS verification fails and nothing reaches the fake."""
    monkeypatch.delenv("SSL_CERT_FILE")
    pager = PagerDutyPager(ROUTING_KEY, base_url=fake_pagerduty.events_url, max_retries=1, backoff=0.01,
                           ssl_context=ssl.create_default_context())

    with pytest.raises(PermanentDeliveryError) as refused:
        await pager.send(_trigger())

    assert "TLS" in str(refused.value)
    assert fake_pagerduty.requests == 0


def test_plain_http_base_url_is_refused() -> None:
    """The official client accepts only https base URLs; plain http stops start-up with a ConfigError."""
    with pytest.raises(ConfigError, match="PAGERDUTY_EVENTS_URL"):
        PagerDutyPager(ROUTING_KEY, base_url="http://127.0.0.1:1")


def test_fake_validates_events_like_pagerduty(fake_pagerduty: FakePagerDuty) -> None:
    """The fake answers 400 with PagerDuty's error list for a missing source, bad severity, long summary."""
    assert os.environ["SSL_CERT_FILE"] == str(fake_pagerduty.ca_file)
    bad = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "d" * 256,
        "payload": {"summary": "s" * 1025, "severity": "fatal"},
    }

    with httpx.Client(verify=fake_pagerduty.client_context()) as client:
        answer = client.post(f"{fake_pagerduty.events_url}/v2/enqueue", json=bad)
        good = client.post(f"{fake_pagerduty.events_url}/v2/enqueue", json={
            "routing_key": ROUTING_KEY, "event_action": "trigger",
            "payload": {"summary": "s", "severity": "info", "source": "test"},
        })

    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert len(answer.json()["errors"]) == 4
    assert good.status_code == 202
    assert good.json()["status"] == "success"
    assert len(good.json()["dedup_key"]) == 32


async def test_unconfigured_pager_sends_nothing() -> None:
    """Without a routing key, the pager says it is not configured and returns the dedup key unsent."""
    pager = UnconfiguredPager()

    assert pager.configured is False
    assert await pager.send(_trigger("offline-1")) == "offline-1"
    assert [e.dedup_key for e in pager.events] == ["offline-1"]
