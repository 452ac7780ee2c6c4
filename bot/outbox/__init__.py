"""The outbox: queued side effects (Slack, PagerDuty, queries) performed exactly once each, with retries.

Module map:
- `relay.py`      the machinery: one worker per lane, claim with a short heartbeated lease, perform, record
                  each outcome at once, back off on transient failures, give up (on the timeline) on permanent ones.
- `table.py`      the kind → executor table (`StepKind` → `route(PayloadType, executor)`), checked by mypy.
- `execution.py`  `StepRun` (what an executor gets), `Done` (what it returns), `Route`.
- `chat.py`, `pager.py`, `queries.py`, `reminders.py`  the executors: they only perform what the payload says.
Payload types and kinds live in the domain (`bot/incidents/steps.py`); what to queue, and every decision about
it, in `bot/incidents/response.py`.

To add a step kind: payload in `steps.py`, plan it in `response.py`, an executor method, one line in `table.py`.
"""

from bot.outbox.relay import Relay

__all__ = ["Relay"]
