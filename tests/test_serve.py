"""`incident-bot serve` as a real process: migrates by itself, takes signed alarms over HTTP, logs JSON lines only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.sns.signing import SnsSigner
from tests.support.alarms import CRITICAL_TOPIC, metric_alarm
from tests.support.serving import start_serve, wait_ready

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(database_url: str, cert: Path, log: Path) -> Iterator[str]:
    """Run `incident-bot serve` on a free port until the block ends; yields its base URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_", "SNS_"))}
    env.update(DATABASE_URL=database_url, SNS_SIGNING_CERT_FILE=str(cert), SNS_TOPIC_ARNS=CRITICAL_TOPIC,
               LOG_FORMAT="json", LOCAL_LOGS=str(log.parent / "none" / "*.jsonl"))
    base = f"http://127.0.0.1:{port}"
    process = start_serve(port, env, log)
    try:
        wait_ready(base, process, log)
        yield base
    finally:
        process.terminate()
        process.wait(20)


def test_serve_end_to_end_over_http(tmp_path: Path, database_url: str,
                                    sns_identity: tuple[SnsSigner, Path]) -> None:
    """A fresh database is migrated at start; a signed alarm over real HTTP becomes an incident; logs are JSON."""
    signer, cert = sns_identity
    log = tmp_path / "serve.log"
    with serve(database_url, cert, log) as base:
        envelope = signer.notification(topic_arn=CRITICAL_TOPIC, message=json.dumps(metric_alarm()))
        answer = httpx.post(f"{base}/sns", content=json.dumps(envelope),
                            headers={"content-type": "text/plain; charset=UTF-8"})
        assert answer.status_code == 200, answer.text
        assert httpx.post(f"{base}/sns", content=b"\x00garbage").status_code == 400
        [incident] = httpx.get(f"{base}/api/incidents").json()["incidents"]
        assert incident["alarm_name"] == "orders-pipeline-DLQSpike"
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert "Traceback" not in log.read_text()
    received = [r for r in records if r.get("message") == "alarm_received"]
    assert received and received[0]["alarm_name"] == "orders-pipeline-DLQSpike"
    assert {"timestamp", "level", "logger", "sns_message_id", "incident_id"} <= received[0].keys()
    assert any(r.get("message") == "sns_rejected" and r.get("reason") for r in records)


def test_two_replicas_share_one_database(tmp_path: Path, database_url: str,
                                         sns_identity: tuple[SnsSigner, Path]) -> None:
    """Two servers on one database: SNS redelivering to the other replica is a duplicate, not a second incident."""
    signer, cert = sns_identity
    with (
        serve(database_url, cert, tmp_path / "a.log") as first,
        serve(database_url, cert, tmp_path / "b.log") as second,
    ):
        envelope = signer.notification(topic_arn=CRITICAL_TOPIC, message=json.dumps(metric_alarm()))
        body = json.dumps(envelope)
        answers = [httpx.post(f"{base}/sns", content=body) for base in (first, second)]
        assert sorted(a.json()["outcome"] for a in answers) == ["duplicate", "opened"]
        assert len(httpx.get(f"{second}/api/incidents").json()["incidents"]) == 1


def test_unusable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A database that does not answer stops `serve` before it binds, with one line and no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_", "SNS_"))}
    env["DATABASE_URL"] = "postgresql+psycopg://nobody:secret@127.0.0.1:1/nothing"
    done = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", str(_free_port())], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert "is not usable" in done.stderr and "secret" not in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
