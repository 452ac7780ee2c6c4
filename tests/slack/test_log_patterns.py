"""`/log-patterns [window] [filter]`: the templates of error lines, with counts and samples, new ones marked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes.slack_api import FakeSlack
from tests.slack.client import SlackUser, wait_responses
from tests.slack.conftest import RecordingLogSearch
from tests.slack.schema_change_logs import write_schema_change_logs

TEMPLATE = "Order sent to DLQ: Field 'customer_id' not found (unexpected fields: cust_id)"


def _table_rows(post: dict[str, object]) -> list[str]:
    """The table lines of the reply, header and rule left out."""
    text = "\n".join(block["text"]["text"] for block in post["blocks"]  # type: ignore[attr-defined]
                     if block["type"] == "section" and block["text"]["text"].startswith("```"))
    return [line for line in text.strip("`\n").splitlines()[2:] if line.strip()]


async def test_schema_change_template_is_on_top_and_new(alice: SlackUser, fake_slack: FakeSlack,
                                                        logs_dir: Path, log_search: RecordingLogSearch) -> None:
    """A schema-change run's logs: the parse-error template leads the last hour's patterns, marked new, with a
    sample; the hour before (the comparison period) is read too, and the invalid-amount template is not new."""
    parse_errors = write_schema_change_logs(logs_dir, end=datetime.now(UTC))
    answer, response_url = await alice.command("/log-patterns", "1h")
    assert answer.status_code == 200 and "Log patterns" in answer.json()["text"]
    [post] = await wait_responses(fake_slack, response_url, timeout=30)
    assert post["response_type"] == "in_channel"
    rows = _table_rows(post)
    assert TEMPLATE.replace("'", "'")[:40] in rows[0] and "new" in rows[0] and str(parse_errors) in rows[0], rows
    assert any("amount" in row and "&lt;*&gt;" in row and "new" not in row for row in rows[1:]), rows
    assert f"new pattern: {TEMPLATE} ({parse_errors}, new)" in str(post["text"])
    [(query, start, end)] = log_search.queries
    assert "| pattern message" in query and "| diff" in query and (end - start).total_seconds() == 3600


async def test_filter_narrows_the_events_and_bad_filters_are_refused(alice: SlackUser, fake_slack: FakeSlack,
                                                                     logs_dir: Path) -> None:
    """`/log-patterns 2h error_type = "validation_error"` keeps only those lines; a second command is refused."""
    write_schema_change_logs(logs_dir, end=datetime.now(UTC), orders=600)
    _, response_url = await alice.command("/log-patterns", '2h error_type = "validation_error"')
    [post] = await wait_responses(fake_slack, response_url, timeout=30)
    shown = json.dumps(post)
    assert "amount" in shown and "customer_id" not in shown
    answer, _ = await alice.command("/log-patterns", "1h x = 1 | stats count()")
    assert answer.status_code == 200
    assert "one condition" in answer.json()["text"] and "/log-patterns [window]" in answer.json()["text"]
