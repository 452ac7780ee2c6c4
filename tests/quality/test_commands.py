"""`/incident outcome` and `/incident report` parsing, and `incident-bot report` on an empty store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import BadInput
from bot.transports.slack_commands import IncidentCommand, parse_incident


@pytest.mark.parametrize(("text", "expected"), [
    ("outcome actionable", IncidentCommand("outcome", outcome="actionable")),
    ("outcome false-positive 12", IncidentCommand("outcome", incident_id=12, outcome="false-positive")),
    ("outcome FP #7", IncidentCommand("outcome", incident_id=7, outcome="false-positive")),
    ("outcome missed", IncidentCommand("outcome", outcome="missed")),
    ("report", IncidentCommand("report", window=timedelta(days=7))),
    ("report 30d", IncidentCommand("report", window=timedelta(days=30))),
])
def test_outcome_and_report_parse(text: str, expected: IncidentCommand) -> None:
    assert parse_incident(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("outcome", "say how the page turned out"),
    ("outcome <!channel> 3", "unknown outcome '<!channel>'"),  # escaped where shown: the Slack error handler
    ("outcome duplicate 3 4", "takes at most an incident id"),
    ("report 5x", "unknown window"),
    ("report 7d extra", "at most a window"),
])
def test_bad_outcome_and_report_arguments_are_refused(text: str, reason: str) -> None:
    with pytest.raises(BadInput, match=reason):
        parse_incident(text)


def test_report_on_an_empty_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No incidents: an empty list (JSON) or one reassuring line (text); a bad --since is one line, exit 2."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    result = CliRunner().invoke(app, ["report", "--since", "7d", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["alarms"] == []
    assert "No alarm opened an incident" in CliRunner().invoke(app, ["report"]).output
    bad = CliRunner().invoke(app, ["report", "--since", "soon"])
    assert bad.exit_code == 2 and bad.output.startswith("incident-bot: --since: not a duration")
