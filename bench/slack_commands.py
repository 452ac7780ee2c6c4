"""Slack slash commands end to end: ack latency and time to the answer, against a running `incident-bot serve`.

Run: `.venv/bin/python bench/slack_commands.py [--commands 200] [--concurrency 8] [--lines 200000]`.
Writes `--lines` seed-schema log lines over the last two hours, starts the bot with the fake Slack Web API
(`tests/fakes/slack_api.py`) as SLACK_API_URL, then sends signed `/trace ORD-n` and `/dlq-breakdown` commands
(half each), C at a time. The ack figure is the HTTP round trip Slack waits for (must stay far below 3 s); the
answer figure runs from sending the command to its post arriving at the fake `response_url`.
To add a command to the mix: extend `COMMANDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.harness import BotServer, machine_rows, ms, percentile
from tests.fakes.slack_api import FakeSlack

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
COMMANDS = ("/trace", "/dlq-breakdown")
ERRORS = ("parse_error", "parse_error", "parse_error", "duplicate", "validation_error")
OPERATORS = ("parse", "validate", "dedup", "enrich", "sink")


def write_logs(path: Path, lines: int, orders: int) -> None:
    """Seed-schema JSON lines spread over the last two hours; every fifth one goes to the DLQ."""
    now = datetime.now(UTC)
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            at = now - timedelta(seconds=rng.uniform(0, 7200))
            dlq = i % 5 == 0
            line = {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "level": "INFO",
                    "order_id": f"ORD-{i % orders}", "operator": OPERATORS[i % len(OPERATORS)],
                    "latency_ms": rng.randint(1, 900), "status": "error" if dlq else "success", "dlq": dlq,
                    "message": "processed"}
            if dlq:
                line["error_type"] = ERRORS[i % len(ERRORS)]
            out.write(json.dumps(line) + "\n")


def signed(body: bytes) -> dict[str, str]:
    """Slack's signature headers for `body`, now."""
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": stamp,
            "x-slack-signature": f"v0={digest}"}


async def one(client: httpx.AsyncClient, fake: FakeSlack, n: int, orders: int,
              acks: list[float], answers: list[float], failures: list[str]) -> None:
    """Send one command; record its ack and answer latency."""
    command = COMMANDS[n % len(COMMANDS)]
    url = fake.response_url()
    form = {"command": command, "text": f"ORD-{n % orders}" if command == "/trace" else "1h",
            "user_id": "U00BENCH01", "channel_id": "C00000001", "team_id": "T0001", "response_url": url}
    body = urlencode(form).encode()
    started = time.perf_counter()
    answer = await client.post("/slack/events", content=body, headers=signed(body))
    acks.append(time.perf_counter() - started)
    if answer.status_code != 200:
        failures.append(f"{command}: HTTP {answer.status_code}")
        return
    while not fake.responses(url):
        if time.perf_counter() - started > 30:
            failures.append(f"{command}: no answer within 30 s")
            return
        await asyncio.sleep(0.005)
    answers.append(time.perf_counter() - started)


async def run(args: argparse.Namespace, bot: BotServer, fake: FakeSlack) -> tuple[list[float], list[float],
                                                                                 list[str], float]:
    """Warm up once, then send every command with bounded concurrency."""
    acks: list[float] = []
    answers: list[float] = []
    failures: list[str] = []
    limit = asyncio.Semaphore(args.concurrency)
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as client:
        await one(client, fake, 0, args.orders, [], [], [])  # auth.test and first DuckDB connection

        async def bounded(n: int) -> None:
            async with limit:
                await one(client, fake, n, args.orders, acks, answers, failures)

        started = time.perf_counter()
        await asyncio.gather(*(bounded(n) for n in range(1, args.commands + 1)))
        return acks, answers, failures, time.perf_counter() - started


def main() -> int:
    """Parse arguments, write logs, start the fake Slack and the bot, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=20_000, help="distinct order ids in the logs")
    args = parser.parse_args()
    machine = machine_rows()
    with tempfile.TemporaryDirectory(prefix="bench-slack-") as tmp, FakeSlack(token=TOKEN) as fake:
        work = Path(tmp)
        (work / "logs").mkdir()
        write_logs(work / "logs" / "pipeline.jsonl", args.lines, args.orders)
        env = {"DATABASE_URL": f"sqlite:///{work / 'bench.db'}", "LOG_LEVEL": "WARNING",
               "LOCAL_LOGS": str(work / "logs/*.jsonl"), "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": fake.api_url, "PAGERDUTY_ROUTING_KEY": ""}
        with BotServer(env, work) as bot:
            acks, answers, failures, elapsed = asyncio.run(run(args, bot, fake))
            tail = bot.log_tail(5)
    rows = [*machine, ("commands (concurrency)", f"{args.commands} ({args.concurrency})"),
            ("log lines scanned per query", f"{args.lines:,}"),
            ("ack p50 / p95 / max", f"{ms(percentile(acks, 50))} / {ms(percentile(acks, 95))} / {ms(max(acks))}"),
            ("answer p50 / p95 / max",
             f"{ms(percentile(answers, 50))} / {ms(percentile(answers, 95))} / {ms(max(answers))}"
             if answers else "n/a"),
            ("commands/s", f"{len(answers) / elapsed:.1f}"), ("failures", str(len(failures)))]
    print("| figure | value |\n|---|---|")
    print("\n".join(f"| {label} | {value} |" for label, value in rows))
    goal = max(acks) < 3.0 and not failures
    print(f"\nGoal (every ack < 3 s, every command answered): {'met' if goal else 'MISSED'}")
    if failures:
        print(f"\nfirst failures: {failures[:5]}\nserver log tail:\n{tail}")
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
