"""Incidents: open, acknowledge, resolve; every side effect leaves through the outbox."""
