"""The web view and the paged API under a realistic history: how long a page of incidents takes to answer.

Run: `.venv/bin/python bench/web.py [--incidents 10000] [--rounds 3]`. Seeds a SQLite database with
`--incidents` incidents (four severities, seven alarms, a fifth of them with "lag" in the title) and a
three-entry timeline each, starts `incident-bot serve` on it with an API token, then one client at a time:
walks the whole list through `GET /api/incidents?limit=50` and its `next_cursor`, the same with a filter
(`status=resolved&q=lag`), and fetches the list page, a filtered list page, an incident page and the stats page
`--rounds` × 20 times each. Prints a Markdown table of latencies (p50/p95/max, ms). Sequential on purpose: the
figure of interest is what one responder waits for, not throughput.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.harness import BotServer, machine_rows, ms, percentile
from bot.incidents.models import Incident, TimelineEntry
from bot.store import Database, upgrade

TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def seed(url: str, count: int) -> None:
    """`count` incidents over the last 12 weeks, newest last, each with a short timeline."""
    upgrade(url)
    database = Database(url)
    now = datetime.now(UTC)
    step = timedelta(weeks=12) / count

    def add(session: Any) -> None:
        for n in range(count):
            opened = now - timedelta(weeks=12) + step * n
            status = ("open", "acknowledged", "resolved", "resolved")[n % 4]
            name = f"orders-pipeline-Alarm{n % 7}"
            incident = Incident(
                title=f"Incident {n} {'consumer lag' if n % 5 == 0 else 'DLQ spike'}", alarm_name=name,
                alarm_arn=f"arn:aws:cloudwatch:us-east-1:1:alarm:{name}", severity=("CRITICAL", "HIGH",
                "MEDIUM", "LOW")[n % 4], status=status, source="alarm", region="us-east-1", opened_at=opened,
                last_transition_at=opened, reopen_count=0, alarm={},
                acknowledged_at=opened + timedelta(minutes=3 + n % 9) if status != "open" else None,
                resolved_at=opened + timedelta(minutes=25 + n % 40) if status == "resolved" else None,
            )
            session.add(incident)
            session.flush()
            session.add_all([TimelineEntry(incident_id=incident.id, at=opened, kind=kind, summary=text, data={})
                             for kind, text in (("alarm", f"{name}: OK → ALARM"), ("opened", "Opened"),
                                                ("message", "alarm summary posted"))])

    database.transact(add)
    database.engine.dispose()


def walk(client: httpx.Client, query: dict[str, Any]) -> tuple[list[float], int]:
    """Every page of the API list for `query`: each request's latency and how many incidents came back."""
    latencies, seen, cursor = [], 0, None
    while True:
        params = {**query, "limit": 50, **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        answer = client.get("/api/incidents", params=params)
        latencies.append(time.perf_counter() - started)
        answer.raise_for_status()
        body = answer.json()
        seen += len(body["incidents"])
        cursor = body["next_cursor"]
        if cursor is None:
            return latencies, seen


def timed(client: httpx.Client, path: str, times: int) -> list[float]:
    """`times` sequential GETs of `path`."""
    latencies = []
    for _ in range(times):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'bench.db'}"
        started = time.perf_counter()
        seed(url, args.incidents)
        print(f"seeded {args.incidents} incidents in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        env = {"DATABASE_URL": url, "API_TOKENS": TOKEN, "LOG_LEVEL": "WARNING", "LOCAL_LOGS": str(workdir / "*.x")}
        rows: list[tuple[str, list[float], str]] = []
        with BotServer(env, workdir) as bot, httpx.Client(base_url=bot.url, headers=HEADERS, timeout=30) as client:
            middle = args.incidents // 2
            for _ in range(args.rounds):
                everything, seen = walk(client, {})
                assert seen == args.incidents, seen
                filtered, matched = walk(client, {"status": "resolved", "q": "lag"})
                rows += [(f"API: all {seen} incidents, limit=50 ({len(everything)} pages)", everything, "per page"),
                         (f"API: status=resolved&q=lag ({matched} matches)", filtered, "per page"),
                         ("page: / (first 50)", timed(client, "/", 20), "per page"),
                         ("page: /?severity=CRITICAL&since=…", timed(
                             client, f"/?severity=CRITICAL&since={(datetime.now(UTC) - timedelta(weeks=2)):%Y-%m-%d}",
                             20), "per page"),
                         (f"page: /incidents/{middle}", timed(client, f"/incidents/{middle}", 20), "per page"),
                         ("page: /stats (12 weeks)", timed(client, "/stats", 20), "per page")]
    merged: dict[str, list[float]] = {}
    for label, values, _ in rows:
        merged.setdefault(label, []).extend(values)
    print("| measure | value |\n|---|---|")
    for label, value in machine_rows():
        print(f"| {label} | {value} |")
    print(f"| incidents | {args.incidents:,} (SQLite), {args.rounds} rounds, one client at a time |")
    print("\n| request | n | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for label, values in merged.items():
        print(f"| {label} | {len(values)} | {ms(percentile(values, 50))} | {ms(percentile(values, 95))} | "
              f"{ms(max(values))} |")


if __name__ == "__main__":
    main()
