"""Incidents: open, acknowledge, resolve; every side effect leaves through the outbox.

Entry points for transports: `commands.IncidentCommands`. The lifecycle rules: `service.py`; what each change
queues: `response.py`, as typed steps from `steps.py`; what the bot says: `messages.py`.
"""
