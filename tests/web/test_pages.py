"""The pages as a person sees them: list, incident, buttons, review, stats; hostile text stays text."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import httpx
from sqlalchemy.orm import Session

from bot.incidents.models import TimelineEntry
from bot.queries.table import table_lines
from bot.web.present import query_tables
from tests.fakes.slack_api import FakeSlack
from tests.support.alarms import metric_alarm
from tests.support.app import Bot, BotFactory
from tests.web.conftest import client_for, sign_in

WebBot = Callable[..., AbstractAsyncContextManager[Bot]]
HOSTILE = '<img src=x onerror="alert(1)"> <script>alert(2)</script> <!channel> & friends'


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def _signed_in_incident(bot: Bot, browser: httpx.AsyncClient) -> dict[str, object]:
    body = metric_alarm()
    body["AlarmDescription"] = HOSTILE
    assert (await bot.deliver(body)).status_code == 200
    await bot.settle()
    await sign_in(browser)
    [incident] = await bot.incidents()
    return incident


async def test_incident_page_escapes_alarm_text_and_forbids_inline_scripts(make_bot: BotFactory) -> None:
    """The alarm description shows as text; the CSP allows only our own script file."""
    async with make_bot() as bot:
        body = metric_alarm()
        body["AlarmDescription"] = HOSTILE
        await bot.deliver(body)
        page = await bot.client.get("/incidents/1")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text
        assert "<img src=x" not in page.text and "<script>alert" not in page.text
        assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/app.js" defer>']
        assert not re.search(r"<[a-z][^<>]*\s(on\w+|style)=", page.text)  # no handler or inline style on any element
        assert "<h2>Runbook</h2>" in page.text and "<h3>" in page.text.split("<h2>Runbook</h2>", 1)[1]
        script = await bot.client.get("/static/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]


async def test_acknowledge_button_does_what_the_slack_button_does(web_bot: WebBot, fake_slack: FakeSlack) -> None:
    """Acknowledge on the page: the incident is acknowledged by the signed-in user and the channel hears it."""
    async with web_bot() as bot, client_for(bot) as browser:
        incident = await _signed_in_incident(bot, browser)
        page = await browser.get(f"/incidents/{incident['id']}")
        assert '<button type="submit">Acknowledge</button>' in page.text
        forged = await browser.post(f"/incidents/{incident['id']}/acknowledge", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert (await bot.incident(int(str(incident["id"]))))["status"] == "open"
        done = await browser.post(f"/incidents/{incident['id']}/acknowledge", data={"csrf": _csrf(page.text)})
        assert done.status_code == 303
        await bot.settle()
        found = await bot.incident(int(str(incident["id"])))
        assert found["status"] == "acknowledged" and found["acknowledged_by"] == "U00ALICE01"
        texts = [m["text"] for m in fake_slack.messages(str(found["channel"]))]
        assert any("acknowledged by <@U00ALICE01>" in t for t in texts)
        after = (await browser.get(done.headers["location"])).text
        assert "is acknowledged" in after and ">Acknowledge</button>" not in after and ">Resolve</button>" in after
        resolved = await browser.post(f"/incidents/{incident['id']}/resolve", data={"csrf": _csrf(after)})
        assert resolved.status_code == 303
        assert (await bot.incident(int(str(incident["id"]))))["status"] == "resolved"


async def test_review_is_saved_with_who_and_when_and_shown_in_the_report(web_bot: WebBot) -> None:
    """The five review fields are stored, shown back, in the post-incident report and its Markdown export."""
    async with web_bot() as bot, client_for(bot) as browser:
        incident = await _signed_in_incident(bot, browser)
        review = f"/incidents/{incident['id']}/review"
        form = (await browser.get(review)).text
        for label in ("Summary", "Root cause", "Impact", "Prevention", "Owner"):
            assert f">{label}</label>" in form
        assert '<button type="submit">Save</button>' in form
        fields = {"summary": "DLQ spiked after a schema change.", "root_cause": "customer_id renamed <b>cust_id</b>",
                  "impact": "9,000 orders late", "prevention": "Schema-change webhook", "owner": "@alice"}
        saved = await browser.post(review, data={**fields, "csrf": _csrf(form)})
        assert saved.status_code == 303
        shown = (await browser.get(review)).text
        assert "Review saved." in shown and "Last saved by U00ALICE01" in shown
        assert "customer_id renamed &lt;b&gt;cust_id&lt;/b&gt;" in shown
        report = (await browser.get(f"/api/incidents/{incident['id']}/postmortem")).text
        assert "## Root cause\ncustomer_id renamed <b>cust_id</b>" in report
        assert "## Summary\nDLQ spiked after a schema change." in report and "**Owner:** @alice" in report
        export = await browser.get(f"{review}.md")
        assert export.headers["content-disposition"].startswith("attachment;") and export.text == report
        too_long = await browser.post(review, data={**fields, "impact": "x" * 3001, "csrf": _csrf(shown)})
        assert too_long.status_code == 400 and "Impact is longer than 3,000 characters" in too_long.text
        huge = await browser.post(review, data={**fields, "impact": "x" * 70_000, "csrf": _csrf(shown)})
        assert huge.status_code == 413


async def test_list_page_filters_and_pages_by_cursor(make_bot: BotFactory) -> None:
    """Fifty incidents a page, an "Older" link to the rest; a filter keeps to its incidents."""
    async with make_bot() as bot:
        for n in range(55):
            await bot.deliver(metric_alarm(f"orders-pipeline-Alarm{n:02d}"))
        first = (await bot.client.get("/")).text
        assert first.count('<tr>') == 51  # header + 50
        older = re.search(r'<a rel="next" href="([^"]+)"', first)
        assert older
        second = (await bot.client.get(older.group(1).replace("&amp;", "&"))).text
        assert second.count("<tr>") == 6 and "#1 " in second and 'rel="next"' not in second
        one = (await bot.client.get("/", params={"alarm": "orders-pipeline-Alarm07"})).text
        assert one.count("<tr>") == 2 and "orders-pipeline-Alarm07" in one
        assert (await bot.client.get("/", params={"since": "not a date"})).status_code == 400


async def test_stats_page_draws_charts(make_bot: BotFactory) -> None:
    """Incidents per week and per alarm, MTTA/MTTR trends, as SVG drawn on the server."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm())
        await bot.client.post("/incidents/1/acknowledge")  # no CSRF token: refused
        page = await bot.client.get("/stats")
        assert page.status_code == 200
        assert page.text.count("<svg") == 3 and '<rect class="bar"' in page.text
        assert "orders-pipeline-DLQSpike" in page.text


async def test_query_results_on_the_timeline_are_tables(make_bot: BotFactory) -> None:
    """A query result the bot posted in Slack shows as an HTML table on the incident page."""
    rows = [{"error_type": "<b>parse</b>", "count": 812}, {"error_type": "dup", "count": 9}]
    lines = table_lines(["error_type", "count"], rows)
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "```\n" + "\n".join(lines) + "\n```"}}
    [table] = query_tables([block])
    assert table.columns == ["error_type", "count"] and table.rows == [["<b>parse</b>", "812"], ["dup", "9"]]
    async with make_bot() as bot:
        await bot.deliver(metric_alarm())

        def add(session: Session) -> None:
            session.add(TimelineEntry(incident_id=1, at=datetime.now(UTC), kind="query",
                                      summary="dlq-breakdown: parse 812",
                                      data={"query": "dlq-breakdown", "blocks": [block]}))

        bot.app.state.db.transact(add)
        page = (await bot.client.get("/incidents/1")).text
        assert '<table class="result">' in page
        assert "<td>&lt;b&gt;parse&lt;/b&gt;</td><td>812</td>" in page


async def test_the_metric_graph_is_linked_when_a_graph_route_exists(make_bot: BotFactory) -> None:
    """The `/api/incidents/{id}/graph.png` route is installed, so the incident page shows it (behind the guard)."""
    async with make_bot() as bot:
        await bot.deliver(metric_alarm())
        page = (await bot.client.get("/incidents/1")).text
        assert '<img src="/api/incidents/1/graph.png" alt="Metric graph of orders-pipeline-DLQSpike"' in page
        async with client_for(bot) as remote:
            assert (await remote.get("/api/incidents/1/graph.png")).status_code == 401
