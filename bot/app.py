"""Composition root: reads settings, builds adapters, wires the FastAPI app, the Slack app and the outbox relay.

The only module that imports adapters. Start-up order: upgrade the database, build the playbook and adapters,
start the relay and the weekly report schedule; shutdown stops them and closes the pools.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from fastapi import FastAPI

from bot.adapters.logs import log_search_from_settings
from bot.adapters.metric_graphs import metric_graphs_from_settings
from bot.adapters.metric_sources import metric_source_from_settings
from bot.adapters.pagerduty_pager import PagerDutyPager
from bot.adapters.pagerduty_rest import PagerDutyRest
from bot.adapters.recording import RecordingChat, UnconfiguredPager
from bot.adapters.slack_chat import SlackChat
from bot.adapters.sqs_dead_letters import SqsDeadLetters
from bot.alarms.catalog import AlarmCatalog
from bot.alarms.severity import Severity
from bot.clock import Clock, wall_clock
from bot.health.ports import MetricSource
from bot.health.watch import HealthWatch
from bot.incidents.commands import IncidentCommands
from bot.incidents.playbook import Playbook, ResponsePolicy
from bot.incidents.ports import ChatOps, Directory, LogSearch, MetricGraphs, Pager
from bot.metrics import Metrics
from bot.outbox import Relay
from bot.queries.catalog import QueryCatalog
from bot.runbooks import RunbookLibrary
from bot.settings import Settings
from bot.sns.verify import SignatureVerifier
from bot.store import Database, upgrade
from bot.transports.http import install_error_handlers, router
from bot.transports.pagerduty import router as pagerduty_router
from bot.transports.sns import ConfirmationFailed, SnsIntake
from bot.transports.sns_dlq import DeadLetterDrain
from bot.web import install_web
from bot.weekly_report import WeeklyReporter

log = structlog.get_logger("incident_bot.app")
# Steps in flight per lane. A step may wait in the Slack pacer (a Tier 2 method: minutes during a storm); with one
# step per incident and lane in flight, this many incidents progress at once before a paced one holds others up.
RELAY_BATCH = 64

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class Adapters:
    """The outside world as the domain sees it; tests and the demo may pass their own."""

    chat: ChatOps
    pager: Pager
    logs: LogSearch
    record_only: bool
    directory: Directory | None = None
    metrics: MetricSource | None = None
    graphs: MetricGraphs | None = None


def build_playbook(settings: Settings) -> Playbook:
    """Catalog, runbooks and response policy from settings (fails start-up on a bad runbook)."""
    responders = {Severity.CRITICAL: settings.slack_responders_critical, Severity.HIGH: settings.slack_responders_high}
    policy = ResponsePolicy(
        reopen_window=settings.reopen_window, ack_timeout=settings.ack_timeout,
        correlation_window=settings.correlation_window, storm_threshold=settings.storm_threshold,
        storm_window=settings.storm_window,
        investigate_timeout=settings.investigate_timeout,
        unknown_alarm_severity=Severity(settings.unknown_alarm_severity), alerts_channel=settings.slack_alerts_channel,
        incidents_channel=settings.slack_incidents_channel,
        responders=responders, dashboard_prefix=settings.dashboard_prefix,
        log_groups=tuple(settings.log_groups), default_region=settings.aws_region,
        runbook_base_url=settings.runbook_base_url, public_url=settings.public_url,
    )
    catalog = AlarmCatalog.load(settings.runbooks_dir, prefix=settings.alarm_prefix)
    runbooks = RunbookLibrary(settings.runbooks_dir, prefix=settings.alarm_prefix, queries_dir=settings.queries_dir)
    return Playbook(catalog=catalog, runbooks=runbooks, policy=policy)


def build_adapters(settings: Settings) -> Adapters:
    """Slack and PagerDuty when configured, record-only stand-ins otherwise."""
    chat: ChatOps = (
        SlackChat(settings.slack_bot_token, base_url=settings.slack_api_url,
                  timeout=max(1, round(settings.slack_timeout.total_seconds())))
        if settings.slack_configured else RecordingChat()
    )
    pager: Pager = (
        PagerDutyPager(settings.pagerduty_routing_key, base_url=settings.pagerduty_events_url)
        if settings.paging_configured else UnconfiguredPager()
    )
    directory = (PagerDutyRest(settings.pagerduty_api_token, base_url=settings.pagerduty_api_url)
                 if settings.pagerduty_api_token else None)
    return Adapters(chat=chat, pager=pager, logs=log_search_from_settings(settings),
                    record_only=not settings.slack_configured, directory=directory,
                    metrics=metric_source_from_settings(settings), graphs=metric_graphs_from_settings(settings))


def create_app(
    settings: Settings, *, adapters: Adapters | None = None, run_relay: bool = True,
    http_transport: httpx.AsyncBaseTransport | None = None, clock: Clock = wall_clock,
) -> FastAPI:
    """The ASGI app; `run_relay=False` leaves side effects queued (tests drive `app.state.relay` themselves).

    `http_transport` replaces the network for certificate downloads and subscription confirmations (tests);
    `clock` is what the domain and relay take for now (tests pass a fake one and advance it).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, settings.database_url)
        db = Database(settings.database_url)
        playbook = build_playbook(settings)
        parts = adapters or build_adapters(settings)
        metrics = Metrics()
        http = httpx.AsyncClient(timeout=settings.sns_cert_timeout.total_seconds(), follow_redirects=False,
                                 transport=http_transport)
        relay = Relay(db, playbook=playbook, chat=parts.chat, pager=parts.pager, logs=parts.logs,
                      queries=QueryCatalog.load(settings.queries_dir), record_only=parts.record_only, clock=clock,
                      directory=parts.directory, graphs=parts.graphs, metrics=parts.metrics, batch=RELAY_BATCH,
                      replica=settings.replica_id,
                      on_step=lambda step, _: metrics.outbox_steps.labels(step.kind).inc())
        commands = IncidentCommands(db, playbook=playbook, clock=clock, wake=relay.wake)

        async def fetch_cert(url: str) -> bytes:
            answer = await http.get(url)
            answer.raise_for_status()
            return answer.content

        async def confirm(url: str) -> None:
            try:
                (await http.get(url)).raise_for_status()
            except httpx.HTTPError as exc:
                raise ConfirmationFailed(f"could not confirm the subscription: {type(exc).__name__}") from None

        verifier = SignatureVerifier(fetch_cert, local_cert=settings.sns_signing_cert_file)
        app.state.settings, app.state.db, app.state.playbook, app.state.metrics = settings, db, playbook, metrics
        app.state.adapters, app.state.relay, app.state.commands, app.state.clock = parts, relay, commands, clock
        app.state.sns = SnsIntake(commands=commands, verifier=verifier, topics=set(settings.sns_topic_arns),
                                  confirm=confirm, metrics=metrics)
        if not settings.sns_topic_arns:
            log.warning("sns_topic_allowlist_empty", hint="set SNS_TOPIC_ARNS to accept only your alarm topics")
        if settings.web_open_to_loopback:
            log.warning("web_loopback_only", hint="no sign-in or API tokens configured: pages and /api answer "
                        "loopback clients only; set SLACK_CLIENT_ID or API_TOKENS to open them to others")
        slot = settings.quality_report_slot
        reporter = (WeeklyReporter(db, parts.chat, channel=settings.slack_alerts_channel, slot=slot, now=clock)
                    if slot else None)
        app.state.weekly_reporter = reporter
        stop = asyncio.Event()
        relay_task = asyncio.create_task(relay.run(stop)) if run_relay else None
        # Like the relay, a side effect: tests that drive the relay by hand call `weekly_reporter.tick()` themselves.
        report_task = asyncio.create_task(reporter.run(stop)) if reporter and run_relay else None
        drain_task = None
        if settings.sns_dlq_url:
            drain = DeadLetterDrain(queue=SqsDeadLetters(settings.sns_dlq_url, default_region=settings.aws_region),
                                    handle=app.state.sns.handle, lock=lambda: db.exclusive("sns-dlq"))
            app.state.dead_letters = drain
            drain_task = asyncio.create_task(drain.run(stop))
        watch = (HealthWatch(db, source=parts.metrics, chat=parts.chat, channel=settings.slack_alerts_channel,
                             clock=clock, interval=settings.health_watch_every)
                 if parts.metrics is not None and settings.health_watch_every.total_seconds() > 0 else None)
        app.state.health_watch = watch
        watch_task = asyncio.create_task(watch.run(stop)) if watch and run_relay else None
        log.info("incident_bot_started", database=db.engine.url.render_as_string(hide_password=True),
                 slack="configured" if settings.slack_configured else "record-only",
                 pagerduty="configured" if settings.paging_configured else "not configured",
                 logs_backend=settings.logs_backend)
        try:
            yield
        finally:
            stop.set()
            if relay_task:
                await relay_task
            if report_task:
                await report_task
            if drain_task:
                await drain_task
            if watch_task:
                await watch_task
            await http.aclose()
            await db.dispose()

    # The schema only: Swagger UI would need a CDN script the web view's Content-Security-Policy refuses.
    app = FastAPI(title="incident-bot", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.include_router(router)
    app.include_router(pagerduty_router)
    install_error_handlers(app)
    install_web(app, settings)
    from bot.transports.slack import mount_slack

    mount_slack(app, settings)
    return app


class NoTracebacks:
    """Outermost ASGI layer: an unexpected error answers 503 with one line, logged without a traceback."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("request_failed", path=scope.get("path"), error=f"{type(exc).__name__}: {exc}"[:500])
            if not started:
                body = b'{"error":"internal error; the request was not processed, retry later"}'
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": body})
