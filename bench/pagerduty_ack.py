"""PagerDuty acknowledgement → the incident channel says so: latency, against a fake Slack answering in 50 ms.

Run: `.venv/bin/python bench/pagerduty_ack.py [--incidents 30] [--concurrency 3] [--slack-latency 0.05]`.
The bot (`incident-bot serve`, SQLite) first opens one CRITICAL incident per distinct unknown alarm and posts its
runbook (not timed). Then each incident gets a signed `incident.acknowledged` V3 webhook: one figure is the
webhook's answer time (what PagerDuty waits for; it allows 5 s), the other runs from that answer until the fake
Slack holds "acknowledged in PagerDuty" in the incident's channel (polled every 5 ms). PagerDuty's REST API is not
configured (the agent is named, not looked up), nor is paging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.harness import BotServer, machine_rows, ms, percentile
from bench.incident import Missed, one_alarm
from bot.sns.signing import SnsSigner, body, generate_identity
from tests.fakes.slack_api import FakeSlack
from tests.support.alarms import CRITICAL_TOPIC, message, metric_alarm
from tests.support.pagerduty import SECRET, incident_data, sign, webhook

TOKEN = "xoxb-test-token"
POLL = 0.005
TIMEOUT = 20.0


async def acknowledge(client: httpx.AsyncClient, slack: FakeSlack, incident_id: int) -> tuple[float, float]:
    """Send one signed acknowledgement; returns (answer time, answer → channel message) in seconds."""
    detail = (await client.get(f"/api/incidents/{incident_id}")).json()
    channel = detail["channel"]
    raw = json.dumps(webhook("incident.acknowledged", incident_data(incident_id, status="acknowledged"))).encode()
    sent = time.perf_counter()
    answer = await client.post("/pagerduty/webhook", content=raw,
                               headers={"content-type": "application/json", "x-pagerduty-signature": sign(raw, SECRET)})
    answered = time.perf_counter()
    if answer.status_code != 202 or answer.json().get("outcome") != "acknowledged":
        raise Missed(f"webhook answered {answer.status_code}: {answer.text[:200]}")
    while time.perf_counter() - answered < TIMEOUT:
        if any("acknowledged in PagerDuty" in str(m.get("text", "")) for m in slack.messages(channel)):
            return answered - sent, time.perf_counter() - answered
        await asyncio.sleep(POLL)
    raise Missed(f"no acknowledgement in #{channel} within {TIMEOUT:.0f} s")


async def run(url: str, slack: FakeSlack, alarms: list[bytes], concurrency: int,
              ) -> tuple[list[float], list[float], list[str]]:
    """Open every incident, then acknowledge them `concurrency` at a time."""
    answers: list[float] = []
    latencies: list[float] = []
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        opened = iter(alarms)

        async def opener() -> None:
            for content in opened:
                try:
                    await one_alarm(client, slack, content)
                except (Missed, httpx.HTTPError) as exc:
                    failures.append(f"open: {exc}")

        await asyncio.gather(*(opener() for _ in range(concurrency)))
        incidents = iter([i["id"] for i in (await client.get("/api/incidents?limit=1000")).json()])

        async def acker() -> None:
            for incident_id in incidents:
                try:
                    answer, latency = await acknowledge(client, slack, incident_id)
                except (Missed, httpx.HTTPError) as exc:
                    failures.append(f"ack: {exc}")
                    continue
                answers.append(answer)
                latencies.append(latency)

        await asyncio.gather(*(acker() for _ in range(concurrency)))
    return answers, latencies, failures


def main() -> int:
    """Parse arguments, start the fake Slack and the bot, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--slack-latency", type=float, default=0.05)
    args = parser.parse_args()
    machine = machine_rows()
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="bench-pd-") as tmp, FakeSlack(TOKEN) as slack:
        work = Path(tmp)
        slack.latency = args.slack_latency
        slack.add_channel("alerts")
        key_path, cert_path = generate_identity(work / "sns")
        signer = SnsSigner.from_file(key_path)
        alarms = [body(signer.notification(topic_arn=CRITICAL_TOPIC, message=message(
            metric_alarm(f"orders-pipeline-BenchAck{tag}x{i:03d}", "ALARM", "OK")))) for i in range(args.incidents)]
        (work / "logs").mkdir()
        env = {"DATABASE_URL": f"sqlite:///{work / 'bench.db'}", "SNS_SIGNING_CERT_FILE": str(cert_path),
               "SNS_TOPIC_ARNS": CRITICAL_TOPIC, "LOG_LEVEL": "WARNING", "LOCAL_LOGS": str(work / "logs/*.jsonl"),
               "UNKNOWN_ALARM_SEVERITY": "CRITICAL", "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.api_url,
               "SLACK_SIGNING_SECRET": "", "PAGERDUTY_ROUTING_KEY": "", "PAGERDUTY_WEBHOOK_SECRETS": SECRET}
        with BotServer(env, work) as bot:
            answers, latencies, failures = asyncio.run(run(bot.url, slack, alarms, args.concurrency))
            tail = bot.log_tail(5)
    pa = {q: percentile(answers, q) for q in (50, 99)}
    pl = {q: percentile(latencies, q) for q in (50, 95, 99)}
    rows = [*machine,
            ("Slack", f"fake, {args.slack_latency * 1000:.0f} ms per call"),
            ("acknowledgements measured / incidents", f"{len(latencies)} / {args.incidents}, "
                                                      f"{args.concurrency} in flight"),
            ("webhook answer p50 / p99 (ms)", f"{ms(pa[50])} / {ms(pa[99])}"),
            ("answer → \"acknowledged in PagerDuty\" in the channel p50 / p95 / p99 (ms)",
             f"{ms(pl[50])} / {ms(pl[95])} / {ms(pl[99])}")]
    print("| figure | value |\n|---|---|")
    print("\n".join(f"| {label} | {value} |" for label, value in rows))
    if failures:
        print(f"\n{len(failures)} failed, first: {failures[0]}\nserver log tail:\n{tail}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
