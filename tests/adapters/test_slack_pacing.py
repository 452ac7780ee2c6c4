"""Slack rate limits paced, not discovered: the token buckets, and SlackChat against the fake that enforces them."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.adapters.slack_chat import SlackChat
from bot.adapters.slack_pacing import SlackPacer, TokenBucket
from bot.incidents.ports import Message
from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_lets_a_burst_through_then_spaces_calls() -> None:
    """Three at once, then one a second, in arrival order; a 429 holds everyone back for Retry-After."""
    ticks = Ticks()
    bucket = TokenBucket(1.0, 3, clock=ticks)
    assert [bucket.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    ticks.now += 10  # idle: the burst is back
    assert bucket.reserve() == 0.0
    bucket.hold(5)
    assert bucket.reserve() == pytest.approx(5.0)


def test_pacer_shares_one_bucket_per_channel_under_its_name_and_id() -> None:
    """Posts to `#alerts` and to its id count against the same per-channel limit."""
    pacer = SlackPacer(post_burst=1)
    assert pacer.channel("alerts").reserve() == 0.0
    pacer.alias("alerts", "C0001")
    assert pacer.channel("C0001").reserve() > 0.5
    assert pacer.method("conversations.create") is not None and pacer.method("chat.postMessage") is None


@pytest.mark.slow
async def test_fake_refuses_unpaced_posts_and_paced_ones_all_pass(fake_slack: FakeSlack) -> None:
    """The fake answers 429 to a client that posts as fast as it can in one channel; the paced adapter gets
    none, posting about one message a second after a short burst."""
    unpaced = SlackChat(SLACK_TOKEN, base_url=fake_slack.api_url, max_retries=0,
                        pacer=SlackPacer(posts_per_second=1000, post_burst=1000))
    results = await asyncio.gather(*(unpaced.post("alerts", Message(text=f"m{i}"), key=f"u{i}") for i in range(8)),
                                   return_exceptions=True)
    assert fake_slack.rate_limited and any(isinstance(r, Exception) for r in results)

    fake_slack.reset()
    fake_slack.add_channel("alerts")
    paced = SlackChat(SLACK_TOKEN, base_url=fake_slack.api_url, max_retries=0)
    started = time.monotonic()
    await asyncio.gather(*(paced.post("#alerts", Message(text=f"m{i}"), key=f"p{i}") for i in range(6)))
    assert fake_slack.rate_limited == []
    assert len(fake_slack.messages("alerts")) == 6
    assert time.monotonic() - started >= 2.5  # burst of 3, then one a second


@pytest.mark.slow
async def test_tier_two_methods_are_paced(fake_slack: FakeSlack) -> None:
    """conversations.create is Tier 2 (20 a minute): six channels at once get no 429."""
    paced = SlackChat(SLACK_TOKEN, base_url=fake_slack.api_url, max_retries=0)
    await asyncio.gather(*(paced.create_channel(f"inc-pace-{i}") for i in range(6)))
    assert fake_slack.rate_limited == []
    assert len(fake_slack.channel_names()) == 7
