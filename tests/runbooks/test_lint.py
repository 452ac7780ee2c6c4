"""`incident-bot lint` over the runbooks: exit codes and the problems it names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.runbooks import RunbookLibrary

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
QUERIES = ("errors-by-type", "latency-percentiles", "slow-operators", "dlq-spike-cause", "dlq-breakdown",
           "order-trace", "log-patterns")


@pytest.fixture
def runbooks(tmp_path: Path) -> Path:
    """A scratch copy of the repository's runbooks."""
    return Path(shutil.copytree(RUNBOOKS, tmp_path / "runbooks"))


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    """A scratch copy of the repository's queries (the guide's six)."""
    folder = Path(shutil.copytree(RUNBOOKS.parent / "queries", tmp_path / "queries"))
    assert {p.stem for p in folder.glob("*.yaml")} == set(QUERIES)
    return folder


def lint(runbooks: Path, queries: Path) -> tuple[int, str]:
    """Run `incident-bot lint` on these directories; (exit code, output)."""
    result = CliRunner().invoke(app, ["lint", "--runbooks-dir", str(runbooks), "--queries-dir", str(queries)])
    return result.exit_code, result.output


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) with `new` in a runbook."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_repository_runbooks_pass() -> None:
    """The runbooks shipped in the repository have no lint problem."""
    assert RunbookLibrary(RUNBOOKS).lint() == []


def test_clean_runbooks_exit_zero_with_a_summary(runbooks: Path, queries: Path) -> None:
    """On clean runbooks the command exits 0 and says what it checked."""
    code, output = lint(runbooks, queries)
    assert code == 0, output
    assert output.startswith("OK (runbooks, queries, alarms): 10 alarm runbooks (6 CRITICAL, 4 HIGH)")


def test_undefined_variable_fails_lint_with_file_and_line(runbooks: Path, queries: Path) -> None:
    """A `{{ nope }}` typo makes lint exit 1 and name the file, line and variable."""
    edit(runbooks / "DLQSpike.md", "## 2. Assess", "## 2. Assess {{ nope }}")
    code, output = lint(runbooks, queries)
    assert code == 1
    lines = [line for line in output.splitlines() if "DLQSpike.md" in line]
    assert len(lines) == 1
    source = (runbooks / "DLQSpike.md").read_text().splitlines()
    line_no = next(i for i, text in enumerate(source, 1) if "nope" in text)
    assert f"DLQSpike.md:{line_no}: 'nope' is undefined" in lines[0]
    assert "(sample: metric, metric, with incident" in lines[0]
    assert "1 problem(s) found" in output


def test_variable_missing_for_one_kind_only_is_caught(runbooks: Path, queries: Path) -> None:
    """A template that only breaks for composite alarms is reported with that sample."""
    edit(runbooks / "ConsumerLagHigh.md", "## 1. Detect", "## 1. Detect {{ alarm.children[0].name }}")
    code, output = lint(runbooks, queries)
    assert code == 1
    assert "ConsumerLagHigh.md" in output
    assert "composite" not in output.split("(sample:")[1]


def test_syntax_error_is_reported_once(runbooks: Path, queries: Path) -> None:
    """An unclosed `{% if %}` is one problem naming the file and line."""
    edit(runbooks / "LatencyP99High.md", "## 1. Detect", "## 1. Detect {% if observed %}")
    code, output = lint(runbooks, queries)
    assert code == 1
    problems = [line for line in output.splitlines() if "LatencyP99High.md" in line]
    assert len(problems) == 1
    assert "Unexpected end of template" in problems[0]


def test_missing_runbook_and_invalid_severity_are_problems(runbooks: Path, queries: Path) -> None:
    """Deleting a catalog runbook and misspelling a severity both fail lint."""
    (runbooks / "KafkaBrokerDown.md").unlink()
    edit(runbooks / "CheckpointFailure.md", "severity: CRITICAL", "severity: Sev1")
    (runbooks / "generic.md").unlink()
    code, output = lint(runbooks, queries)
    assert code == 1
    assert "KafkaBrokerDown.md: no runbook for the guide's alarm KafkaBrokerDown" in output
    assert "CheckpointFailure.md: `severity: Sev1` is not one of CRITICAL, HIGH, MEDIUM, LOW" in output
    assert "generic.md: missing" in output


def test_unknown_and_parameterised_queries_are_problems(runbooks: Path, queries: Path) -> None:
    """A query name not in queries/ and `order-trace` (needs an order id) are refused."""
    edit(runbooks / "WindowCompletenessLow.md", "queries: [", "queries: [order-trace, late-data, ")
    code, output = lint(runbooks, queries)
    assert code == 1
    assert "WindowCompletenessLow.md: unknown query 'late-data'" in output
    assert "WindowCompletenessLow.md: query 'order-trace' needs an order id" in output


def test_postmortem_template_is_rendered_too(runbooks: Path, queries: Path) -> None:
    """A post-incident template that breaks on an empty timeline fails lint."""
    edit(runbooks / "post-incident.md", "## Timeline", "## Timeline {{ timeline[0].at }}")
    code, output = lint(runbooks, queries)
    assert code == 1
    assert "post-incident.md" in output
    assert "(sample: empty)" in output


def test_runbook_too_long_for_slack_is_a_problem(runbooks: Path, queries: Path) -> None:
    """A runbook rendering past Slack's 12,000-character markdown block fails lint."""
    edit(runbooks / "generic.md", "## 1. Detect", "## 1. Detect\n" + "Padding line for the test.\n" * 500)
    code, output = lint(runbooks, queries)
    assert code == 1
    assert "generic.md: renders longer than 12,000 characters" in output


def test_arithmetic_on_a_missing_value_is_a_problem_not_a_crash(runbooks: Path, queries: Path) -> None:
    """`{{ threshold * 2 }}` fails for composite alarms (no threshold); lint reports it and carries on."""
    edit(runbooks / "DLQSpike.md", "## 1. Detect", "## 1. Detect (double: {{ threshold * 2 }})")
    code, output = lint(runbooks, queries)
    assert code == 1
    assert "DLQSpike.md:" in output
    assert "TypeError: unsupported operand" in output
    assert "composite" in output
