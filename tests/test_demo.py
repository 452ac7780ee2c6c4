"""`make demo` end to end: orders with a schema change → PyFlink job → DLQ spike alarm → incident → answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app


@pytest.mark.slow
def test_demo_tells_the_whole_story(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo opens a CRITICAL incident, finds parse errors with the schema-change hint, and resolves it."""
    for name in ("SLACK_BOT_TOKEN", "PAGERDUTY_ROUTING_KEY", "SNS_TOPIC_ARNS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "orders-pipeline-DLQSpike: OK → ALARM" in out
    assert "orders-pipeline-DLQSpike: ALARM → OK" in out
    assert "CRITICAL · DLQ spike · resolved" in out
    assert "dlq-breakdown: parse_error" in out
    assert "look for a source schema change" in out
    assert "PagerDuty not configured: would trigger" in out
    assert "post-incident template posted" in out
    report = (tmp_path / "demo" / "postmortem-1.md").read_text()
    assert "DLQ spike" in report
