"""incident-bot: turns CloudWatch alarms for the orders pipeline into incidents people can act on."""

__version__ = "0.1.0"
