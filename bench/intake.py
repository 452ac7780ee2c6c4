"""SNS intake throughput and latency: N signed deliveries, C at a time, against a running `incident-bot serve`.

Run: `.venv/bin/python bench/intake.py [--deliveries 3000] [--concurrency 32] [--alarms 500]`.
The mix is ~60% new ALARM transitions over `--alarms` distinct alarm names, ~20% redeliveries of a MessageId
already sent, ~20% OK transitions. The bot runs record-only on a temporary SQLite file; its outbox relay runs in
the same process and performs the record-only side effects during the run, which is part of the measured load.
Every envelope is signed before the clock starts (signing is SNS's cost, not ours). Prints a Markdown table:
client-side latency and throughput, and the server's own `incident_bot_sns_handler_seconds` percentiles.
To add a kind of delivery: extend `plan_deliveries` and name its outcome in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.harness import (
    BotServer,
    bucket_delta,
    histogram_buckets,
    histogram_quantile,
    machine_rows,
    ms,
    percentile,
)
from bot.sns.signing import SnsSigner, body, generate_identity
from tests.support.alarms import CRITICAL_TOPIC, message, metric_alarm

HISTOGRAM = "incident_bot_sns_handler_seconds"
WARMUP = 20
SNS_HEADERS = {"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST to /sns: its wire body and what kind of delivery it stands for."""

    kind: str  # alarm | redelivery | ok
    content: bytes


@dataclass(slots=True)
class Results:
    """What the client saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0


def plan_deliveries(signer: SnsSigner, *, count: int, alarms: int, concurrency: int, seed: int = 7,
                    prefix: str = "orders-pipeline-BenchAlarm") -> list[Delivery]:
    """Signed deliveries in sending order; a redelivery repeats a body sent at least 2×concurrency earlier."""
    rng = random.Random(seed)
    names = [f"{prefix}{i:04d}" for i in range(alarms)]
    state = dict.fromkeys(names, "OK")
    start = datetime.now(UTC) - timedelta(minutes=10)
    sent: list[bytes] = []
    plan: list[Delivery] = []
    for i in range(count):
        roll = rng.random()
        at = start + timedelta(milliseconds=10 * i)  # strictly newer state changes, so none is stale
        settled = len(sent) - 2 * concurrency
        if roll < 0.2 and settled > 0:
            plan.append(Delivery("redelivery", sent[rng.randrange(settled)]))
            continue
        firing = [n for n in names if state[n] == "ALARM"] if roll < 0.4 else []
        if firing:
            name, new, old, kind = rng.choice(firing), "OK", "ALARM", "ok"
        else:
            name, new, old, kind = names[i % alarms], "ALARM", state[names[i % alarms]], "alarm"
            if old == "ALARM":
                old = "OK"  # CloudWatch only notifies on a change; a repeat ALARM reads as a fresh one
        state[name] = new
        envelope = signer.notification(topic_arn=CRITICAL_TOPIC, message=message(
            metric_alarm(name, new, old, at=at)), message_id=f"{prefix}-{i:06d}", timestamp=at)
        content = body(envelope)
        sent.append(content)
        plan.append(Delivery(kind, content))
    return plan


async def fire(url: str, plan: list[Delivery], *, concurrency: int, max_seconds: float,
               rate: float | None = None) -> Results:
    """Send `plan` over at most `concurrency` keep-alive connections; stop starting new ones after `max_seconds`.

    Closed loop by default (each connection sends its next delivery as soon as the last is answered). With
    `rate`, open loop: delivery i is due at i/rate seconds and its latency counts from then, so time spent
    waiting for a free connection is included (no coordinated omission).
    """
    results = Results()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    cursor = iter(range(len(plan)))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def send(index: int, due: float) -> None:
            delivery = plan[index]
            try:
                answer = await client.post("/sns", content=delivery.content, headers=SNS_HEADERS)
            except httpx.HTTPError as exc:
                results.errors[type(exc).__name__] += 1
                return
            results.latencies.append(time.perf_counter() - due)
            results.sent += 1
            results.statuses[answer.status_code] += 1
            results.kinds[delivery.kind] += 1
            outcome = answer.json().get("outcome") if answer.status_code == 200 else answer.text[:80]
            results.outcomes[str(outcome)] += 1

        async def worker() -> None:
            for index in cursor:
                if time.perf_counter() > deadline:
                    return
                await send(index, time.perf_counter())

        async def scheduled(index: int, due: float, slots: asyncio.Semaphore) -> None:
            async with slots:
                await send(index, due)

        if rate is None:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            slots = asyncio.Semaphore(concurrency)
            tasks = []
            for index in range(len(plan)):
                due = started + index / rate
                if due > deadline:
                    break
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(scheduled(index, due, slots)))
            await asyncio.gather(*tasks)
        results.elapsed = time.perf_counter() - started
    return results


async def scrape(url: str) -> str:
    """The server's /metrics text."""
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        answer = await client.get("/metrics")
        answer.raise_for_status()
        return answer.text


async def run(args: argparse.Namespace, bot: BotServer, plan: list[Delivery],
              warmup: list[Delivery]) -> tuple[Results, dict[float, float], float]:
    """Warm up, then measure; returns client results, server histogram of the run, server CPU seconds."""
    await fire(bot.url, warmup, concurrency=min(4, args.concurrency), max_seconds=30)
    before = await scrape(bot.url)
    cpu_before, client_before = bot.cpu_seconds(), time.process_time()
    results = await fire(bot.url, plan, concurrency=args.concurrency, max_seconds=args.max_seconds, rate=args.rate)
    cpu = bot.cpu_seconds() - cpu_before
    results.client_cpu = time.process_time() - client_before
    after = await scrape(bot.url)
    return results, bucket_delta(histogram_buckets(after, HISTOGRAM), histogram_buckets(before, HISTOGRAM)), cpu


def report(args: argparse.Namespace, machine: list[tuple[str, str]], results: Results,
           server: dict[float, float], cpu: float, signing: float) -> str:
    """The Markdown table."""
    lat = results.latencies
    rate = results.sent / results.elapsed if results.elapsed else 0.0
    per = 1000 / results.sent if results.sent else math.nan
    load = "closed loop" if args.rate is None else f"open loop at {args.rate:g}/s offered"
    rows = [*machine,
            ("database", "SQLite (temp file, WAL), record-only Slack/PagerDuty, relay in-process"),
            ("deliveries sent / planned", f"{results.sent} / {args.deliveries}"),
            ("concurrency (connections)", f"{args.concurrency}, {load}"),
            ("mix (client)", ", ".join(f"{k} {v}" for k, v in sorted(results.kinds.items()))),
            ("HTTP statuses", ", ".join(f"{k}: {v}" for k, v in sorted(results.statuses.items()))),
            ("outcomes", ", ".join(f"{k} {v}" for k, v in results.outcomes.most_common())),
            ("client errors", ", ".join(f"{k} {v}" for k, v in results.errors.items()) or "none"),
            ("wall time (s)", f"{results.elapsed:.2f}"),
            ("**throughput (deliveries/s)**", f"**{rate:.0f}**"),
            ("client latency p50 / p90 / p99 / max (ms)",
             f"{ms(percentile(lat, 50))} / {ms(percentile(lat, 90))} / **{ms(percentile(lat, 99))}** / "
             f"{ms(max(lat) if lat else float('nan'))}"),
            ("server handling p50 / p99 (ms, from histogram buckets)",
             f"{ms(histogram_quantile(server, 0.5))} / {ms(histogram_quantile(server, 0.99))}"),
            ("server CPU (s; ms per delivery)", f"{cpu:.2f}; {cpu * per:.2f}"),
            ("client CPU (s; ms per delivery)", f"{results.client_cpu:.2f}; {results.client_cpu * per:.2f}"),
            ("pre-signing (s, not measured)", f"{signing:.2f}")]
    lines = ["| figure | value |", "|---|---|", *(f"| {label} | {value} |" for label, value in rows)]
    goal = rate >= 500 and percentile(lat, 99) < 0.050
    lines.append(f"\nGoal (≥ 500 deliveries/s and client p99 < 50 ms): {'met' if goal else 'MISSED'}")
    return "\n".join(lines)


def main() -> int:
    """Parse arguments, start the bot, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--alarms", type=int, default=500, help="distinct alarm names")
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: offer this many deliveries/s instead of sending back to back")
    parser.add_argument("--max-seconds", type=float, default=90.0, help="stop sending after this long")
    args = parser.parse_args()
    machine = machine_rows()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        work = Path(tmp)
        key_path, cert_path = generate_identity(work / "sns")
        signer = SnsSigner.from_file(key_path)
        signing_started = time.perf_counter()
        plan = plan_deliveries(signer, count=args.deliveries, alarms=args.alarms, concurrency=args.concurrency)
        warmup = plan_deliveries(signer, count=WARMUP, alarms=WARMUP, concurrency=1,
                                 prefix="orders-pipeline-BenchWarmup")
        signing = time.perf_counter() - signing_started
        (work / "logs").mkdir()
        env = {"DATABASE_URL": f"sqlite:///{work / 'bench.db'}", "SNS_SIGNING_CERT_FILE": str(cert_path),
               "SNS_TOPIC_ARNS": CRITICAL_TOPIC, "LOG_LEVEL": "WARNING", "LOCAL_LOGS": str(work / "logs/*.jsonl"),
               "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "PAGERDUTY_ROUTING_KEY": ""}
        with BotServer(env, work) as bot:
            results, server, cpu = asyncio.run(run(args, bot, plan, warmup))
            tail = bot.log_tail(5)
    print(report(args, machine, results, server, cpu, signing))
    bad = results.sent - results.statuses.get(200, 0)
    if bad or results.errors:
        print(f"\n{bad} non-200 answers, {sum(results.errors.values())} transport errors; server log tail:\n{tail}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
