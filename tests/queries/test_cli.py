"""The CLI twins: `incident-bot query|trace|dlq-breakdown|slow-operators` on local logs from the last hour."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.logquery.sample_logs import LINES, START


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose LOCAL_LOGS holds the sample lines shifted to end a few minutes ago."""
    # Shift by whole 5-minute bins, so `bin(5m)` groups the lines as it does in the hand-checked sample
    # whatever the time of day the test runs at.
    bins = (datetime.now(UTC) - timedelta(minutes=15) - START) // timedelta(minutes=5)
    shift = bins * timedelta(minutes=5)
    lines = []
    for line in LINES[:-1]:  # the last sample line lies outside any recent window on purpose
        moment = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")) + shift
        lines.append(json.dumps({**line, "timestamp": moment.isoformat(timespec="milliseconds")}))
    (tmp_path / "app.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("LOGS_BACKEND", "local")
    monkeypatch.setenv("LOCAL_LOGS", str(tmp_path / "*.jsonl"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return CliRunner()


def test_trace_json(cli: CliRunner) -> None:
    """`trace ORD-1 --json` prints the order's lines oldest first as a JSON array."""
    result = cli.invoke(app, ["trace", "ORD-1", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["operator"] for row in rows] == ["parse", "validate", "enrich", "sink", "dedup"]
    assert rows[2]["latency_ms"] == 300


def test_trace_refuses_injection(cli: CliRunner) -> None:
    """A crafted order id exits 2 with one line and no traceback."""
    result = cli.invoke(app, ["trace", 'ORD-1" | stats count(*)'])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("incident-bot: order_id must be ORD- followed by letters")
    assert "Traceback" not in result.output


def test_dlq_breakdown_table(cli: CliRunner) -> None:
    """`dlq-breakdown` prints a table with counts and shares."""
    result = cli.invoke(app, ["dlq-breakdown"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("DLQ breakdown by error type")
    assert lines[1].split() == ["error_type", "count", "share"]
    assert lines[3].split() == ["parse_error", "2", "50%"]


def test_slow_operators_json(cli: CliRunner) -> None:
    """`slow-operators --json` lists operators by their slowest event."""
    result = cli.invoke(app, ["slow-operators", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0] == {"operator": "enrich", "avg_latency": 2650, "max_latency": 5000}


def test_named_query_with_param_and_since(cli: CliRunner) -> None:
    """`query NAME --param k=v --since` runs a catalog query over the given window."""
    result = cli.invoke(app, ["query", "dlq-spike-cause", "--param", "min_count=1", "--since", "2h", "--json"])
    assert result.exit_code == 0, result.output
    assert [row["error_count"] for row in json.loads(result.stdout)] == [2]
    result = cli.invoke(app, ["query", "errors-by-type", "--since", "1m"])
    assert result.exit_code == 0 and "No matching log events" in result.stdout


def test_free_text_query(cli: CliRunner) -> None:
    """`query --text` runs any supported Logs Insights text."""
    result = cli.invoke(app, ["query", "--text", "stats count() as n by operator | sort n desc, operator asc "
                                                 "| limit 2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"operator": "enrich", "n": 3}, {"operator": "parse", "n": 3}]


def test_list(cli: CliRunner) -> None:
    """`query --list` names every catalog query with its parameters."""
    result = cli.invoke(app, ["query", "--list"])
    assert result.exit_code == 0
    assert "order-trace" in result.stdout and "--param order_id=" in result.stdout


@pytest.mark.parametrize(("args", "says"), [
    (["query", "nope"], "no query named 'nope'; known queries: dlq-breakdown"),
    (["query", "--text", "unmask @message"], "command 'unmask' is not supported by the local engine"),
    (["query", "--text", "filter a ="], "expected a field, value or function"),
    (["query", "dlq-spike-cause", "--param", "min_count=abc"], "min_count must be a whole number"),
    (["query", "dlq-spike-cause", "--param", "nokey"], "--param wants key=value"),
    (["dlq-breakdown", "--since", "soon"], "--since: not a duration"),
    (["query"], "give a query name or --text"),
])
def test_bad_input_exits_2(cli: CliRunner, args: list[str], says: str) -> None:
    """Bad input exits 2 with a one-line message on stderr."""
    result = cli.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and result.stderr.count("\n") == 1


def test_missing_logs_exit_1(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A LOCAL_LOGS glob that matches nothing is a failed query: exit 1 with the reason."""
    monkeypatch.setenv("LOCAL_LOGS", str(tmp_path / "none" / "*.jsonl"))
    result = cli.invoke(app, ["slow-operators"])
    assert result.exit_code == 1
    assert "query failed: no log files match" in result.stderr


def test_log_patterns_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`log-patterns --since 1h --json`: rows of pattern, count, sample and new, most frequent first; the
    schema change's template is new, the invalid amounts (also in the hour before) are not; --filter narrows."""
    from tests.slack.schema_change_logs import write_schema_change_logs

    parse_errors = write_schema_change_logs(tmp_path, end=datetime.now(UTC), orders=1500)
    monkeypatch.setenv("LOGS_BACKEND", "local")
    monkeypatch.setenv("LOCAL_LOGS", str(tmp_path / "*.jsonl"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["log-patterns", "--since", "1h", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert set(rows[0]) == {"pattern", "count", "sample", "new"}
    assert rows[0]["count"] == parse_errors and rows[0]["new"] is True
    assert "customer_id" in rows[0]["pattern"] and "cust_id" in rows[0]["sample"]
    assert [row["new"] for row in rows[1:]] == [False] * (len(rows) - 1)
    result = CliRunner().invoke(app, ["log-patterns", "--filter", 'operator = "validate"', "--json"])
    assert result.exit_code == 0, result.output
    assert all("amount" in row["pattern"] for row in json.loads(result.stdout))
    result = CliRunner().invoke(app, ["log-patterns", "--filter", "a = 1 | stats count()"])
    assert result.exit_code == 2 and "one condition" in result.output
