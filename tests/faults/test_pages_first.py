"""Pages first: with Slack slow (8 s a call), rate limiting everything (429, Retry-After: 30) or down, the page
of every CRITICAL alarm reaches PagerDuty within 2 s of the alarm (`bench/pages.py` measures the same at scale)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.sns.signing import SnsSigner
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.faults.harness import Cluster, page_latencies, running

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
GOAL = 2.0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("slack_trouble", ["slow", "rate_limited", "down"])
def test_pages_go_out_within_2_s_whatever_slack_does(
        slack_trouble: str, tmp_path: Path, sns_identity: tuple[SnsSigner, Path], fake_slack: FakeSlack,
        fake_pagerduty: FakePagerDuty) -> None:
    """Eight CRITICAL alarms, one every 0.4 s, while Slack is in trouble: every trigger within 2 s."""
    signer, cert = sns_identity
    extra = {}
    if slack_trouble == "slow":
        fake_slack.latency = 8.0
    elif slack_trouble == "rate_limited":
        fake_slack.fail_next("*", status=429, retry_after=30, times=100_000)
    cluster = Cluster(database_url=f"sqlite:///{tmp_path / 'pages.db'}", cert=cert, signer=signer,
                      slack=fake_slack, pagerduty=fake_pagerduty, workdir=tmp_path,
                      UNKNOWN_ALARM_SEVERITY="CRITICAL", **extra)
    if slack_trouble == "down":
        for replica in cluster.replicas:
            replica.env["SLACK_API_URL"] = f"http://127.0.0.1:{_closed_port()}/api/"
    with running(cluster):
        latencies = page_latencies(cluster, [f"PagesFirst{slack_trouble}{i}" for i in range(8)], spacing=0.4)
    assert max(latencies) < GOAL, f"alarm → page (s): {[round(x, 2) for x in latencies]}"
