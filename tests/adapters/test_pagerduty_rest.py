"""The PagerDuty REST adapter against the fake (TLS, test CA): user emails, and failures mapped onto ours."""

from __future__ import annotations

import pytest

from bot.adapters.pagerduty_rest import PagerDutyRest
from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from tests.fakes.pagerduty_api import API_TOKEN, FakePagerDuty


async def test_email_of_a_known_and_an_unknown_user(fake_pagerduty: FakePagerDuty) -> None:
    """A user's email comes from GET /users/{id} (once per process); an unknown user is None, not an error."""
    fake_pagerduty.add_user("PALICE1", "Alice Oncall", "alice@example.com")
    rest = PagerDutyRest(API_TOKEN, base_url=fake_pagerduty.api_url)
    try:
        assert await rest.email("PALICE1") == "alice@example.com"
        assert await rest.email("PALICE1") == "alice@example.com"
        assert await rest.email("PNOBODY") is None
    finally:
        rest.close()
    assert fake_pagerduty.rest_requests.count(("GET", "/users/PALICE1")) == 1


async def test_refusal_is_permanent_and_outage_transient(fake_pagerduty: FakePagerDuty) -> None:
    """A bad token is a permanent failure; a 503 (after the client's bounded retries) a transient one."""
    rest = PagerDutyRest("wrong-token", base_url=fake_pagerduty.api_url, max_retries=1)
    with pytest.raises(PermanentDeliveryError, match="HTTP 401"):
        await rest.email("PALICE1")
    rest.close()
    fake_pagerduty.fail_next(status=503, times=5)
    rest = PagerDutyRest(API_TOKEN, base_url=fake_pagerduty.api_url, max_retries=1, backoff=0.02)
    with pytest.raises(TransientDeliveryError):
        await rest.email("PALICE1")
    rest.close()


def test_plain_http_base_url_is_a_config_error() -> None:
    """The client only talks https; a plain-http PAGERDUTY_API_URL stops start-up with one line."""
    with pytest.raises(ConfigError, match="PAGERDUTY_API_URL"):
        PagerDutyRest(API_TOKEN, base_url="http://127.0.0.1:9")
