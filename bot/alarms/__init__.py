"""CloudWatch alarms: the typed alarm event, the catalog of alarms we know, and the context runbooks render with."""
