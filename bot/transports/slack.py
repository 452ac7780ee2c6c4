"""The Slack app (Bolt) at `POST /slack/events`: slash commands, incident buttons, one error handler.

Bolt checks each request's signature (`SLACK_SIGNING_SECRET`; a bad or stale one gets 401) and, with
`process_before_response=False`, answers Slack as soon as a listener calls `ack()`; the listener then keeps
running and posts its result through the request's `response_url`. Listeners stay thin: parse the
text (`slack_commands`), acknowledge, call one application command (`bot.incidents.commands`) or a catalog
query on the `LogSearch` port, render (through `bot.presentation`, outside text escaped). Bad arguments raise
`BadInput` before `ack()`, and the error handler turns them into an ephemeral usage reply inside the
acknowledgement itself.

To add a query command: map it in `QUERY_COMMANDS` (and add it to `slack-app-manifest.yaml`). To add a button:
register `bolt.action("<action_id>")` in `build_slack_app` with a listener that acks first.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
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

from bot.clock import Clock
from bot.errors import BadInput, MetricsUnavailable, QueryError, VerificationFailed
from bot.health.ports import MetricSource
from bot.health.verdict import assess, health_text
from bot.incidents.commands import IncidentCommands
from bot.incidents.messages import OUTCOME_ACTION_PREFIX, channel_link, mention, review_modal, with_state_buttons
from bot.incidents.models import Incident
from bot.incidents.outcomes import LABELS
from bot.incidents.ports import LogSearch, Message, QueryResult
from bot.incidents.quality import report_text
from bot.incidents.review import ReviewFields
from bot.presentation import mrkdwn as md
from bot.presentation.blocks import BLOCKS_MAX, fit_message, section, sections
from bot.queries.catalog import QueryCatalog
from bot.queries.patterns import query_text
from bot.queries.render import result_message
from bot.settings import Settings
from bot.transports.http import MAX_BODY, error
from bot.transports.slack_commands import (
    IncidentCommand,
    QueryCommand,
    incident_id,
    overview_text,
    parse_incident,
    parse_log_patterns,
    parse_no_arguments,
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
    "/log-patterns": ("log-patterns", parse_log_patterns),
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

    commands: IncidentCommands
    clock: Clock
    logs: LogSearch
    queries: QueryCatalog
    query_slots: asyncio.Semaphore
    metrics: MetricSource | None = None

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
        deps = SlackDeps(commands=state.commands, clock=state.clock, logs=state.adapters.logs,
                         queries=queries, query_slots=slots, metrics=state.adapters.metrics)
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
    bolt.command("/pipeline-health")(pipeline_health_command)
    bolt.action("incident_acknowledge")(acknowledge_button)
    bolt.action("incident_resolve")(resolve_button)
    bolt.action("incident_dlq_breakdown")(dlq_breakdown_button)
    bolt.action(re.compile(f"^{OUTCOME_ACTION_PREFIX}"))(outcome_button)
    bolt.action("incident_reopen")(reopen_button)
    bolt.action("incident_review")(review_button)
    bolt.view("incident_review")(review_submitted)
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
        # Validates and quotes every value (and checks an extra filter condition) before anything runs.
        text = query_text(query, parsed.params, parsed.condition)
        window = parsed.window or query.default_window
        await ack(response_type="ephemeral",
                  text=f":mag: Running _{query.title}_ over the last {window_text(window)}…")
        async with _after_ack(body, context):
            end = deps.clock()
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
        public = parsed.action in {"status", "declare", "outcome", "report"}
        blocks = sections(text)[:BLOCKS_MAX] if parsed.action == "report" else [section(text)]
        await _reply(respond, Message(text=text, blocks=blocks), in_channel=public)


async def pipeline_health_command(ack: AsyncAck, body: dict[str, Any], command: dict[str, Any],
                                  respond: AsyncRespond, context: AsyncBoltContext) -> None:
    """`/pipeline-health`: the five-signal verdict, posted in the channel."""
    parse_no_arguments("/pipeline-health", str(command.get("text") or ""))
    await ack(response_type="ephemeral", text=":stethoscope: Reading the pipeline's five health signals…")
    async with _after_ack(body, context):
        source = _deps(context).metrics
        if source is None:
            raise BadInput("pipeline health is not configured (METRICS_BACKEND)")
        health = await assess(source, now=_deps(context).clock)
        log.info("slack_pipeline_health", status=str(health.status), user=command.get("user_id"))
        text = health_text(health)
        await _reply(respond, Message(text=text, blocks=[section(text)]))


async def _run_incident_command(deps: SlackDeps, parsed: IncidentCommand, *, user: str | None,
                               channel: str | None) -> str:
    commands = deps.commands
    if parsed.action == "declare":
        incident = await commands.declare(title=parsed.title, by=user)
        return (f":rotating_light: Incident #{incident.id} {md.bold(incident.title)} declared by {_who(user)} "
                f"({incident.severity}): opening {channel_link(incident)} and inviting the responders.")
    if parsed.action == "note":
        incident = await commands.note(incident_id=None, channel_id=channel, text=parsed.title, by=user)
        return f":memo: Noted on the timeline of incident #{incident.id}: {md.escape(parsed.title)}"
    if parsed.action == "status":
        status = await commands.status(incident_id=parsed.incident_id, channel_id=channel)
        if status.incident is None:
            return overview_text(status.unresolved, now=deps.clock())
        return status_text(status.incident, now=deps.clock())
    if parsed.action == "outcome":
        return await _classify(deps, parsed.outcome, incident_id=parsed.incident_id, channel=channel, user=user)
    if parsed.action == "report":
        return report_text(await commands.quality_report(window=parsed.window or timedelta(days=7)))
    return await _transition(deps, parsed.action, incident_id=parsed.incident_id, channel=channel, user=user)


async def _transition(deps: SlackDeps, action: str, *, incident_id: int | None, channel: str | None,
                      user: str | None) -> str:
    """Acknowledge or resolve; the command queues the page update and the channel post."""
    change = deps.commands.acknowledge if action == "ack" else deps.commands.resolve
    transition = await change(incident_id=incident_id, channel_id=channel, by=user)
    incident = transition.incident
    done = "acknowledged" if action == "ack" else "resolved"
    if not transition.changed:
        return f"Incident #{incident.id} {md.bold(incident.title)} was already {done}."
    return f":white_check_mark: Incident #{incident.id} {md.bold(incident.title)} {done} by {_who(user)}."


async def _classify(deps: SlackDeps, kind: str, *, incident_id: int | None, channel: str | None,
                    user: str | None) -> str:
    """Record how the page turned out (`/incident outcome`, the outcome buttons): one command for both."""
    incident = await deps.commands.classify(incident_id=incident_id, channel_id=channel, kind=kind, by=user)
    return (f":label: Incident #{incident.id} {md.bold(incident.title)} classified *{LABELS[kind]}* "
            f"by {_who(user)}.")


async def outcome_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond,
                         context: AsyncBoltContext) -> None:
    """Actionable / False positive / Duplicate / Missed on the resolved message: the kind is in the action id."""
    await ack()
    async with _after_ack(body, context):
        user = (body.get("user") or {}).get("id")
        kind = str(action.get("action_id") or "").removeprefix(OUTCOME_ACTION_PREFIX)
        text = await _classify(_deps(context), kind, incident_id=_button_incident(action), channel=None, user=user)
        log.info("slack_button_pressed", action=action.get("action_id"), user=user)
        await _reply(respond, Message(text=text, blocks=[section(text)]))


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
    deps = _deps(context)
    text = await _transition(deps, verb, incident_id=incident_id, channel=None, user=user)
    log.info("slack_button_pressed", action=action.get("action_id"), user=user)
    incident = await deps.commands.find(incident_id=incident_id)
    await _replace_clicked(body, respond, deps, incident, fallback=text)


async def _replace_clicked(body: dict[str, Any], respond: AsyncRespond, deps: SlackDeps, incident: Incident, *,
                           fallback: str) -> None:
    """Replace the message the button was on (through its response_url) with its buttons matching the state
    now; the messages that follow the incident are also updated by the outbox."""
    original = body.get("message") or {}
    blocks = with_state_buttons(original.get("blocks") or [section(fallback)], incident, now=deps.clock(),
                                reopen_window=deps.commands.playbook.policy.reopen_window)
    message = fit_message(Message(text=str(original.get("text") or fallback), blocks=blocks))
    answer = await respond(text=message.text, blocks=[dict(b) for b in message.blocks], replace_original=True)
    if answer.status_code != 200:
        log.warning("slack_reply_refused", status=answer.status_code, body=_one_line(str(answer.body)))


async def reopen_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond,
                        context: AsyncBoltContext) -> None:
    """Reopen, offered on a resolved incident's messages within the reopen window."""
    await ack()
    async with _after_ack(body, context):
        user = (body.get("user") or {}).get("id")
        deps = _deps(context)
        incident = await deps.commands.reopen(incident_id=_button_incident(action), by=user)
        log.info("slack_button_pressed", action="incident_reopen", user=user)
        await _replace_clicked(body, respond, deps, incident,
                               fallback=f":repeat: Incident #{incident.id} reopened by {_who(user)}.")


async def review_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                        context: AsyncBoltContext) -> None:
    """Write post-incident review: open the review modal (its trigger_id lasts 3 s, so this comes first)."""
    await ack()
    async with _after_ack(body, context):
        incident, written = await _deps(context).commands.review(incident_id=_button_incident(action))
        view = review_modal(incident, summary=written.summary, root_cause=written.root_cause, impact=written.impact,
                            prevention=written.prevention, owner=written.owner)
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
        log.info("slack_review_opened", incident_id=incident.id, user=(body.get("user") or {}).get("id"))


async def review_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                           context: AsyncBoltContext) -> None:
    """The review modal's view_submission: stored like the web review page, summarised in the incidents channel;
    a field Slack would not take back is refused inside the modal."""
    user = (body.get("user") or {}).get("id")
    metadata = str(view.get("private_metadata") or "")
    if not metadata.isdigit():
        await ack(response_action="errors", errors={"summary": "This form lost its incident; open it again."})
        return
    values = (view.get("state") or {}).get("values") or {}

    def value(block: str) -> str:
        field = (values.get(block) or {}).get("value") or {}
        return str(field.get("value") or field.get("selected_user") or "")

    fields = ReviewFields(summary=value("summary"), root_cause=value("root_cause"), impact=value("impact"),
                          prevention=value("prevention"), owner=value("owner"))
    try:
        incident = await _deps(context).commands.save_review(incident_id=int(metadata), fields=fields, by=user)
    except BadInput as exc:
        await ack(response_action="errors", errors={"summary": exc.reason[:150]})
        return
    await ack()
    log.info("slack_review_saved", incident_id=incident.id, user=user)


async def dlq_breakdown_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                               respond: AsyncRespond, context: AsyncBoltContext) -> None:
    """Run DLQ breakdown: the dlq-breakdown query over the incident's alarm window, posted in the channel."""
    await ack()
    async with _after_ack(body, context):
        deps = _deps(context)
        query = deps.queries.get(DLQ_QUERY)
        incident, (start, end) = await deps.commands.alarm_window(incident_id=_button_incident(action),
                                                                  fallback=query.default_window)
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
            return _ephemeral(f":warning: incident-bot does not know {md.escape(command)}.")
        return None
    if isinstance(error, BadInput):
        log.info("slack_request_refused", what=what, reason=error.reason)
        text = f":warning: {md.escape(error.reason)}"
        if response is not None and command:
            text += f"\n{usage(command)}"
    elif isinstance(error, QueryError):
        log.warning("slack_query_failed", what=what, error=_one_line(str(error)))
        text = f":warning: the query could not run: {md.escape(str(error))}"
    elif isinstance(error, MetricsUnavailable):
        log.warning("slack_metrics_unavailable", what=what, error=_one_line(str(error)))
        text = f":warning: the pipeline's metrics could not be read: {md.escape(str(error))}"
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
    message = fit_message(message)
    answer = await respond(text=message.text, blocks=[dict(block) for block in message.blocks],
                           response_type="in_channel" if in_channel else "ephemeral", replace_original=False)
    if answer.status_code != 200:
        log.warning("slack_reply_refused", status=answer.status_code, body=_one_line(str(answer.body)))


def _deps(context: AsyncBoltContext) -> SlackDeps:
    deps = context.get("deps")
    if not isinstance(deps, SlackDeps):
        raise RuntimeError("Slack request without deps: mount the Bolt app with mount_slack")
    return deps


def _button_incident(action: dict[str, Any]) -> int:
    return incident_id(str(action.get("value") or ""), what="this button carries no incident id")


def _who(user: str | None) -> str:
    return mention([user]) if user else "someone"


def _ephemeral(text: str) -> BoltResponse:
    return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
