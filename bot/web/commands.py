"""What the page buttons do: the same domain calls the Slack buttons make, behind one function.

Acknowledge and Resolve go through `incident_action` only, so swapping the domain call (e.g. for an application
command) is a one-place change.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.incidents.models import Incident

Action = Literal["acknowledge", "resolve"]


async def incident_action(state: Any, action: Action, *, incident_id: int, by: str | None) -> Incident:
    """Acknowledge or resolve an incident through the same application command as the Slack buttons (which wakes
    the relay); raises BadInput."""
    commands = state.commands
    if action == "acknowledge":
        transition = await commands.acknowledge(incident_id=incident_id, channel_id=None, by=by)
    else:
        transition = await commands.resolve(incident_id=incident_id, channel_id=None, by=by)
    incident: Incident = transition.incident
    return incident
