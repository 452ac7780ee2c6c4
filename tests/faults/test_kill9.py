"""The fault suite: `incident-bot serve` killed with SIGKILL at random moments of incidents' side effects (one
replica on SQLite, two on PostgreSQL), and a Slack that performs calls and then answers 500, drops the
connection or times out. Afterwards every channel, post, bookmark, invitation and page exists exactly once, and
a restarted replica resumes within 10 s. Seeded (`FAULT_SEED`), several rounds each."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from bot.sns.signing import SnsSigner
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.faults.harness import (
    CRITICAL_ALARMS,
    RESUME_WITHIN,
    Cluster,
    Replica,
    assert_exactly_once,
    running,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
SEED = int(os.environ.get("FAULT_SEED", "14"))
ROUNDS = int(os.environ.get("FAULT_ROUNDS", "3"))
ALARMS_PER_ROUND = 3


def _kill_round(cluster: Cluster, rng: random.Random, alarms: list[str], round_no: int) -> None:
    """Deliver `alarms`, kill a replica at a random moment of their side effects, restart it, check."""
    victim: Replica = rng.choice(cluster.replicas)
    by_calls = round_no % 2 == 0
    killed = threading.Event()
    if by_calls:  # right after Slack performed the n-th call, before the bot hears the answer
        killed = cluster.kill_after_calls(victim, rng.randint(1, 8 * len(alarms)))
    incident_ids: list[int] = []
    delivering = threading.Thread(target=lambda: incident_ids.extend(cluster.deliver(a) for a in alarms))
    delivering.start()
    if not by_calls:  # anywhere: intake, a database write, between two calls
        time.sleep(rng.uniform(0.0, 2.5))
        victim.kill()
        killed.set()
    killed.wait(timeout=60)
    victim.kill()  # reaped (and killed now if the calls ran out before the n-th)
    time.sleep(rng.uniform(0.0, 0.5))
    ready = victim.start()
    delivering.join(60)
    assert len(incident_ids) == len(alarms)
    pending = cluster.pending(incident_ids)
    cluster.wait_settled(incident_ids)
    if pending:
        resumed = cluster.calls_since(ready)
        assert resumed and min(resumed) - ready < RESUME_WITHIN, (
            f"work resumed {min(resumed) - ready if resumed else 'never':} s after the restart")
    assert_exactly_once(cluster, incident_ids)


def _fresh(slack: FakeSlack, pagerduty: FakePagerDuty) -> None:
    from tests.fakes.fixtures import _seed_slack

    _seed_slack(slack)
    pagerduty.reset()


def test_kill9_at_random_moments_on_sqlite(tmp_path: Path, sns_identity: tuple[SnsSigner, Path],
                                           fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty) -> None:
    """One replica on SQLite, killed ROUNDS times at random moments: every side effect exactly once."""
    signer, cert = sns_identity
    rng = random.Random(SEED)
    for round_no in range(ROUNDS):
        _fresh(fake_slack, fake_pagerduty)
        alarms = rng.sample(CRITICAL_ALARMS, ALARMS_PER_ROUND)
        cluster = Cluster(database_url=f"sqlite:///{tmp_path / f'round{round_no}.db'}", cert=cert, signer=signer,
                          slack=fake_slack, pagerduty=fake_pagerduty, workdir=tmp_path)
        with running(cluster):
            _kill_round(cluster, rng, alarms, round_no)


@pytest.mark.postgres
def test_kill9_one_of_two_replicas_on_postgresql(tmp_path: Path, sns_identity: tuple[SnsSigner, Path],
                                                 postgres_server: str, fake_slack: FakeSlack,
                                                 fake_pagerduty: FakePagerDuty) -> None:
    """Two replicas sharing PostgreSQL, one of them killed each round: every side effect exactly once."""
    from tests.conftest import _reset_postgres

    signer, cert = sns_identity
    rng = random.Random(SEED + 1)
    for round_no in range(ROUNDS):
        _fresh(fake_slack, fake_pagerduty)
        _reset_postgres(postgres_server)
        alarms = rng.sample(CRITICAL_ALARMS, ALARMS_PER_ROUND)
        cluster = Cluster(database_url=postgres_server, cert=cert, signer=signer, slack=fake_slack,
                          pagerduty=fake_pagerduty, workdir=tmp_path, replicas=2)
        with running(cluster):
            _kill_round(cluster, rng, alarms, round_no)


def test_slack_performs_then_fails(tmp_path: Path, sns_identity: tuple[SnsSigner, Path], fake_slack: FakeSlack,
                                   fake_pagerduty: FakePagerDuty) -> None:
    """Slack performs creates, posts and bookmarks and then answers 500, drops the connection or outlasts the
    bot's timeout (SLACK_TIMEOUT 3 s): nothing is doubled, nothing is lost."""
    signer, cert = sns_identity
    rng = random.Random(SEED + 2)
    for round_no in range(2):
        _fresh(fake_slack, fake_pagerduty)
        for method in ("conversations.create", "chat.postMessage", "bookmarks.add"):
            for _ in range(rng.randint(1, 3)):
                kind = rng.choice(["500", "drop", "timeout"])
                fake_slack.fail_next(method, status=500, after=True, disconnect=kind == "drop",
                                     hang=4.0 if kind == "timeout" else 0.0)
        alarms = rng.sample(CRITICAL_ALARMS, 2)
        cluster = Cluster(database_url=f"sqlite:///{tmp_path / f'ambiguous{round_no}.db'}", cert=cert,
                          signer=signer, slack=fake_slack, pagerduty=fake_pagerduty, workdir=tmp_path)
        with running(cluster):
            incident_ids = [cluster.deliver(alarm) for alarm in alarms]
            cluster.wait_settled(incident_ids)
            assert_exactly_once(cluster, incident_ids)
