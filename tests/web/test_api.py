"""The incidents API, paged: `limit`, `cursor`, `next_cursor`, filters, and its OpenAPI schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from bot.incidents.models import Incident
from tests.support.app import Bot, BotFactory

TOKEN = {"Authorization": "Bearer api-token"}
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def _add_incidents(bot: Bot, count: int, **overrides: Any) -> None:
    def add(session: Session) -> None:
        for n in range(count):
            severity = ("CRITICAL", "HIGH", "MEDIUM", "LOW")[n % 4]
            status = ("open", "acknowledged", "resolved")[n % 3]
            opened = START + timedelta(hours=n)
            fields: dict[str, Any] = {
                "title": f"Incident {n} {'lag' if n % 5 == 0 else 'dlq'}", "alarm_name": f"orders-pipeline-A{n % 7}",
                "alarm_arn": f"arn:aws:cloudwatch:us-east-1:1:alarm:orders-pipeline-A{n % 7}", "severity": severity,
                "status": status, "source": "alarm", "region": "us-east-1", "opened_at": opened,
                "last_transition_at": opened, "reopen_count": 0, "alarm": {},
                "acknowledged_at": opened + timedelta(minutes=4) if status != "open" else None,
                "resolved_at": opened + timedelta(minutes=30) if status == "resolved" else None,
            }
            session.add(Incident(**{**fields, **overrides}))

    bot.app.state.db.transact(add)


async def _all_pages(bot: Bot, query: str, limit: int) -> tuple[list[int], int]:
    ids: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = httpx.QueryParams(query).merge({"limit": limit, **({"cursor": cursor} if cursor else {})})
        answer = await bot.client.get("/api/incidents", params=params, headers=TOKEN)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"incidents", "next_cursor"}
        ids += [i["id"] for i in body["incidents"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert len(body["incidents"]) == limit


async def test_a_thousand_incidents_page_through_exactly_once(make_bot: BotFactory) -> None:
    """limit=50 and next_cursor walk 1,000 incidents newest first, each exactly once, in 20 pages."""
    async with make_bot(api_tokens=["api-token"]) as bot:
        _add_incidents(bot, 1000)
        ids, pages = await _all_pages(bot, "", 50)
        assert pages == 20
        assert len(ids) == len(set(ids)) == 1000
        assert ids == sorted(ids, reverse=True)


async def test_new_incidents_while_paging_neither_repeat_nor_shift_a_page(make_bot: BotFactory) -> None:
    """An incident opened between two pages does not push an old one onto the next page twice."""
    async with make_bot(api_tokens=["api-token"]) as bot:
        _add_incidents(bot, 10)
        first = (await bot.client.get("/api/incidents?limit=4", headers=TOKEN)).json()
        _add_incidents(bot, 3)
        second = (await bot.client.get("/api/incidents", params={"limit": 4, "cursor": first["next_cursor"]},
                                       headers=TOKEN)).json()
        assert [i["id"] for i in first["incidents"]] == [10, 9, 8, 7]
        assert [i["id"] for i in second["incidents"]] == [6, 5, 4, 3]


async def test_filters_combine_with_paging(make_bot: BotFactory) -> None:
    """status, severity, alarm, since/until and q narrow the list, and paging keeps the filter."""
    async with make_bot(api_tokens=["api-token"]) as bot:
        _add_incidents(bot, 120)
        ids, _ = await _all_pages(bot, "status=resolved&severity=CRITICAL", 3)
        assert len(ids) == 10  # n % 12 == 8 … n ≡ 0 mod 4 and n ≡ 2 mod 3
        alarm, _ = await _all_pages(bot, "alarm=orders-pipeline-A3", 5)
        assert len(alarm) == len([n for n in range(120) if n % 7 == 3])
        text, _ = await _all_pages(bot, "q=LAG", 100)
        assert len(text) == 24
        day, _ = await _all_pages(bot, "since=2026-11-03&until=2026-11-03", 100)
        assert len(day) == 24
        window, _ = await _all_pages(bot, "since=2026-11-02T09:00:00Z&until=2026-11-02T11:59:59Z", 100)
        assert len(window) == 3


async def test_bad_parameters_are_one_line_400s(make_bot: BotFactory) -> None:
    """A cursor we did not issue, a bad date, status or limit: 400 with the error shape."""
    async with make_bot(api_tokens=["api-token"]) as bot:
        for query in ("cursor=bm9wZQ", "cursor=%%%", "since=yesterday", "status=closed", "severity=urgent",
                      "limit=0", "limit=1001", "since=2026-12-02&until=2026-12-01"):
            answer = await bot.client.get(f"/api/incidents?{query}", headers=TOKEN)
            assert answer.status_code == 400, query
            assert set(answer.json()) == {"error"}


async def test_openapi_describes_every_api_route(make_bot: BotFactory) -> None:
    """/api/openapi.json lists the incidents routes with the paged list's parameters and shape."""
    async with make_bot(api_tokens=["api-token"]) as bot:
        assert (await bot.client.get("/api/openapi.json")).status_code == 401
        schema = (await bot.client.get("/api/openapi.json", headers=TOKEN)).json()
        paths = schema["paths"]
        assert {"/api/incidents", "/api/incidents/{incident_id}", "/api/incidents/{incident_id}/postmortem",
                "/api/incidents/{incident_id}/runbook"} <= set(paths)
        listing = paths["/api/incidents"]["get"]
        assert {p["name"] for p in listing["parameters"]} == {"limit", "cursor", "status", "severity", "alarm",
                                                            "since", "until", "q"}
        page = schema["components"]["schemas"]["IncidentList"]
        assert set(page["properties"]) == {"incidents", "next_cursor"}
        assert not any(path.startswith(("/incidents", "/login")) for path in paths)
