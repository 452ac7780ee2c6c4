"""The web view in a real browser: headless Chromium (Debian's) driven by Playwright, against `incident-bot serve`.

A responder signs in with Slack (the fake Slack's OpenID provider), finds the incident in the list, opens it,
acknowledges it (the incident channel in the fake Slack hears it, as with the Slack button), writes the review
and finds it in the post-incident report. Alarm text carrying HTML and script runs nothing.
Set WEB_SCREENSHOTS=DIR to save screenshots of the list and the incident page (the README's come from here).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sns.signing import SnsSigner
from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SIGNING_SECRET
from tests.slack.logs import log_line, write_logs
from tests.support.alarms import CRITICAL_TOPIC, HIGH_TOPIC, metric_alarm
from tests.support.serving import start_serve, wait_ready
from tests.web.conftest import CLIENT_ID, CLIENT_SECRET, SESSION_SECRET, TEAM_ID

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = ('DLQ above 100 <img src=x onerror="window.__xss=1;alert(1)">'
           '<script>window.__xss=2;alert(2)</script>')


def _chromium() -> Path:
    if not CHROMIUM.exists():
        reason = "Debian's chromium is not installed (make browser, or apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveBot:
    """`incident-bot serve` on a free port, and a way to send it signed alarms."""

    base: str
    signer: SnsSigner

    def deliver(self, body: dict[str, Any], topic: str = CRITICAL_TOPIC) -> None:
        """POST one signed SNS notification."""
        envelope = self.signer.notification(topic_arn=topic, message=json.dumps(body))
        answer = httpx.post(f"{self.base}/sns", content=json.dumps(envelope),
                            headers={"content-type": "text/plain; charset=UTF-8"})
        assert answer.status_code == 200, answer.text


@contextmanager
def _serve(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    process = start_serve(port, env, log)
    try:
        wait_ready(base, process, log)
        yield base
    finally:
        process.terminate()
        process.wait(20)


@pytest.fixture
def live_bot(tmp_path: Path, fake_slack: FakeSlack, sns_identity: tuple[SnsSigner, Path]) -> Iterator[LiveBot]:
    """The bot as deployed: sign-in with the fake Slack, posting to it, log queries over a small log file."""
    signer, cert = sns_identity
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    fake_slack.add_oidc_client(CLIENT_ID, CLIENT_SECRET, f"{base}/login/callback")
    fake_slack.sign_in_as("U00ALICE01")
    logs = tmp_path / "logs"
    logs.mkdir()
    now = datetime.now(UTC)
    write_logs(logs, [log_line(now - timedelta(minutes=2, seconds=n), order_id=f"ORD-{n:05d}", operator="validate",
                               status="error", error_type="parse_error" if n % 4 else "schema_mismatch", dlq=True)
                      for n in range(40)])
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "PAGERDUTY_", "SNS_", "API_TOKENS", "WEB_", "METRICS_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", SNS_SIGNING_CERT_FILE=str(cert),
               SNS_TOPIC_ARNS=f"{CRITICAL_TOPIC},{HIGH_TOPIC}", LOCAL_LOGS=str(logs / "*.jsonl"), PUBLIC_URL=base,
               SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url,
               SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET, SLACK_TEAM_ID=TEAM_ID,
               SLACK_OIDC_URL=fake_slack.oidc_url, WEB_SESSION_SECRET=SESSION_SECRET, LOG_FORMAT="json")
    with _serve(env, port, tmp_path / "serve.log") as served:
        yield LiveBot(served, signer)


def _until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _incident_channel(fake: FakeSlack) -> str | None:
    return next((name for name in fake.channel_names() if "dlq" in name), None)


def test_a_responder_signs_in_acknowledges_and_writes_the_review(live_bot: LiveBot, fake_slack: FakeSlack) -> None:
    """Sign in with Slack, list, open, acknowledge (Slack hears it), write the review, see it in the report."""
    from playwright.sync_api import expect, sync_playwright

    dlq = metric_alarm("orders-pipeline-DLQSpike")
    dlq["AlarmDescription"] = HOSTILE
    live_bot.deliver(metric_alarm("orders-pipeline-LatencyP99High", metric="LatencyP99", threshold=5000,
                                  value=7300, at=datetime.now(UTC) - timedelta(hours=2)), HIGH_TOPIC)
    live_bot.deliver(metric_alarm("orders-pipeline-LatencyP99High", "OK", "ALARM", metric="LatencyP99",
                                  threshold=5000, value=900, at=datetime.now(UTC) - timedelta(hours=1)), HIGH_TOPIC)
    live_bot.deliver(metric_alarm("orders-pipeline-ConsumerLagHigh", metric="ConsumerLag", threshold=10000,
                                  value=48000), HIGH_TOPIC)
    live_bot.deliver(dlq)
    _until(lambda: bool((c := _incident_channel(fake_slack)) and len(fake_slack.messages(c)) >= 4),
           "the incident channel and its first posts")
    channel = _incident_channel(fake_slack)
    assert channel
    shots = os.environ.get("WEB_SCREENSHOTS")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(_chromium()), args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 1200})
        page = context.new_page()
        dialogs: list[str] = []
        console: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda message: console.append(message.text))

        page.goto(f"{live_bot.base}/")  # → sign-in → Slack's authorize page → back, signed in
        expect(page).to_have_url(f"{live_bot.base}/")
        expect(page.get_by_text("Alice Oncall")).to_be_visible()
        rows = page.locator("table.incidents tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.first).to_contain_text("DLQ spike")
        expect(rows.first).to_contain_text("CRITICAL")
        expect(rows.nth(2)).to_contain_text("resolved")
        if shots:
            page.screenshot(path=str(Path(shots) / "web-incidents.png"), full_page=True)

        page.get_by_role("link", name="DLQ spike").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("DLQ spike")
        expect(page.locator(".alarm-description")).to_have_text(HOSTILE)
        expect(page.locator("ol.timeline li").first).to_be_visible()
        expect(page.locator("table.result").first).to_contain_text("parse_error")
        expect(page.locator(".runbook h3").first).to_be_visible()
        if shots:
            page.screenshot(path=str(Path(shots) / "web-incident.png"), full_page=False)

        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator(".flash")).to_contain_text("is acknowledged")
        expect(page.locator(".head [data-status]")).to_have_text("acknowledged")
        expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
        _until(lambda: any("acknowledged by <@U00ALICE01>" in m["text"] for m in fake_slack.messages(channel)),
               "the acknowledgement in the incident channel")

        page.get_by_role("link", name="Post-incident review").click()
        page.get_by_label("Summary").fill("A source schema change sent orders to the DLQ.")
        page.get_by_label("Root cause").fill("customer_id renamed to cust_id without notice.")
        page.get_by_label("Impact").fill("About 9,000 orders delayed 20 minutes.")
        page.get_by_label("Prevention").fill("Schema-change webhook from the source team.")
        page.get_by_label("Owner").fill("@alice")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".flash")).to_have_text("Review saved.")
        expect(page.locator(".saved")).to_contain_text("Last saved by U00ALICE01 at ")
        expect(page.get_by_label("Root cause")).to_have_value("customer_id renamed to cust_id without notice.")
        if shots:
            page.screenshot(path=str(Path(shots) / "web-review.png"))

        incident_id = page.url.rstrip("/").split("/")[-2]
        report = page.request.get(f"{live_bot.base}/api/incidents/{incident_id}/postmortem")
        assert report.status == 200
        text = report.text()
        assert "## Root cause\ncustomer_id renamed to cust_id without notice." in text
        assert "**Owner:** @alice" in text and "acknowledged" in text

        assert dialogs == []
        assert page.evaluate("window.__xss") is None
        assert not [line for line in console if "Content Security Policy" in line]
        if shots:  # the same pages at a phone's width, signed in with the same session
            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                        storage_state=context.storage_state())
            small = phone.new_page()
            small.goto(f"{live_bot.base}/")
            small.screenshot(path=str(Path(shots) / "web-incidents-phone.png"), full_page=True)
            small.goto(f"{live_bot.base}/incidents/{incident_id}")
            small.screenshot(path=str(Path(shots) / "web-incident-phone.png"))
            page.goto(f"{live_bot.base}/stats")
            page.screenshot(path=str(Path(shots) / "web-stats.png"), full_page=True)
        browser.close()


def test_html_and_script_in_alarm_text_run_nothing(live_bot: LiveBot, fake_slack: FakeSlack) -> None:
    """An alarm description with an onerror image and a script tag shows as text on every page; no dialog opens."""
    from playwright.sync_api import expect, sync_playwright

    body = metric_alarm("orders-pipeline-<script>alert(3)</script>")
    body["AlarmDescription"] = HOSTILE
    live_bot.deliver(body)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(_chromium()), args=["--no-sandbox"])
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{live_bot.base}/")
        expect(page.locator("table.incidents")).to_contain_text("orders-pipeline-<script>alert(3)</script>")
        for path in ("/incidents/1", "/incidents/1/review", "/stats", "/?q=%3Cscript%3Ealert(4)%3C%2Fscript%3E"):
            page.goto(f"{live_bot.base}{path}")
            page.wait_for_load_state("load")
            assert page.evaluate("window.__xss") is None, path
        page.goto(f"{live_bot.base}/incidents/1")
        expect(page.locator(".alarm-description")).to_have_text(HOSTILE)
        assert page.locator("img[src=x]").count() == 0
        assert dialogs == []
        browser.close()
