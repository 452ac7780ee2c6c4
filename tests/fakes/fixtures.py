"""Pytest fixtures that start the fake Slack and PagerDuty servers."""
