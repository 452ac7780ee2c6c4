"""Rendering runbooks and the post-incident report, as an on-call engineer would read them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.alarms.catalog import AlarmCatalog
from bot.alarms.context import alarm_context
from bot.alarms.models import alarm_from_body
from bot.errors import ConfigError
from bot.runbooks import RunbookLibrary, to_mrkdwn
from bot.runbooks.samples import sample_postmortems
from tests.alarms.bodies import all_kinds, fixture, renamed

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
CATALOG = AlarmCatalog.load(RUNBOOKS)
KINDS = ["metric", "metric_math", "anomaly_detection", "composite"]


@pytest.fixture(scope="module")
def library() -> RunbookLibrary:
    """The repository's runbooks."""
    return RunbookLibrary(RUNBOOKS)


def _context(body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    entry = CATALOG.lookup(body["AlarmName"])
    severity = entry.severity if entry else CATALOG.entries[0].severity
    return alarm_context(alarm_from_body(body), severity=severity,
                         dashboard=entry.dashboard if entry else "Health", **kwargs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("key", [e.key for e in CATALOG.entries])
def test_every_runbook_renders_for_every_alarm_kind(library: RunbookLibrary, key: str, kind: str) -> None:
    """Each runbook renders its title, the alarm, the numbers and all seven steps, whatever the alarm kind."""
    entry = CATALOG.lookup(f"orders-pipeline-{key}")
    assert entry is not None
    body = all_kinds(entry.alarm_name)[kind]
    text = library.render(entry, _context(body, incident_id=42, channel="inc-42-x"))
    assert entry.title.split(" (")[0] in text
    assert f"`{entry.alarm_name}`" in text
    assert "#42 in #inc-42-x" in text
    assert f"{entry.dashboard} dashboard" in text
    assert "eu-south-1" in text
    for step in ("1. Detect", "2. Assess", "3. Classify", "4. Drill down", "5. Mitigate", "6. Verify",
                 "7. Clean up"):
        assert f"\n## {step}" in text
    if kind == "composite":
        assert "Rule: `ALARM(" in text
        assert "Child alarm `orders-pipeline-DLQSpike` is ALARM" in text
    else:
        assert "152" in text
        assert "Evaluation window: 17:41–17:43 UTC on 2015-06-03 (2 min)" in text
    if kind in ("metric", "metric_math"):
        assert "= 152 > 100" in text
    for leftover in ("None", "{{", "{%", "Undefined"):
        assert leftover not in text


def test_dlq_runbook_shows_the_threshold_and_links(library: RunbookLibrary) -> None:
    """The DLQ runbook quotes observed vs. threshold and links the alarm, Errors dashboard and runbook."""
    body = renamed(fixture("metric-alarm.json"), "orders-pipeline-DLQSpike", value=2450.0, threshold=100.0)
    body["Trigger"]["MetricName"] = "DLQRecordCount"
    text = library.render(CATALOG.lookup("orders-pipeline-DLQSpike"),
                          _context(body, runbook_url="https://git.example.com/runbooks/DLQSpike.md"))
    assert "observed **2,450** against threshold **100**" in text
    assert "(was 2,450)" in text
    assert "--metric-name DLQRecordCount" in text
    assert "[Errors dashboard](https://eu-south-1.console.aws.amazon.com/cloudwatch/home?region=eu-south-1" \
           "#dashboards:name=orders-pipeline-Errors)" in text
    assert "[This runbook](https://git.example.com/runbooks/DLQSpike.md)" in text
    assert "`dlq-spike-cause`, `dlq-breakdown`, `errors-by-type`" in text
    assert "| stats count() as error_count by bin(5m), error_type" in text


def test_recovered_alarm_says_so(library: RunbookLibrary) -> None:
    """A runbook rendered for an OK transition tells the reader the alarm recovered."""
    body = all_kinds("orders-pipeline-ConsumerLagHigh")["metric"]
    body.update(NewStateValue="OK", OldStateValue="ALARM")
    text = library.render(CATALOG.lookup(body["AlarmName"]), _context(body))
    assert "went ALARM → **OK**" in text
    assert "It recovered" in text


def test_unknown_alarm_gets_the_generic_runbook(library: RunbookLibrary) -> None:
    """An alarm outside the catalog renders the generic runbook with its own name and numbers."""
    body = renamed(fixture("metric-alarm.json"), "orders-pipeline-MemoryHigh", value=91.5, threshold=85)
    assert CATALOG.lookup("orders-pipeline-MemoryHigh") is None
    text = library.render(None, _context(body))
    assert text.startswith("# Unknown alarm orders-pipeline-MemoryHigh")
    assert "not in the bot's catalog" in text
    assert "NetworkOut = 91.5 > 85" in text
    assert "[Health dashboard]" in text


def test_aws_fixture_renders_in_the_generic_runbook(library: RunbookLibrary) -> None:
    """The untouched AWS sample (region REGION, alarm EXAMPLE) renders without errors."""
    for name in ("metric-alarm.json", "metric-math-alarm.json"):
        text = library.render(None, _context(fixture(name)))
        assert "`EXAMPLE`" in text
        assert "1,234 > 0" in text


def test_postmortem_with_nothing_recorded_has_slots_to_fill(library: RunbookLibrary) -> None:
    """An incident with an empty timeline renders placeholders, not errors or `None`."""
    text = library.render_postmortem(dict(sample_postmortems())["empty"])
    assert text.startswith("# Post-incident report: incident #7 · Unknown alarm")
    assert text.count("_to be filled in_") == 5  # summary, root cause, impact, prevention, owner
    assert "- Paged: — (not configured)" in text
    assert "No query results were recorded." in text
    assert "Nothing on the timeline yet." in text
    assert "None" not in text


def test_postmortem_with_a_full_timeline(library: RunbookLibrary) -> None:
    """A resolved incident shows MTTA, MTTR, root cause, queries, transitions and timeline."""
    text = library.render_postmortem(dict(sample_postmortems())["full"])
    assert "time to acknowledge **3 min**" in text
    assert "time to resolve **22.5 min**" in text
    assert "## Root cause\nSource renamed customer_id to cust_id without notice." in text
    assert "- `dlq-spike-cause`: parse_error 8,000 (80%)" in text
    assert "- 2025-01-13T10:52:30Z: ALARM → **OK** — back below" in text
    assert "- 2025-01-13T10:33:00Z · acknowledged · ack by @alice" in text
    assert "**Channel:** #inc-42-dlq-spike" in text
    assert "## Summary\nA source schema change sent 80 % of orders" in text
    assert "**Owner:** @alice" in text
    assert "_Review last saved by U00ALICE01 at 2025-01-14T09:00:00Z._" in text


def test_postmortem_tolerates_missing_keys(library: RunbookLibrary) -> None:
    """A context with only an incident id still renders, every other field treated as empty."""
    text = library.render_postmortem({"incident": {"id": 3}})
    assert "# Post-incident report: incident #3" in text
    assert "(declared by hand, no alarm)" in text


def test_a_typo_in_a_runbook_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    """With StrictUndefined, `{{ nope }}` fails rendering with the file and line, never a blank."""
    runbooks = Path(shutil.copytree(RUNBOOKS, tmp_path / "runbooks"))
    path = runbooks / "CheckpointFailure.md"
    lines = path.read_text().splitlines()
    lines.insert(13, "Look at {{ nope }} first.")
    path.write_text("\n".join(lines) + "\n")
    library = RunbookLibrary(runbooks)
    entry = AlarmCatalog.load(runbooks).lookup("orders-pipeline-CheckpointFailure")
    with pytest.raises(ConfigError, match=r"CheckpointFailure\.md:14: 'nope' is undefined"):
        library.render(entry, _context(all_kinds("orders-pipeline-CheckpointFailure")["metric"]))


def test_rendered_runbook_converts_to_slack_mrkdwn(library: RunbookLibrary) -> None:
    """Converted for Slack, a runbook has no Markdown headings, `**bold**` or raw `<`, and keeps its links."""
    body = all_kinds("orders-pipeline-KafkaBrokerDown")["metric"]
    text = to_mrkdwn(library.render(CATALOG.lookup(body["AlarmName"]), _context(body)))
    assert "*Kafka broker down: fewer than 3 brokers alive*" in text
    assert "*2. Assess*" in text
    assert "**" not in text
    assert not any(line.startswith("#") for line in text.splitlines())
    assert "export MSK_CLUSTER_ARN=&lt;arn from above&gt;" in text
    assert "|Capacity dashboard>" in text
    assert "```bash" not in text
