"""SNS intake throughput and latency: N signed deliveries, C at a time, against a running `incident-bot serve`,
next to a no-op FastAPI endpoint on the same server stack (uvicorn) measured in the same run.

Run: `.venv/bin/python bench/intake.py [--deliveries 3000] [--concurrency 16] [--alarms 2000]`.
Real alarm traffic: every notification is a state change (CloudWatch notifies only on one) — ~60% ALARM
transitions over `--alarms` distinct alarm names, ~20% OK transitions — and ~20% are redeliveries of a MessageId
already sent. The bot runs record-only on a temporary SQLite file; its outbox relay runs in the same process and
performs the record-only side effects during the run, which is part of the measured load. The same deliveries
then go to `bench/noop_app.py` (reads the body, answers) on plain uvicorn: the ratio of the two throughputs is
the figure that survives a busy machine. Every envelope is signed before the clock starts (signing is SNS's
cost, not ours). Prints a Markdown table: client-side latency and throughput of both, and the server's own
`incident_bot_sns_handler_seconds` percentiles.
To add a kind of delivery: extend `plan_deliveries` and name its outcome in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

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
GOAL_RATIO = 0.15
GOAL_P99 = 0.050
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
    server_cpu: float = 0.0


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
        # CloudWatch notifies only on a change: an alarm goes ALARM from OK, and OK from ALARM.
        firing = [n for n in names if state[n] == "ALARM"]
        quiet = [n for n in names if state[n] == "OK"]
        if firing and (roll < 0.4 or not quiet):
            name, new, old, kind = rng.choice(firing), "OK", "ALARM", "ok"
        else:
            name, new, old, kind = rng.choice(quiet), "ALARM", "OK", "alarm"
        state[name] = new
        envelope = signer.notification(topic_arn=CRITICAL_TOPIC, message=message(
            metric_alarm(name, new, old, at=at)), message_id=f"{prefix}-{i:06d}", timestamp=at)
        content = body(envelope)
        sent.append(content)
        plan.append(Delivery(kind, content))
    return plan


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol to POST and read the answer:
    a Python HTTP client costs the 2-core machine more CPU per request than a no-op endpoint does, so it would
    measure itself rather than the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request; returns the status and the body."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        self.writer.close()


def _request(host: str, port: int, content: bytes) -> bytes:
    head = (f"POST /sns HTTP/1.1\r\nHost: {host}:{port}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in SNS_HEADERS.items())
            + f"Content-Length: {len(content)}\r\n\r\n")
    return head.encode() + content


async def fire(url: str, plan: list[Delivery], *, concurrency: int, max_seconds: float,
               rate: float | None = None) -> Results:
    """Send `plan` over at most `concurrency` keep-alive connections; stop starting new ones after `max_seconds`.

    Closed loop by default (each connection sends its next delivery as soon as the last is answered). With
    `rate`, open loop: delivery i is due at i/rate seconds and its latency counts from then, so time spent
    waiting for a free connection is included (no coordinated omission).
    """
    results = Results()
    parsed = urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    requests = [_request(host, port, d.content) for d in plan]
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(concurrency):
        pool.put_nowait(await _Connection.open(host, port))
    cursor = iter(range(len(plan)))
    started = time.perf_counter()
    deadline = started + max_seconds

    async def send(index: int, due: float) -> None:
        delivery = plan[index]
        connection = await pool.get()
        try:
            status, answer = await connection.exchange(requests[index])
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            results.errors[type(exc).__name__] += 1
            connection.close()
            pool.put_nowait(await _Connection.open(host, port))
            return
        pool.put_nowait(connection)
        results.latencies.append(time.perf_counter() - due)
        results.sent += 1
        results.statuses[status] += 1
        results.kinds[delivery.kind] += 1
        outcome = json.loads(answer).get("outcome") if status == 200 else answer[:80].decode(errors="replace")
        results.outcomes[str(outcome)] += 1

    async def worker() -> None:
        for index in cursor:
            if time.perf_counter() > deadline:
                return
            await send(index, time.perf_counter())

    if rate is None:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    else:
        tasks = []
        for index in range(len(plan)):
            due = started + index / rate
            if due > deadline:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(send(index, due)))
        await asyncio.gather(*tasks)
    results.elapsed = time.perf_counter() - started
    while not pool.empty():
        pool.get_nowait().close()
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
           server: dict[float, float], cpu: float, signing: float, noop: Results) -> str:
    """The Markdown table."""
    lat = results.latencies
    rate = results.sent / results.elapsed if results.elapsed else 0.0
    noop_rate = noop.sent / noop.elapsed if noop.elapsed else 0.0
    ratio = rate / noop_rate if noop_rate else math.nan
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
            ("no-op endpoint, same deliveries: throughput (/s); p50 / p99 (ms); server CPU (ms per delivery)",
             f"{noop_rate:.0f}; {ms(percentile(noop.latencies, 50))} / {ms(percentile(noop.latencies, 99))}; "
             f"{noop.server_cpu * 1000 / max(1, noop.sent):.2f}"),
            ("no-op / intake server CPU per delivery (the same ratio, robust to a busy machine)",
             f"{(noop.server_cpu / max(1, noop.sent)) / (cpu / max(1, results.sent)):.3f}" if cpu else "n/a"),
            ("**intake / no-op throughput**", f"**{ratio:.3f}**"),
            ("client CPU (s; ms per delivery)", f"{results.client_cpu:.2f}; {results.client_cpu * per:.2f}"),
            ("pre-signing (s, not measured)", f"{signing:.2f}")]
    lines = ["| figure | value |", "|---|---|", *(f"| {label} | {value} |" for label, value in rows)]
    if args.rate is not None:  # both servers then carry the offered rate: their ratio says nothing
        lines.append(f"\nAt a fixed offered rate only the latency counts: client p99 < {GOAL_P99 * 1000:.0f} ms "
                     f"{'met' if percentile(lat, 99) < GOAL_P99 else 'MISSED'}")
        return "\n".join(lines)
    goal = ratio >= GOAL_RATIO and percentile(lat, 99) < GOAL_P99
    lines.append(f"\nGoal (≥ {GOAL_RATIO:g} of the no-op endpoint and client p99 < {GOAL_P99 * 1000:.0f} ms): "
                 f"{'met' if goal else 'MISSED'}")
    return "\n".join(lines)


def main() -> int:
    """Parse arguments, start the bot, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--alarms", type=int, default=2000, help="distinct alarm names")
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
        with BotServer(env, work, app="bench.noop_app:app") as noop:
            asyncio.run(fire(noop.url, warmup, concurrency=min(4, args.concurrency), max_seconds=30))
            noop_cpu = noop.cpu_seconds()
            baseline = asyncio.run(fire(noop.url, plan, concurrency=args.concurrency, max_seconds=args.max_seconds,
                                        rate=args.rate))
            baseline.server_cpu = noop.cpu_seconds() - noop_cpu
        with BotServer(env, work) as bot:
            results, server, cpu = asyncio.run(run(args, bot, plan, warmup))
            tail = bot.log_tail(5)
    print(report(args, machine, results, server, cpu, signing, baseline))
    bad = results.sent - results.statuses.get(200, 0)
    if bad or results.errors:
        print(f"\n{bad} non-200 answers, {sum(results.errors.values())} transport errors; server log tail:\n{tail}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
