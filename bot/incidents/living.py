"""Messages that follow the incident: the summary at the top of its channel, its announcement and (HIGH) its alert
in the alerts channel, rendered from the incident as it is at that moment.

`response.py` decides when they are posted (`PostLiving`) and updated (`RefreshMessages`: on acknowledge,
unacknowledge, escalate, reopen, resolve, a PagerDuty link learnt, a correlated alarm joining); the chat executor
keeps each message's channel and ts (`incident_messages`) and calls `render` both times, so a message always
shows the state, buttons and links of its incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime

from bot.alarms.models import AlarmEvent, alarm_from_body
from bot.errors import BadInput, ConfigError
from bot.incidents import messages
from bot.incidents.models import Incident
from bot.incidents.playbook import Playbook
from bot.incidents.ports import Message
from bot.incidents.steps import Role
from bot.runbooks.mrkdwn import to_mrkdwn
from bot.runbooks.sections import first_steps

Alarms = Sequence[tuple[str, str]]


def render(role: Role, incident: Incident, *, playbook: Playbook, now: datetime, alarms: Alarms = (),
           graph_file: str | None = None) -> Message:
    """The message `role` of `incident` as it should read now: `alarms` (name, state) as
    `repository.alarm_states` lists them, `graph_file` the metric graph shared in the channel."""
    event = _event(incident)
    links = _links(incident, event, playbook)
    window = playbook.policy.reopen_window
    if role is Role.ANNOUNCEMENT:
        return messages.living_announcement(incident, event, links=links, alarms=alarms, now=now)
    if role is Role.ALERT and event is not None:
        return messages.living_alert(incident, event, first_steps=_first_steps(incident, event, playbook),
                                     links=links, alarms=alarms, now=now, reopen_window=window)
    return messages.living_summary(incident, event, links=links, alarms=alarms, now=now, reopen_window=window,
                                   graph_file=graph_file)


def _event(incident: Incident) -> AlarmEvent | None:
    if not incident.alarm:
        return None
    with suppress(BadInput):
        return alarm_from_body(incident.alarm)
    return None


def _links(incident: Incident, event: AlarmEvent | None, playbook: Playbook) -> dict[str, str]:
    if event is None:
        return {}
    links = playbook.context(event, incident_id=incident.id, channel=incident.channel_name)["links"]
    return {"CloudWatch alarm": links.get("alarm", ""), "Dashboard": links.get("dashboard", ""),
            "Runbook": links.get("runbook", "")}


def _first_steps(incident: Incident, event: AlarmEvent, playbook: Playbook) -> str | None:
    """The runbook cut to its first section before it becomes mrkdwn (a cut never splits an escape)."""
    context = playbook.context(event, incident_id=incident.id, channel=incident.channel_name)
    try:
        return to_mrkdwn(first_steps(playbook.runbook(event, context)))
    except ConfigError:
        return None
