"""The Slack app (Bolt) at `POST /slack/events`: slash commands, incident buttons, one error handler.

Bolt checks each request's signature (`SLACK_SIGNING_SECRET`; a bad or stale one gets 401) and, with
`process_before_response=False`, answers Slack as soon as a listener calls `ack()`; the listener then keeps
running and posts its result through the request's `response_url`. Listeners stay thin: parse the
text (`slack_commands`), acknowledge, call the domain (`bot.incidents.service`, a catalog query on the
`LogSearch` port), render. Bad arguments raise `BadInput` before `ack()`, and the error handler turns them
into an ephemeral usage reply inside the acknowledgement itself.

To add a query command: map it in `QUERY_COMMANDS` (and add it to `slack-app-manifest.yaml`). To add a button:
register `bolt.action("<action_id>")` in `build_slack_app` with a listener that acks first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session

from bot.errors import BadInput, QueryError, VerificationFailed
from bot.incidents import service
from bot.incidents.messages import channel_link, mention
from bot.incidents.models import Incident, utcnow
from bot.incidents.playbook import Playbook
from bot.incidents.ports import LogSearch, Message, QueryResult
from bot.outbox import Relay
from bot.queries.catalog import QueryCatalog
from bot.queries.render import result_message
from bot.settings import Settings
from bot.store import Database
from bot.transports.http import MAX_BODY, error
from bot.transports.slack_commands import (
    IncidentCommand,
    QueryCommand,
    incident_id,
    overview_text,
    parse_incident,
    parse_trace,
    parse_window_only,
    status_text,
    usage,
    window_text,
)
from bot.transports.slack_requests import authenticate, check_body

log = structlog.get_logger("incident_bot.slack")

# Slash command -> (catalog query, argument parser).
QUERY_COMMANDS: dict[str, tuple[str, Callable[[str], QueryCommand]]] = {
    "/trace": ("order-trace", parse_trace),
    "/dlq-breakdown": ("dlq-breakdown", parse_window_only),
    "/slow-operators": ("slow-operators", parse_window_only),
}
DLQ_QUERY = "dlq-breakdown"
# Log queries started from Slack at once; more wait their turn. A scan takes every core it is given, and the
# acknowledgements of new commands share this process: measured on 2 cores, 8 parallel scans pushed acks to 2.4 s.
QUERY_SLOTS = 2
FAILED_REPLY = ":x: Something went wrong on our side; check the incident before trying again."

Listener = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SlackDeps:
    """What the listeners use, handed to Bolt with each request (app.state is filled only at start-up)."""

    db: Database
    relay: Relay
    playbook: Playbook
    logs: LogSearch
    queries: QueryCatalog
    query_slots: asyncio.Semaphore

    async def run(self, text: str, *, start: datetime, end: datetime) -> QueryResult:
        """Run a rendered query on the log engine, at most QUERY_SLOTS at a time."""
        async with self.query_slots:
            return await self.logs.run(text, start=start, end=end)


def mount_slack(app: FastAPI, settings: Settings) -> None:
    """Mount `POST /slack/events`: the Bolt app when Slack is configured, a one-line 503 otherwise."""
    missing = [name for name, value in (("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                                        ("SLACK_BOT_TOKEN", settings.slack_bot_token)) if not value]
    if missing:
        reason = f"Slack is not configured: set {' and '.join(missing)}"

        @app.post("/slack/events", include_in_schema=False)
        async def slack_unconfigured() -> Response:
            return error(503, reason)

        return

    queries = QueryCatalog.load(settings.queries_dir)
    slots = asyncio.Semaphore(QUERY_SLOTS)
    handler = AsyncSlackRequestHandler(build_slack_app(settings))

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        # Slack always sends Content-Length; Bolt reads the body itself, so the limit is checked on the header.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return error(413, f"body larger than {MAX_BODY // 1024} KiB")
        body = await request.body()  # Starlette keeps it: Bolt reads the same bytes again
        try:
            authenticate(body=body, timestamp=request.headers.get("x-slack-request-timestamp"),
                         signature=request.headers.get("x-slack-signature"), secret=settings.slack_signing_secret)
            check_body(body, request.headers.get("content-type"))
        except BadInput as exc:
            log.info("slack_request_rejected", reason=exc.reason, status=exc.status_code)
            return error(401 if isinstance(exc, VerificationFailed) else exc.status_code, exc.reason)
        state = request.app.state
        deps = SlackDeps(db=state.db, relay=state.relay, playbook=state.playbook, logs=state.adapters.logs,
                         queries=queries, query_slots=slots)
        return await handler.handle(request, {"deps": deps})


def build_slack_app(settings: Settings) -> AsyncApp:
    """The Bolt app with every listener registered; its Web API client talks to `SLACK_API_URL`."""
    bolt = AsyncApp(
        client=AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
        signing_secret=settings.slack_signing_secret,
        process_before_response=False,
        # Unknown commands reach the error handler (one log line) instead of Bolt's multi-line suggestion.
        raise_error_for_unhandled_request=True,
        logger=_bolt_logger(),
    )
    for command, (query_name, parse) in QUERY_COMMANDS.items():
        bolt.command(command)(_query_listener(query_name, parse))
    bolt.command("/incident")(incident_command)
    bolt.action("incident_acknowledge")(acknowledge_button)
    bolt.action("incident_resolve")(resolve_button)
    bolt.action("incident_dlq_breakdown")(dlq_breakdown_button)
    bolt.error(on_error)
    return bolt


class _TokenNoticeFilter(logging.Filter):
    """Drops Bolt's start-up warning that `token` is unused: Bolt reads SLACK_BOT_TOKEN from the environment on
    its own, and the client we give it carries that same token, so the warning would be noise on every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("incident_bot.slack.bolt")
    if not any(isinstance(f, _TokenNoticeFilter) for f in logger.filters):
        logger.addFilter(_TokenNoticeFilter())
    return logger


def _query_listener(query_name: str, parse: Callable[[str], QueryCommand]) -> Listener:
    async def run_query(ack: AsyncAck, body: dict[str, Any], command: dict[str, Any], respond: AsyncRespond,
                        context: AsyncBoltContext) -> None:
        deps = _deps(context)
        query = deps.queries.get(query_name)
        parsed = parse(str(command.get("text") or ""))
        text = query.render(parsed.params)  # validates and quotes every value before anything runs
        window = parsed.window or query.default_window
        await ack(response_type="ephemeral",
                  text=f":mag: Running _{query.title}_ over the last {window_text(window)}…")
        async with _after_ack(body, context):
            end = utcnow()
            start = end - window
            result = await deps.run(text, start=start, end=end)
            log.info("slack_query_answered", query=query_name, status=result.status, rows=len(result.rows),
                     user=command.get("user_id"))
            await _reply(respond, result_message(query, result, start=start, end=end))

    run_query.__name__ = f"run_{query_name.replace('-', '_')}"
    return run_query


async def incident_command(ack: AsyncAck, body: dict[str, Any], command: dict[str, Any], respond: AsyncRespond,
                           context: AsyncBoltContext) -> None:
    """`/incident status|ack|resolve [id]` and `/incident declare <title>`."""
    parsed = parse_incident(str(command.get("text") or ""))
    await ack()
    async with _after_ack(body, context):
        user, channel = command.get("user_id"), command.get("channel_id")
        text = await _run_incident_command(_deps(context), parsed, user=user, channel=channel)
        log.info("slack_incident_command", action=parsed.action, user=user)
        # ack/resolve are announced in the incident channel by the outbox; the caller gets a private confirmation.
        public = parsed.action in {"status", "declare"}
        await _reply(respond, Message(text=text, blocks=[_section(text)]), in_channel=public)


async def _run_incident_command(deps: SlackDeps, parsed: IncidentCommand, *, user: str | None,
                                channel: str | None) -> str:
    if parsed.action == "declare":
        incident = await deps.db.run(
            lambda session: service.declare(session=session, playbook=deps.playbook, title=parsed.title, by=user)
        )
        deps.relay.wake()
        return (f":rotating_light: Incident #{incident.id} *{incident.title}* declared by {_who(user)} "
                f"({incident.severity}): opening {channel_link(incident)} and inviting the responders.")
    if parsed.action == "status":
        def status(session: Session) -> str:
            if parsed.incident_id is None and channel and _channel_incident(session, channel) is None:
                return overview_text(service.unresolved(session=session), now=utcnow())
            incident = service.find(session=session, incident_id=parsed.incident_id, channel_id=channel)
            return status_text(incident, now=utcnow())

        return await deps.db.run(status)
    return await _transition(deps, parsed.action, incident_id=parsed.incident_id, channel=channel, user=user)


async def _transition(deps: SlackDeps, action: str, *, incident_id: int | None, channel: str | None,
                      user: str | None) -> str:
    """Acknowledge or resolve; the service queues the page update and the channel post."""
    def transition(session: Session) -> tuple[Incident, str]:
        incident = service.find(session=session, incident_id=incident_id, channel_id=channel)
        before = incident.status
        if action == "ack":
            service.acknowledge(session=session, incident_id=incident.id, by=user)
        else:
            service.resolve(session=session, incident_id=incident.id, by=user)
        return incident, before

    incident, before = await deps.db.run(transition)
    deps.relay.wake()
    done = "acknowledged" if action == "ack" else "resolved"
    if before == incident.status:
        return f"Incident #{incident.id} *{incident.title}* was already {done}."
    return f":white_check_mark: Incident #{incident.id} *{incident.title}* {done} by {_who(user)}."


async def acknowledge_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                             respond: AsyncRespond, context: AsyncBoltContext) -> None:
    """The Acknowledge button of an incident message."""
    await ack()
    async with _after_ack(body, context):
        await _button_transition("ack", body, action, respond, context)


async def resolve_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond,
                         context: AsyncBoltContext) -> None:
    """The Resolve button of an incident message."""
    await ack()
    async with _after_ack(body, context):
        await _button_transition("resolve", body, action, respond, context)


async def _button_transition(verb: str, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond,
                             context: AsyncBoltContext) -> None:
    user = (body.get("user") or {}).get("id")
    incident_id = _button_incident(action)
    text = await _transition(_deps(context), verb, incident_id=incident_id, channel=None, user=user)
    log.info("slack_button_pressed", action=action.get("action_id"), user=user)
    # The channel hears about it from the outbox post; the presser gets a private confirmation.
    await _reply(respond, Message(text=text, blocks=[_section(text)]), in_channel=False)


async def dlq_breakdown_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                               respond: AsyncRespond, context: AsyncBoltContext) -> None:
    """Run DLQ breakdown: the dlq-breakdown query over the incident's alarm window, posted in the channel."""
    await ack()
    async with _after_ack(body, context):
        deps = _deps(context)
        query = deps.queries.get(DLQ_QUERY)
        incident_id = _button_incident(action)
        incident = await deps.db.run(
            lambda session: service.find(session=session, incident_id=incident_id, channel_id=None)
        )
        start, end = service.alarm_window(incident, fallback=query.default_window)
        result = await deps.run(query.render({}), start=start, end=end)
        log.info("slack_query_answered", query=DLQ_QUERY, status=result.status, rows=len(result.rows),
                 incident_id=incident.id)
        await _reply(respond, result_message(query, result, start=start, end=end))


async def on_error(error: Exception, body: dict[str, Any], response: BoltResponse | None,
                   context: AsyncBoltContext) -> BoltResponse | None:
    """Domain errors become Slack replies: inside the acknowledgement when it is not sent yet, else through
    `response_url`. One log line each, never a traceback."""
    command = str(body.get("command") or "")
    what = command or str(body.get("type") or "request")
    if isinstance(error, BoltUnhandledRequestError):
        log.info("slack_request_unhandled", what=what)
        if command and response is not None:
            return _ephemeral(f":warning: incident-bot does not know {command}.")
        return None
    if isinstance(error, BadInput):
        log.info("slack_request_refused", what=what, reason=error.reason)
        text = f":warning: {error.reason}"
        if response is not None and command:
            text += f"\n{usage(command)}"
    elif isinstance(error, QueryError):
        log.warning("slack_query_failed", what=what, error=_one_line(str(error)))
        text = f":warning: the query could not run: {error}"
    else:
        log.error("slack_request_failed", what=what, error=_one_line(f"{type(error).__name__}: {error}"))
        text = FAILED_REPLY
    if response is not None:  # not acknowledged yet: this reply is the acknowledgement
        return _ephemeral(text)
    respond = context.respond
    if respond is not None:
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception as exc:  # the error path must not raise into Bolt's unobserved task
            log.warning("slack_reply_failed", what=what, error=_one_line(f"{type(exc).__name__}: {exc}"))
    return None


@asynccontextmanager
async def _after_ack(body: dict[str, Any], context: AsyncBoltContext) -> AsyncIterator[None]:
    """Hand a failure after `ack()` to `on_error` here instead of raising it back into Bolt: bolt-python's
    runner clears the acknowledgement when a listener fails after acking, so a failure within its 10 ms poll
    would turn a sent ack into a 3 s timeout (and an "unhandled request")."""
    try:
        yield
    except Exception as exc:
        await on_error(exc, body, None, context)


async def _reply(respond: AsyncRespond, message: Message, *, in_channel: bool = True) -> None:
    """Post through `response_url`; a refusal is logged (the command already ran), not retried."""
    answer = await respond(text=message.text[:3000], blocks=[dict(block) for block in message.blocks],
                           response_type="in_channel" if in_channel else "ephemeral", replace_original=False)
    if answer.status_code != 200:
        log.warning("slack_reply_refused", status=answer.status_code, body=_one_line(str(answer.body)))


def _deps(context: AsyncBoltContext) -> SlackDeps:
    deps = context.get("deps")
    if not isinstance(deps, SlackDeps):
        raise RuntimeError("Slack request without deps: mount the Bolt app with mount_slack")
    return deps


def _channel_incident(session: Session, channel: str) -> Incident | None:
    try:
        return service.find(session=session, incident_id=None, channel_id=channel)
    except BadInput:
        return None


def _button_incident(action: dict[str, Any]) -> int:
    return incident_id(str(action.get("value") or ""), what="this button carries no incident id")


def _who(user: str | None) -> str:
    return mention([user]) if user else "someone"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _ephemeral(text: str) -> BoltResponse:
    return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
