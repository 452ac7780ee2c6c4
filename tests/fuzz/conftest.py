"""Fixtures of the fuzz suites: the bot served on loopback, with log capture around it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.sns.signing import SnsSigner
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.fuzz.server import FuzzBot, running_server


@pytest.fixture
def captured() -> Iterator[list[dict[str, Any]]]:
    """Every structlog event of the test (from any thread)."""
    with capture_logs() as logs:
        yield logs


@pytest.fixture
def fuzz_bot(database_url: str, sns_identity: tuple[SnsSigner, Path], tmp_path: Path,
             fake_pagerduty: FakePagerDuty, fake_slack: FakeSlack, captured: list[dict[str, Any]],
             caplog: pytest.LogCaptureFixture) -> Iterator[FuzzBot]:
    """The bot on a real port, paging the fake PagerDuty (no rate limit: the fuzz pages hundreds of times) and
    posting to the fake Slack, both enforcing their vendor's rules."""
    fake_pagerduty.rate_limit_per_minute = 1_000_000
    caplog.set_level(logging.WARNING)
    with running_server(database_url, sns_identity[1], tmp_path, pagerduty=fake_pagerduty, slack=fake_slack,
                        chat_to_slack=True) as bot:
        yield bot


def errors_in(captured: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Error-level lines from structlog and the standard logging module."""
    found = [f"{e.get('event')}: {e}" for e in captured if e.get("log_level") in ("error", "critical")]
    found += [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    return found
