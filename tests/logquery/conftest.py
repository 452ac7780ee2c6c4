"""Fixtures for the local engine tests: the sample log files and an engine over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.duckdb_logs import DuckDBLogSearch
from tests.logquery import sample_logs


@pytest.fixture
def logs_glob(tmp_path: Path) -> str:
    """A glob matching the sample log file."""
    return sample_logs.write(tmp_path)


@pytest.fixture
def engine(logs_glob: str) -> DuckDBLogSearch:
    """The embedded engine over the sample logs."""
    return DuckDBLogSearch(logs_glob, timeout=30)
