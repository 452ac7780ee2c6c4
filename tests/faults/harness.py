"""The fault suite's tools: `incident-bot serve` as real processes on the fakes, killed with SIGKILL at chosen
moments, and the checks that every side effect of every incident exists exactly once.

`Cluster` runs one or more replicas on one database, all pointed at the fake Slack and the fake PagerDuty of the
test; `kill_after_calls` arms the fake Slack to SIGKILL a replica right after it performed its N-th mutating
call and before it answers (the bot never learns the call happened). `assert_exactly_once` reads the incidents
API and the fakes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.sns.signing import SnsSigner
from tests.fakes.fixtures import ROUTING_KEY, SLACK_TOKEN
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.support.alarms import CRITICAL_TOPIC, metric_alarm
from tests.support.serving import start_serve, wait_ready

CRITICAL_ALARMS = ("DLQSpike", "CheckpointFailure", "KafkaBrokerDown", "FirehoseDeliveryFailed",
                   "InvariantViolated", "PipelineStalled")
MUTATING = frozenset({"conversations.create", "chat.postMessage", "bookmarks.add", "conversations.invite",
                      "conversations.setTopic", "conversations.setPurpose"})
POSTING_STEPS = frozenset({"post", "post_alert", "post_runbook", "run_query", "post_postmortem"})
READY_TIMEOUT = 60.0
SETTLE_TIMEOUT = 90.0
RESUME_WITHIN = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    """One `incident-bot serve` process; `kill()` is SIGKILL, `start()` brings it back on the same port."""

    name: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running process id (0 when not running)."""
        return self.process.pid if self.process is not None and self.process.poll() is None else 0

    def start(self) -> float:
        """Start and wait for /readyz; returns when it became ready (monotonic)."""
        self.process = start_serve(self.port, self.env, self.log)
        return wait_ready(self.url, self.process, self.log, timeout=READY_TIMEOUT, poll=0.05, name=self.name)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    """Replicas sharing one database, wired to the fakes."""

    def __init__(self, *, database_url: str, cert: Path, signer: SnsSigner, slack: FakeSlack,
                 pagerduty: FakePagerDuty, workdir: Path, replicas: int = 1, **settings: str) -> None:
        self.signer, self.slack, self.pagerduty = signer, slack, pagerduty
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_", "SNS_"))}
        env.update(DATABASE_URL=database_url, SNS_SIGNING_CERT_FILE=str(cert), SNS_TOPIC_ARNS=CRITICAL_TOPIC,
                   LOG_FORMAT="json", LOG_LEVEL="INFO", LOCAL_LOGS=str(workdir / "none" / "*.jsonl"),
                   SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_API_URL=slack.api_url, SLACK_TIMEOUT="3s",
                   SLACK_RESPONDERS_CRITICAL="U00ALICE01", PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
                   PAGERDUTY_EVENTS_URL=pagerduty.events_url, SSL_CERT_FILE=str(pagerduty.ca_file),
                   ACK_TIMEOUT="1h", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        env.update(settings)
        self.replicas = [Replica(f"r{i}", dict(env), workdir / f"r{i}.log") for i in range(replicas)]
        self._lock = threading.Lock()
        self.mutating_calls = 0
        self.calls_at: list[float] = []  # when each Slack call and PagerDuty event arrived (monotonic)
        slack.on_performed = self._performed

    def start(self) -> None:
        """Start every replica."""
        for replica in self.replicas:
            replica.start()

    def stop(self) -> None:
        """Stop every replica."""
        self.slack.on_performed = None
        for replica in self.replicas:
            replica.stop()

    # -- faults --------------------------------------------------------------------------------------------

    def kill_after_calls(self, replica: Replica, n: int) -> threading.Event:
        """SIGKILL `replica` right after Slack performed the n-th mutating call from now, before it answers."""
        killed = threading.Event()
        with self._lock:
            self._kill_at, self._kill_target, self._killed = self.mutating_calls + n, replica, killed
        return killed

    def _performed(self, method: str, args: dict[str, Any]) -> None:
        with self._lock:
            self.calls_at.append(time.monotonic())
            if method not in MUTATING:
                return
            self.mutating_calls += 1
            target = getattr(self, "_kill_target", None)
            if target is not None and self.mutating_calls >= self._kill_at:
                self._kill_target = None
                if target.pid:
                    os.kill(target.pid, signal.SIGKILL)
                self._killed.set()

    # -- traffic -------------------------------------------------------------------------------------------

    def deliver(self, alarm: str) -> int:
        """Deliver one signed CRITICAL ALARM as SNS would: to any live replica, again until one answers 2xx."""
        envelope = self.signer.notification(topic_arn=CRITICAL_TOPIC, message=json.dumps(
            metric_alarm(f"orders-pipeline-{alarm}")))
        body = json.dumps(envelope)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for replica in self.replicas:
                if not replica.pid:
                    continue
                with suppress(httpx.HTTPError):
                    answer = httpx.post(f"{replica.url}/sns", content=body, timeout=10)
                    if answer.status_code == 200:
                        return int(answer.json()["incident_id"])
            time.sleep(0.1)
        raise AssertionError(f"no replica accepted {alarm}")

    def api(self, path: str) -> Any:
        """GET an incidents API path from any live replica."""
        for replica in self.replicas:
            if replica.pid:
                with suppress(httpx.HTTPError):
                    answer = httpx.get(f"{replica.url}{path}", timeout=10)
                    if answer.status_code == 200:
                        return answer.json()
        raise AssertionError(f"no replica answered {path}")

    def settled(self, incident_ids: list[int]) -> bool:
        """True when no step of the chat and pager lanes of these incidents is pending any more."""
        for incident_id in incident_ids:
            detail = self.api(f"/api/incidents/{incident_id}")
            if any(s["status"] == "pending" and s["lane"] != "reminder" for s in detail["steps"]):
                return False
        return True

    def wait_settled(self, incident_ids: list[int], timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until `settled`."""
        deadline = time.monotonic() + timeout
        while not self.settled(incident_ids):
            assert time.monotonic() < deadline, f"outbox not settled: {self.pending(incident_ids)}"
            time.sleep(0.2)

    def pending(self, incident_ids: list[int]) -> list[dict[str, Any]]:
        """The pending chat and pager steps (for failure messages)."""
        return [s for i in incident_ids for s in self.api(f"/api/incidents/{i}")["steps"]
                if s["status"] == "pending" and s["lane"] != "reminder"]

    def calls_since(self, moment: float) -> list[float]:
        """Slack calls performed and PagerDuty events received after `moment`."""
        with self._lock:
            slack = [t for t in self.calls_at if t >= moment]
        return slack + [t for t in self.pagerduty.arrivals() if t >= moment]


def assert_exactly_once(cluster: Cluster, incident_ids: list[int]) -> None:
    """Every channel, post, bookmark, invitation and page of these incidents exists once, and nothing else."""
    slack, pagerduty = cluster.slack, cluster.pagerduty
    details = [cluster.api(f"/api/incidents/{i}") for i in incident_ids]
    channels = [name for name in slack.channel_names() if name != "alerts"]
    assert sorted(channels) == sorted(d["channel"] for d in details), "one channel per incident, no orphan"
    keys: Counter[str] = Counter()
    for name in ["alerts", *channels]:
        for message in slack.messages(name):
            key = ((message.get("metadata") or {}).get("event_payload") or {}).get("key")
            assert key, f"a message without a key in #{name}: {message.get('text', '')[:80]}"
            keys[key] += 1
    duplicates = {k: n for k, n in keys.items() if n > 1}
    assert not duplicates, f"posted more than once: {duplicates}"
    for detail in details:
        for step in detail["steps"]:
            assert step["status"] == "done" or step["lane"] == "reminder", f"not done: {step}"
            if step["kind"] in POSTING_STEPS:
                assert keys[f"incident-bot:{step['id']}"] == 1, f"step {step} not posted exactly once"
        bookmarks = [(b["title"], b["link"]) for b in slack.bookmarks(detail["channel"])]
        expected = sum(1 for s in detail["steps"] if s["kind"] == "bookmark")
        assert len(bookmarks) == len(set(bookmarks)) == expected, f"bookmarks of #{detail['channel']}: {bookmarks}"
        assert "U00ALICE01" in slack.members(detail["channel"])
        dedup_key = f"incident-bot/{detail['id']}"
        opened = [i for i in pagerduty.incidents if i.dedup_key == dedup_key]
        assert len(opened) == 1, f"PagerDuty incidents for {dedup_key}: {len(opened)}"


@contextmanager
def running(cluster: Cluster) -> Iterator[Cluster]:
    """Start the cluster; stop it (and disarm the fake) whatever happens."""
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def page_latencies(cluster: Cluster, alarms: list[str], *, spacing: float, timeout: float = 30.0) -> list[float]:
    """Deliver `alarms` one every `spacing` seconds; for each, seconds from sending the alarm to PagerDuty
    receiving its trigger."""
    sent: dict[str, float] = {}
    for alarm in alarms:
        started = time.monotonic()
        incident_id = cluster.deliver(alarm)
        sent[f"incident-bot/{incident_id}"] = started
        time.sleep(max(0.0, spacing - (time.monotonic() - started)))
    deadline = time.monotonic() + timeout
    while True:
        with cluster.pagerduty._lock:
            arrived = {e["dedup_key"]: t for e, t in zip(cluster.pagerduty.events, cluster.pagerduty.event_times,
                                                          strict=True) if e["event_action"] == "trigger"}
        if all(key in arrived for key in sent) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return [arrived.get(key, float("inf")) - started for key, started in sent.items()]
