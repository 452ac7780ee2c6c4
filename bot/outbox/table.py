"""The kind → executor table: every `StepKind` and the executor that performs its payload.

To add a step kind: its payload in `bot/incidents/steps.py`, a method on the lane's executor class (`chat.py`,
`pager.py`, `queries.py`, `reminders.py`, or a new one built here), and one `route(...)` line below.
"""

from __future__ import annotations

from typing import Any

from bot.clock import Clock
from bot.health.ports import MetricSource
from bot.incidents.playbook import Playbook
from bot.incidents.ports import ChatOps, Directory, LogSearch, MetricGraphs, Pager
from bot.incidents.steps import (
    AckReminder,
    Bookmark,
    CreateChannel,
    Invite,
    Page,
    Post,
    PostAlert,
    PostGraph,
    PostHealth,
    PostLiving,
    PostPostmortem,
    PostRunbook,
    RefreshMessages,
    ReopenClosed,
    RunQuery,
    SetPurpose,
    SetTopic,
    StepKind,
    StormDigest,
)
from bot.outbox.chat import ChatSteps
from bot.outbox.execution import Route, route
from bot.outbox.graphs import GraphSteps
from bot.outbox.health import HealthSteps
from bot.outbox.pager import PagerSteps
from bot.outbox.queries import QuerySteps
from bot.outbox.reminders import ReminderSteps
from bot.queries.catalog import QueryCatalog
from bot.store import Database


def executor_table(
    db: Database, *, playbook: Playbook, chat: ChatOps, pager: Pager, logs: LogSearch, queries: QueryCatalog,
    clock: Clock, record_only: bool, directory: Directory | None = None, graphs: MetricGraphs | None = None,
    metrics: MetricSource | None = None,
) -> dict[StepKind, Route[Any]]:
    """Every step kind with its executor; raises if a kind has none (caught at start, not at 3 a.m.)."""
    chat_steps = ChatSteps(db, playbook=playbook, chat=chat, record_only=record_only, directory=directory,
                           clock=clock)
    graph_steps = GraphSteps(chat_steps, graphs=graphs, clock=clock)
    health_steps = HealthSteps(chat_steps, metrics=metrics, clock=clock)
    pager_steps = PagerSteps(pager)
    query_steps = QuerySteps(chat_steps, logs=logs, queries=queries)
    reminder_steps = ReminderSteps(chat_steps, clock=clock)
    table: dict[StepKind, Route[Any]] = {
        StepKind.CREATE_CHANNEL: route(CreateChannel, chat_steps.create_channel),
        StepKind.INVITE: route(Invite, chat_steps.invite),
        StepKind.POST: route(Post, chat_steps.post),
        StepKind.POST_ALERT: route(PostAlert, chat_steps.post_alert),
        StepKind.POST_RUNBOOK: route(PostRunbook, chat_steps.post_runbook),
        StepKind.POST_POSTMORTEM: route(PostPostmortem, chat_steps.post_postmortem),
        StepKind.SET_TOPIC: route(SetTopic, chat_steps.set_topic),
        StepKind.SET_PURPOSE: route(SetPurpose, chat_steps.set_purpose),
        StepKind.BOOKMARK: route(Bookmark, chat_steps.bookmark),
        StepKind.RUN_QUERY: route(RunQuery, query_steps.run_query),
        StepKind.PAGE: route(Page, pager_steps.page),
        StepKind.ACK_REMINDER: route(AckReminder, reminder_steps.ack_reminder),
        StepKind.STORM_DIGEST: route(StormDigest, chat_steps.storm_digest),
        StepKind.POST_LIVING: route(PostLiving, chat_steps.post_living),
        StepKind.REFRESH_MESSAGES: route(RefreshMessages, chat_steps.refresh_messages),
        StepKind.REOPEN_CLOSED: route(ReopenClosed, chat_steps.reopen_closed),
        StepKind.POST_GRAPH: route(PostGraph, graph_steps.post_graph),
        StepKind.POST_HEALTH: route(PostHealth, health_steps.post_health),
    }
    wrong = [kind for kind, entry in table.items() if entry.payload.kind is not kind]
    missing = set(StepKind) - set(table)
    if wrong or missing:
        raise RuntimeError(f"outbox executor table: missing {sorted(missing)}, mismatched {wrong}")
    return table
