"""Shared fixtures; each area keeps its own in a plugin module listed here."""

pytest_plugins = ["tests.fakes.fixtures"]
