"""Transports: HTTP intake for SNS and Slack. They parse, authenticate and hand over to the domain; nothing else."""
