"""Outbox steps as types: lanes, kinds, statuses, and one typed payload per step kind.

A payload says exactly what to do; the executor (in `bot/outbox/`) only performs it. Payloads are frozen
dataclasses stored as JSON in `outbox.payload` (`to_json` / `payload_of`), so a row written by an older
replica still reads back as long as fields are only added with defaults.

To add a step kind: add a `StepKind` member, a payload dataclass here (its `kind` and `lane` ClassVars) listed in
`PAYLOADS`, plan it in `bot/incidents/response.py`, and add an executor to the table in `bot/outbox/table.py`
(mypy checks that the executor takes this payload type; the relay refuses to start with a kind left out).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Self


class Lane(StrEnum):
    """Steps of one incident run in order within a lane; lanes run side by side, each with its own worker."""

    CHAT = "chat"
    PAGER = "pager"
    REMINDER = "reminder"
    TIMER = "timer"  # updates due later (the reopen window closing): never holds up the other lanes


class StepKind(StrEnum):
    """What a step does; one payload class and one executor each."""

    CREATE_CHANNEL = "create_channel"
    INVITE = "invite"
    POST = "post"
    POST_ALERT = "post_alert"
    POST_RUNBOOK = "post_runbook"
    POST_POSTMORTEM = "post_postmortem"
    SET_TOPIC = "set_topic"
    SET_PURPOSE = "set_purpose"
    BOOKMARK = "bookmark"
    RUN_QUERY = "run_query"
    PAGE = "page"
    ACK_REMINDER = "ack_reminder"
    STORM_DIGEST = "storm_digest"
    POST_LIVING = "post_living"
    REFRESH_MESSAGES = "refresh_messages"
    REOPEN_CLOSED = "reopen_closed"
    POST_GRAPH = "post_graph"
    POST_HEALTH = "post_health"


class StepStatus(StrEnum):
    """`pending` until performed (`done`) or given up (`failed`)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Target(StrEnum):
    """Where a chat step posts: the incident's own channel (the alerts channel while it has none) or alerts."""

    INCIDENT = "incident"
    ALERTS = "alerts"
    TEAM = "team"  # the team's incidents channel (SLACK_INCIDENTS_CHANNEL): post-incident review summaries


class Role(StrEnum):
    """Messages that follow the incident (kept with their ts, updated in place as it changes)."""

    SUMMARY = "summary"  # the first message of the incident channel
    ANNOUNCEMENT = "announcement"  # a CRITICAL incident's announcement in the alerts channel
    ALERT = "alert"  # a HIGH alert in the alerts channel


class PageAction(StrEnum):
    """PagerDuty Events API v2 actions."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Payload:
    """Base of every step payload."""

    kind: ClassVar[StepKind]
    lane: ClassVar[Lane] = Lane.CHAT

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in `outbox.payload`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The payload back from its stored JSON; unknown keys are ignored, enum fields become enums again."""
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            if item.name not in data:
                continue
            value, kind = data[item.name], hints.get(item.name)
            if isinstance(kind, type) and issubclass(kind, StrEnum):
                value = kind(value)
            elif typing.get_origin(kind) is list and _is_enum(typing.get_args(kind)[0]):
                value = [typing.get_args(kind)[0](v) for v in value]
            values[item.name] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class CreateChannel(Payload):
    """Create the incident channel `name` (or `name-2`… when taken), adopting one we made before."""

    kind: ClassVar[StepKind] = StepKind.CREATE_CHANNEL
    name: str


@dataclass(frozen=True, slots=True)
class Invite(Payload):
    """Invite responders (user ids, emails, user-group handles) into the incident channel."""

    kind: ClassVar[StepKind] = StepKind.INVITE
    users: list[str]


@dataclass(frozen=True, slots=True)
class Post(Payload):
    """Post a message already rendered at planning time; `mention` responders are looked up and put in front."""

    kind: ClassVar[StepKind] = StepKind.POST
    target: Target
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    note: str = "message posted"
    mention: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PostAlert(Payload):
    """The alert in the alerts channel (no incident channel): rendered when posted; with the runbook if asked."""

    kind: ClassVar[StepKind] = StepKind.POST_ALERT
    include_runbook: bool = False
    mention: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PostRunbook(Payload):
    """Render the incident's runbook when posting (so it names the real channel) and post it. `alarm`: the body
    of a correlated alarm whose runbook to post instead of the incident's own; `first_steps`: only up to the
    end of its first numbered section."""

    kind: ClassVar[StepKind] = StepKind.POST_RUNBOOK
    target: Target = Target.INCIDENT
    alarm: dict[str, Any] = field(default_factory=dict)
    first_steps: bool = False


@dataclass(frozen=True, slots=True)
class PostPostmortem(Payload):
    """Render the post-incident template from the timeline as it is when posting, and post it."""

    kind: ClassVar[StepKind] = StepKind.POST_POSTMORTEM
    target: Target = Target.INCIDENT


@dataclass(frozen=True, slots=True)
class SetTopic(Payload):
    """Set the incident channel's topic (plain text)."""

    kind: ClassVar[StepKind] = StepKind.SET_TOPIC
    topic: str


@dataclass(frozen=True, slots=True)
class SetPurpose(Payload):
    """Set the incident channel's purpose (plain text)."""

    kind: ClassVar[StepKind] = StepKind.SET_PURPOSE
    purpose: str


@dataclass(frozen=True, slots=True)
class Bookmark(Payload):
    """Bookmark a link in the incident channel."""

    kind: ClassVar[StepKind] = StepKind.BOOKMARK
    title: str
    link: str


@dataclass(frozen=True, slots=True)
class RunQuery(Payload):
    """Run catalog query `query` over [start, end] (ISO 8601) and post its result."""

    kind: ClassVar[StepKind] = StepKind.RUN_QUERY
    query: str
    start: str
    end: str
    target: Target = Target.INCIDENT


@dataclass(frozen=True, slots=True)
class Page(Payload):
    """One PagerDuty event. `link_channel`: add a link to the incident channel as it is when sent (the name may
    have gained a suffix after planning)."""

    kind: ClassVar[StepKind] = StepKind.PAGE
    lane: ClassVar[Lane] = Lane.PAGER
    action: PageAction
    dedup_key: str
    summary: str = ""
    severity: str = "critical"
    source: str = ""
    component: str = ""
    custom_details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    link_channel: bool = False
    images: list[dict[str, str]] = field(default_factory=list)
    timestamp: str = ""  # when the alarm changed state (ISO 8601), PagerDuty's payload.timestamp


@dataclass(frozen=True, slots=True)
class AckReminder(Payload):
    """Round `round` of the unacknowledged-incident nudge, posted in each of `targets` (each channel once) unless
    the incident was acknowledged, resolved or reopened (`reopen_count` changed) since it was planned."""

    kind: ClassVar[StepKind] = StepKind.ACK_REMINDER
    lane: ClassVar[Lane] = Lane.REMINDER
    round: int
    reopen_count: int
    mention: list[str]
    target_time: str
    targets: list[Target] = field(default_factory=lambda: [Target.INCIDENT])


@dataclass(frozen=True, slots=True)
class StormDigest(Payload):
    """Show storm `storm_id` in the alerts channel as one message: posted by the step with `first`, updated in
    place (chat.update) by the others, rendered from the storm's incidents as they are when performed."""

    kind: ClassVar[StepKind] = StepKind.STORM_DIGEST
    storm_id: int
    first: bool = False


@dataclass(frozen=True, slots=True)
class PostLiving(Payload):
    """Post the message `role` of the incident (rendered when posted, so it links the real channel) and keep its
    ts: the summary in the incident channel, the announcement or alert in the alerts channel."""

    kind: ClassVar[StepKind] = StepKind.POST_LIVING
    role: Role
    mention: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RefreshMessages(Payload):
    """Update in place (chat.update) every message that follows the incident, rendered from the incident as it is
    when performed: status, who acknowledged, duration, alarms, links, buttons matching the state."""

    kind: ClassVar[StepKind] = StepKind.REFRESH_MESSAGES
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ReopenClosed(Payload):
    """The reopen window of a resolved incident closed: update its messages so they no longer offer Reopen."""

    kind: ClassVar[StepKind] = StepKind.REOPEN_CLOSED
    lane: ClassVar[Lane] = Lane.TIMER


@dataclass(frozen=True, slots=True)
class PostGraph(Payload):
    """Draw the alarm metric over [start, end] (ISO 8601), ALARM shaded from `alarm_start`; keep the PNG on the
    incident and upload it into the incident channel (unless record-only)."""

    kind: ClassVar[StepKind] = StepKind.POST_GRAPH
    start: str
    end: str
    alarm_start: str


@dataclass(frozen=True, slots=True)
class PostHealth(Payload):
    """Post the pipeline's health verdict (five signals) as it is when performed."""

    kind: ClassVar[StepKind] = StepKind.POST_HEALTH
    target: Target = Target.INCIDENT


PAYLOADS: dict[StepKind, type[Payload]] = {
    cls.kind: cls
    for cls in (CreateChannel, Invite, Post, PostAlert, PostRunbook, PostPostmortem, SetTopic, SetPurpose, Bookmark,
                RunQuery, Page, AckReminder, StormDigest, PostLiving, RefreshMessages, ReopenClosed,
                PostGraph, PostHealth)
}


def _hints(cls: type) -> dict[str, Any]:
    """A payload class's resolved field types (resolving evaluates annotations: once per class, not per row)."""
    return _cached_hints(cls)


@functools.cache
def _cached_hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_enum(kind: object) -> bool:
    return isinstance(kind, type) and issubclass(kind, StrEnum)


def payload_of(kind: str, data: Mapping[str, Any]) -> Payload:
    """The typed payload of a stored step; raises KeyError for a kind this code does not know."""
    return PAYLOADS[StepKind(kind)].from_json(data)
