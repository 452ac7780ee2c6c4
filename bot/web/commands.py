"""What the page buttons do: the same domain calls the Slack buttons make, behind one function.

Acknowledge and Resolve go through `incident_action` only, so swapping the domain call (e.g. for an application
command) is a one-place change.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.orm import Session

from bot.incidents import service
from bot.incidents.models import Incident

Action = Literal["acknowledge", "resolve"]


async def incident_action(state: Any, action: Action, *, incident_id: int, by: str | None) -> Incident:
    """Acknowledge or resolve an incident as the Slack buttons do, then wake the relay; raises BadInput."""
    def work(session: Session) -> Incident:
        if action == "acknowledge":
            return service.acknowledge(session=session, incident_id=incident_id, by=by)
        return service.resolve(session=session, incident_id=incident_id, by=by)

    incident: Incident = await state.db.run(work)
    state.relay.wake()
    return incident
