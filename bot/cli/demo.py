"""`incident-bot demo`: the whole story on one machine, on embedded defaults.

Orders with a source schema change half-way → the PyFlink job on the local mini-cluster → the local alarm
evaluator raises the DLQ spike alarm → signed SNS deliveries into a real bot server → an incident with its
(record-only) channel, page, runbook and DLQ breakdown → the fault stops, the alarm clears, the post-incident
template appears. Slack and PagerDuty are used for real only if their credentials are in the environment.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import typer

from bot.cli.app import app

OUT = Path("demo-output")


@app.command()
def demo(
    out: Path = typer.Option(OUT, help="Where the demo writes orders, job output, logs and its database."),
    orders: int = typer.Option(6000, help="Orders to generate over 30 minutes of event time."),
    port: int = typer.Option(0, help="Port for the bot (0: a free one)."),
    keep_serving: bool = typer.Option(False, help="Keep the bot running after the story, to browse the API."),
) -> None:
    """Run the end-to-end story locally and print a transcript."""
    asyncio.run(_demo(out, orders, port or _free_port(), keep_serving))


async def _demo(out: Path, orders: int, port: int, keep_serving: bool) -> None:
    from bot.sns.signing import SnsSigner, generate_identity
    from pipeline.evaluator import evaluate
    from pipeline.generator import Fault, generate_orders
    from pipeline.job import run_job

    await asyncio.to_thread(_fresh_dir, out)
    say("1/5", f"generating {orders} orders over 30 min; source schema change (customer_id → cust_id) at 10–16 min")
    generated = generate_orders(out / "orders.jsonl", orders=orders, minutes=30,
                                faults=[Fault("schema_change", 10, 16, 0.6)], seed=42)
    say("", f"{generated.lines} lines written to {generated.path}")

    say("2/5", "running the PyFlink job on the local mini-cluster")
    summary = await asyncio.to_thread(run_job, generated.path, out / "job")
    dlq = ", ".join(f"{k} {v}" for k, v in sorted(summary.dlq_by_type.items(), key=lambda kv: -kv[1]))
    say("", f"{summary.input_records} in → {summary.output_records} out, DLQ {summary.dlq_records} ({dlq}), "
            f"late {summary.late_records}; {summary.seconds:.1f} s")

    say("3/5", "evaluating the alarms on the job's metrics (CloudWatch semantics)")
    changes = evaluate(out / "job")
    for change in changes:
        say("", f"{change.body['StateChangeTime']}  {change.body['AlarmName']}: "
                f"{change.body['OldStateValue']} → {change.body['NewStateValue']}")

    key, cert = generate_identity(out / "sns")
    signer = SnsSigner.from_file(key)
    settings = _settings(out, cert, {c.topic_arn for c in changes}, port)
    server, task = await _start_bot(settings, port)
    base = f"http://127.0.0.1:{port}"
    try:
        say("4/5", f"delivering {len(changes)} signed SNS notifications to {base}/sns")
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for change in changes:
                envelope = signer.notification(topic_arn=change.topic_arn, message=json.dumps(change.body),
                                               subject=change.subject)
                answer = await client.post("/sns", content=json.dumps(envelope),
                                           headers={"content-type": "text/plain; charset=UTF-8"})
                say("", f"POST /sns → {answer.status_code} {answer.json()}")
                await _settle(server)
            say("5/5", "what the bot did")
            incidents = (await client.get("/api/incidents")).json()["incidents"]
            for incident in reversed(incidents):
                detail = (await client.get(f"/api/incidents/{incident['id']}")).json()
                _transcript(detail)
                postmortem = (await client.get(f"/api/incidents/{incident['id']}/postmortem")).text
                await asyncio.to_thread((out / f"postmortem-{incident['id']}.md").write_text, postmortem)
        say("", f"web view: {base}/ · API: {base}/api/incidents · post-incident reports: {out}/postmortem-*.md")
        say("", f"browse later: DATABASE_URL=sqlite:///{out}/incident-bot.db incident-bot serve")
        if keep_serving:
            say("", "serving until Ctrl-C")
            await task
    finally:
        server.should_exit = True
        await task


def _settings(out: Path, cert: Path, topics: set[str], port: int) -> Any:
    from bot.settings import load_settings

    return load_settings(
        database_url=f"sqlite:///{out / 'incident-bot.db'}", sns_signing_cert_file=cert,
        sns_topic_arns=sorted(topics), local_logs=str(out / "job" / "logs" / "**" / "*"),
        logs_backend="local", public_url=f"http://127.0.0.1:{port}", log_level="WARNING",
        # The demo is the loopback-only web view: no sign-in, no API tokens, whatever the environment says.
        slack_client_id="", api_tokens=[],
    )


async def _start_bot(settings: Any, port: int) -> tuple[Any, asyncio.Task[None]]:
    import uvicorn

    from bot.app import NoTracebacks, create_app
    from bot.logconfig import configure_logging

    configure_logging("WARNING", "console")
    config = uvicorn.Config(NoTracebacks(create_app(settings)), host="127.0.0.1", port=port, log_config=None,
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise typer.Exit(1)
        await asyncio.sleep(0.05)
    return server, task


async def _settle(server: Any, timeout: float = 60.0) -> None:
    """Wait until the bot's outbox has nothing due (queries and posts done)."""
    from datetime import timedelta

    from bot.incidents import repository

    app = server.config.app.app
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        soon = app.state.clock() + timedelta(seconds=30)
        if not await app.state.db.run(lambda session, soon=soon: repository.pending_before(session, soon)):
            return
        await asyncio.sleep(0.1)


def _transcript(detail: dict[str, Any]) -> None:
    typer.echo("")
    typer.echo(f"  incident #{detail['id']} · {detail['severity']} · {detail['title']} · {detail['status']} "
               f"· channel #{detail['channel'] or '-'}")
    for entry in detail["timeline"]:
        line = entry["summary"]
        if entry["kind"] == "message":
            text = entry["data"].get("text", "")
            first = next((ln for ln in text.splitlines() if ln.strip()), "")
            line = f"{line}: {first[:110]}"
        typer.echo(f"    {entry['at'][11:19]}  {entry['kind']:<9} {line[:170]}")
        for detail_line in _highlights(entry):
            typer.echo(f"{'':<24}{detail_line[:150]}")


def _highlights(entry: dict[str, Any]) -> list[str]:
    """What a reader wants from a post: the runbook's step headings, a query's table and triage hints."""
    texts = [b.get("text", {}).get("text", "") for b in entry["data"].get("blocks", []) if b.get("type") == "section"]
    lines = [line for text in texts for line in text.splitlines()]
    if entry["kind"] == "query":
        return [line for line in lines if line.strip() and not line.startswith("```")][:8]
    if entry["data"].get("text", "").startswith("Runbook:"):
        return [line.strip("*") for line in lines if re.match(r"^\*\d+\. ", line)]
    return []


def _fresh_dir(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)


def say(step: str, text: str) -> None:
    """One transcript line."""
    typer.echo(f"{step:>5}  {text}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
