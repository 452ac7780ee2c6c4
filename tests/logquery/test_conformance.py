"""Conformance: the documented Logs Insights commands and functions on generated logs, each answer checked
against a plain-Python computation over the same events (never against the engine's own SQL).

Behaviours cited from AWS's "CloudWatch Logs Insights language query syntax" pages
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html and its per-command and
per-function pages) and "Pattern analysis" / "Compare (diff) with previous time ranges".
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.duckdb_logs import DuckDBLogSearch
from tests.logquery import conformance_logs as logs
from tests.logquery.conformance_logs import END, START, TEMPLATES, Event


@pytest.fixture(scope="module")
def events() -> list[Event]:
    """The generated events, both periods."""
    return logs.generate()


@pytest.fixture(scope="module")
def current(events: list[Event]) -> list[dict[str, Any]]:
    """The lines of the query period, as Python dicts."""
    return [event.line for event in events if event.current]


@pytest.fixture(scope="module")
def engine(events: list[Event], tmp_path_factory: pytest.TempPathFactory) -> DuckDBLogSearch:
    """The local engine over the generated file."""
    return DuckDBLogSearch(logs.write(tmp_path_factory.mktemp("conformance"), events), timeout=60)


async def run(engine: DuckDBLogSearch, query: str) -> list[dict[str, Any]]:
    result = await engine.run(query, start=START, end=END)
    assert result.ok, result.message
    return [dict(row) for row in result.rows]


def ms(line: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)


def shown(moment_ms: int) -> str:
    moment = datetime.fromtimestamp(moment_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment_ms % 1000:03d}"


# -- commands -----------------------------------------------------------------------------------------------
async def test_fields_sort_limit(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """`fields @timestamp, @message | sort @timestamp desc | limit 25` (the console's sample query): the 25
    newest events of the period."""
    got = await run(engine, "fields @timestamp, @message | sort @timestamp desc | limit 25")
    newest = sorted(current, key=ms, reverse=True)[:25]
    assert [row["@timestamp"] for row in got] == [shown(ms(line)) for line in newest]
    assert all(line["order_id"] in row["@message"] for row, line in zip(got, newest, strict=True))


async def test_filter_comparison_regex_and_in(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """filter: comparisons, `like /re/` (regex), `like "x"` (substring), `in [...]`, `not`, `!`, and/or."""
    query = ('filter (latency_ms > 20 and operator in ["parse", "sink"]) or message like /timeout after \\d+s/ '
             '| filter not ispresent(nothing) and !(operator = "enrich") | stats count() as n')
    expected = sum(1 for line in current
                   if ((line.get("latency_ms", 0) > 20 and line["operator"] in ("parse", "sink"))
                       or "timeout after" in line["message"]) and line["operator"] != "enrich")
    assert await run(engine, query) == [{"n": expected}]
    got = await run(engine, 'filter message like "DLQ" | stats count() as n')
    assert got == [{"n": sum("DLQ" in line["message"] for line in current)}]


async def test_arithmetic_operators(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """Arithmetic `+ - * / ^ %` ("Arithmetic operations" table): exponent and modulo included."""
    got = await run(engine, "filter ispresent(latency_ms) | fields order_id, latency_ms * 2 + 1 as a, "
                            "latency_ms ^ 2 as p, latency_ms % 7 as m, -latency_ms / 4 as d | sort @timestamp asc "
                            "| limit 50")
    lines = sorted((line for line in current if "latency_ms" in line), key=ms)[:50]
    for row, line in zip(got, lines, strict=True):
        x = line["latency_ms"]
        assert math.isclose(row["a"], x * 2 + 1) and math.isclose(row["p"], x ** 2, rel_tol=1e-9)
        assert math.isclose(row["m"], math.fmod(x, 7), abs_tol=1e-9) and math.isclose(row["d"], -x / 4)


async def test_stats_functions(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """avg, count, count_distinct, max, min, sum, stddev, pct (nearest rank here; the service approximates),
    earliest/latest (the value of the first/last event by @timestamp), sortsFirst/sortsLast, by a field."""
    got = await run(engine, "stats avg(latency_ms) as avg, count(*) as n, count(latency_ms) as present, "
                            "count_distinct(operator) as ops, max(latency_ms) as hi, min(latency_ms) as lo, "
                            "sum(latency_ms) as total, stddev(latency_ms) as sd, pct(latency_ms, 90) as p90, "
                            "earliest(order_id) as first, latest(order_id) as last, sortsFirst(operator) as sf, "
                            "sortsLast(operator) as sl")
    values = sorted(line["latency_ms"] for line in current if "latency_ms" in line)
    by_time = sorted(current, key=ms)
    [row] = got
    assert row["n"] == len(current) and row["present"] == len(values) and row["ops"] == 4
    assert math.isclose(row["avg"], statistics.fmean(values)) and math.isclose(row["total"], sum(values))
    assert row["hi"] == max(values) and row["lo"] == min(values)
    assert math.isclose(row["sd"], statistics.stdev(values))
    assert row["p90"] == values[math.ceil(0.9 * len(values)) - 1]
    assert row["first"] == by_time[0]["order_id"] and row["last"] == by_time[-1]["order_id"]
    assert (row["sf"], row["sl"]) == ("enrich", "validate")


async def test_stats_by_bin_and_sort(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """`stats count(*) by bin(5m)`: epoch-aligned 5-minute buckets; `sort` on the aggregate."""
    got = await run(engine, "stats count(*) as n by bin(5m) as t | sort n desc, t asc | limit 3")
    buckets = Counter(ms(line) // 300_000 * 300_000 for line in current)
    expected = sorted(buckets.items(), key=lambda item: (-item[1], item[0]))[:3]
    assert got == [{"t": shown(bucket), "n": n} for bucket, n in expected]


async def test_parse_glob_and_regex(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """`parse` with a glob (`*` captures) and with named regex groups; unmatched events keep going without
    the new fields."""
    got = await run(engine, 'parse message "Order * processed in * ms" as oid, took '
                            "| parse message /region (?<region>\\w+)/ "
                            "| stats count(oid) as orders, sum(took) as total, count(region) as regions")
    processed = [line["message"].split() for line in current if " processed in " in line["message"]]
    regions = [line for line in current if " region " in line["message"]]
    assert got == [{"orders": len(processed), "total": sum(int(words[4]) for words in processed),
                    "regions": len(regions)}]


async def test_dedup_and_display(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """`sort @timestamp desc | dedup operator`: the newest event of each operator; only the last `display`
    counts."""
    got = await run(engine, "fields order_id, operator, level | display level | display operator, order_id "
                            "| sort @timestamp desc | dedup operator")
    newest: dict[str, str] = {}
    for line in sorted(current, key=ms, reverse=True):
        newest.setdefault(line["operator"], line["order_id"])
    assert {row["operator"]: row["order_id"] for row in got} == newest
    assert all(set(row) == {"operator", "order_id"} for row in got)


async def test_unnest_json_list(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """`unnest items into item`: one event per element of a list; events with an empty list give none."""
    got = await run(engine, "unnest items into item | stats count(*) as n by item | sort item asc")
    counts = Counter(item for line in current for item in line["items"])
    assert got == [{"item": item, "n": n} for item, n in sorted(counts.items())]


async def test_filter_index_and_source_select_nothing_offline(engine: DuckDBLogSearch,
                                                              current: list[dict[str, Any]]) -> None:
    """`filterIndex` is a scan hint and `SOURCE` picks log groups (CLI/API): offline both leave the events as
    they are, the same answer as without them; `#` starts a comment."""
    got = await run(engine, "SOURCE logGroups(namePrefix: ['/orders']) start=-1d end=now\n"
                            "| filterIndex operator = 'parse'  # only a hint\n| stats count() as n")
    assert got == [{"n": len(current)}]


# -- functions ----------------------------------------------------------------------------------------------
async def test_string_functions(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """String functions (an output named like an internal column, `as t`, does not change the order): substr
    from 0, trim/ltrim/rtrim (with trimChars), strlen, toupper/tolower, concat, replace, strcontains
    (1 or 0), isempty/isblank, regex_replace, startsWith/endsWith, md5/sha256, base64 and URL encoding."""
    got = await run(engine, "sort @timestamp asc | limit 40 | fields substr(order_id, 4) as num, "
                            "substr(message, 0, 5) as head, trim(user) as t, ltrim(user) as lt, rtrim(user) as rt, "
                            "trim(order_id, 'ORD-') as stripped, strlen(message) as len, toupper(operator) as up, "
                            "tolower(level) as low, concat(operator, ':', level) as both, "
                            "replace(message, 'Order', 'O') as rep, strcontains(message, 'Cache') as has, "
                            "isempty(nothing) as e, isblank(user) as b, regex_replace(message, /\\d+/, '#') as rx, "
                            "startsWith(message, 'Order') as sw, endsWith(message, 'ms') as ew, "
                            "md5(operator) as h1, sha256(operator) as h2, base64encode(operator) as b64, "
                            "base64decode(base64encode(operator)) as back, urlencode(message) as url")
    import re
    from urllib.parse import quote
    lines = sorted(current, key=ms)[:40]
    for row, line in zip(got, lines, strict=True):
        message, user, operator = line["message"], line["user"], line["operator"]
        assert str(row["num"]) == line["order_id"][4:] and row["head"] == message[:5]
        assert (row["t"], row["lt"], row["rt"]) == (user.strip(), user.lstrip(), user.rstrip())
        assert str(row["stripped"]) == line["order_id"].strip("ORD-") and row["len"] == len(message)
        assert row["up"] == operator.upper() and row["low"] == line["level"].lower()
        assert row["both"] == f"{operator}:{line['level']}" and row["rep"] == message.replace("Order", "O")
        assert row["has"] == int("Cache" in message) and row["e"] is True and row["b"] is False
        assert row["rx"] == re.sub(r"\d+", "#", message)
        assert row["sw"] is message.startswith("Order") and row["ew"] is message.endswith("ms")
        assert row["h1"] == hashlib.md5(operator.encode()).hexdigest()  # noqa: S324 - checking md5() itself
        assert row["h2"] == hashlib.sha256(operator.encode()).hexdigest()
        assert row["b64"] == base64.b64encode(operator.encode()).decode() and row["back"] == operator
        assert row["url"] == quote(message, safe="-_.~")


async def test_general_numeric_and_json_functions(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """ispresent, coalesce; abs, ceil, floor, sqrt, log (natural), greatest, least; toNumber; jsonParse with
    `j.key` access in a later `fields`, split to a JSON list."""
    got = await run(engine, "filter ispresent(latency_ms) | sort @timestamp asc | limit 30 "
                            "| fields coalesce(nothing, operator) as c, abs(0 - latency_ms) as a, "
                            "ceil(latency_ms) as up, floor(latency_ms) as down, sqrt(latency_ms) as r, "
                            "log(latency_ms) as ln, greatest(latency_ms, 30) as g, least(latency_ms, 30) as l, "
                            "toNumber(substr(order_id, 4)) + 1 as next, "
                            "jsonParse(concat('{\"op\": \"', operator, '\"}')) as j | fields j.op as op")
    lines = sorted((line for line in current if "latency_ms" in line), key=ms)[:30]
    for row, line in zip(got, lines, strict=True):
        x = line["latency_ms"]
        assert row["c"] == line["operator"] and row["op"] == line["operator"]
        assert math.isclose(row["a"], x) and row["up"] == math.ceil(x) and row["down"] == math.floor(x)
        assert math.isclose(row["r"], math.sqrt(x)) and math.isclose(row["ln"], math.log(x))
        assert math.isclose(row["g"], max(x, 30)) and math.isclose(row["l"], min(x, 30))
        assert row["next"] == int(line["order_id"][4:]) + 1


async def test_datetime_functions(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """datefloor/dateceil round @timestamp to a period; toMillis gives epoch milliseconds and fromMillis
    turns them back into a timestamp."""
    got = await run(engine, "sort @timestamp asc | limit 20 | fields datefloor(@timestamp, 1h) as floor, "
                            "dateceil(@timestamp, 10m) as ceil, toMillis(@timestamp) as epoch, "
                            "fromMillis(toMillis(@timestamp) + 1000) as later")
    for row, line in zip(got, sorted(current, key=ms)[:20], strict=True):
        epoch = ms(line)
        assert row["floor"] == shown(epoch // 3_600_000 * 3_600_000)
        assert row["ceil"] == shown(-(-epoch // 600_000) * 600_000)
        assert row["epoch"] == epoch and row["later"] == shown(epoch + 1000)


async def test_ip_functions(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """isValidIp, isValidIpV4, isValidIpV6, isIpInSubnet, isIpv4InSubnet, isIpv6InSubnet."""
    got = await run(engine, "stats sum(isValidIp(ip)) as any, sum(isValidIpV4(ip)) as v4, "
                            "sum(isValidIpV6(ip)) as v6, sum(isIpInSubnet(ip, '10.0.0.0/8')) as ten, "
                            "sum(isIpv4InSubnet(ip, '192.168.0.0/16')) as home, "
                            "sum(isIpv6InSubnet(ip, '2001:db8::/32')) as doc, sum(isValidIp(message)) as none")
    addresses = [ipaddress.ip_address(line["ip"]) for line in current]
    assert got == [{
        "any": len(addresses), "v4": sum(a.version == 4 for a in addresses),
        "v6": sum(a.version == 6 for a in addresses),
        "ten": sum(a in ipaddress.ip_network("10.0.0.0/8") for a in addresses if a.version == 4),
        "home": sum(a in ipaddress.ip_network("192.168.0.0/16") for a in addresses if a.version == 4),
        "doc": sum(a in ipaddress.ip_network("2001:db8::/32") for a in addresses if a.version == 6),
        "none": 0,
    }]


# -- pattern, diff, anomaly -----------------------------------------------------------------------------------
async def test_pattern_templates_counts_and_ratios(engine: DuckDBLogSearch, events: list[Event]) -> None:
    """`pattern message`: one row per template, dynamic tokens as `<*>`, `@sampleCount` events, `@ratio` their
    share of the period ("if half of the log events match the pattern, @ratio is 0.50"), most frequent first,
    `@severityLabel` from the events' level."""
    got = await run(engine, "pattern message")
    counts = Counter(event.template for event in events if event.current)
    total = sum(counts.values())
    expected = sorted(((TEMPLATES[k][1], n) for k, n in counts.items()), key=lambda item: (-item[1], item[0]))
    assert [(row["@pattern"], row["@sampleCount"]) for row in got] == expected
    assert all(math.isclose(row["@ratio"], round(row["@sampleCount"] / total, 4)) for row in got)
    severity = {row["@pattern"]: row["@severityLabel"] for row in got}
    assert severity[TEMPLATES[2][1]] == "Error" and severity[TEMPLATES[4][1]] == "Warning"
    assert severity[TEMPLATES[0][1]] == "Info"


async def test_pattern_after_filter_then_sort_and_limit(engine: DuckDBLogSearch, events: list[Event]) -> None:
    """`filter ... | pattern ... | sort @sampleCount asc | limit 1`: pattern combines with filter and sort."""
    got = await run(engine, 'filter level != "INFO" | pattern message | sort @sampleCount asc | limit 1')
    counts = Counter(event.template for event in events if event.current and event.line["level"] != "INFO")
    [(fewest, n)] = sorted(counts.items(), key=lambda item: (item[1], TEMPLATES[item[0]][1]))[:1]
    assert [(row["@pattern"], row["@sampleCount"]) for row in got] == [(TEMPLATES[fewest][1], n)]


async def test_diff_against_the_previous_period(engine: DuckDBLogSearch, events: list[Event]) -> None:
    """`pattern message | diff`: the period is compared with the one just before, of equal length; a template
    absent before is new, one absent now is gone (count 0), the others changed by their difference."""
    got = await run(engine, "pattern message | diff")
    now = Counter(event.template for event in events if event.current)
    before = Counter(event.template for event in events if not event.current)
    rows = {row["@pattern"]: row for row in got}
    assert set(rows) == {TEMPLATES[k][1] for k in (*now, *before)}
    for k, (_, pattern, _) in enumerate(TEMPLATES):
        row = rows[pattern]
        assert row["@sampleCount"] == now[k] and row["@diffEventCount"] == now[k] - before[k]
    assert rows[TEMPLATES[2][1]]["@differenceDescription"] == "new"
    assert rows[TEMPLATES[3][1]]["@differenceDescription"] == "gone"
    changed = rows[TEMPLATES[0][1]]["@differenceDescription"]
    assert changed == ("increased by " if now[0] > before[0] else "decreased by ") + str(abs(now[0] - before[0]))


async def test_anomaly_flags_the_new_pattern(engine: DuckDBLogSearch, events: list[Event]) -> None:
    """`pattern message | anomaly` (an approximation of the service's model): the template new in this period,
    with enough events, is reported, with a description and priority HIGH for an error."""
    got = await run(engine, "pattern message | anomaly")
    rows = {row["@pattern"]: row for row in got}
    assert TEMPLATES[2][1] in rows and rows[TEMPLATES[2][1]]["@priority"] == "HIGH"
    assert rows[TEMPLATES[2][1]]["@description"].startswith("new pattern")
    assert TEMPLATES[0][1] not in rows  # steady templates are not anomalies


async def test_ip_kinds_if_and_split(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """isPrivateIP / isPublicIP / isReservedIP, `if(condition, a, b)`, and split() giving a list unnest reads."""
    got = await run(engine, "stats sum(isPrivateIP(ip)) as private, sum(isPublicIP(ip)) as public, "
                            "sum(isReservedIP(ip)) as reserved, sum(if(level = 'ERROR', 1, 0)) as errors")
    addresses = [ipaddress.ip_address(line["ip"]) for line in current]
    assert got == [{"private": sum(a.is_private for a in addresses), "public": sum(a.is_global for a in addresses),
                    "reserved": sum(a.is_reserved for a in addresses),
                    "errors": sum(line["level"] == "ERROR" for line in current)}]
    got = await run(engine, "fields split(message, ' ') as words | unnest words into word "
                            "| filter word = 'Cache' | stats count(*) as n")
    assert got == [{"n": sum(line["message"].split(" ").count("Cache") for line in current)}]


async def test_second_stats_over_the_first(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """Two `stats` commands ("Using multiple stats commands"): the second aggregates the first's rows;
    command and keyword case does not matter."""
    got = await run(engine, "FIELDS strlen(message) AS len | STATS sum(len) / 1024 AS kb BY bin(5m) "
                            "| STATS max(kb) AS peak, avg(kb) AS mean, count(*) AS bins")
    per_bin = Counter[int]()
    for line in current:
        per_bin[ms(line) // 300_000] += len(line["message"])
    kb = [total / 1024 for total in per_bin.values()]
    [row] = got
    assert row["bins"] == len(kb) and math.isclose(row["peak"], max(kb))
    assert math.isclose(row["mean"], statistics.fmean(kb))


async def test_pattern_analysis_page_example(tmp_path: Path) -> None:
    """The "Pattern analysis" page's example: three `Calling DynamoDB` events are one pattern,
    `<*> <*> [INFO] Calling DynamoDB to store for resource id <*>`, with dynamic tokens shown as `<*>`."""
    import json

    lines = [f"2023-01-01 19:00:0{i} [INFO] Calling DynamoDB to store for resource id {rid}"
             for i, rid in ((1, "12342342k124-12345"), (2, "324892398123-12345"), (3, "3ff231242342-12345"))]
    (tmp_path / "app.jsonl").write_text("".join(
        json.dumps({"timestamp": f"2025-03-04T11:0{i}:00.000Z", "message": line}) + "\n"
        for i, line in enumerate(lines)))
    got = await run(DuckDBLogSearch(str(tmp_path / "*.jsonl")), "pattern message")
    assert got == [{"@pattern": "<*> <*> [INFO] Calling DynamoDB to store for resource id <*>", "@ratio": 1,
                    "@sampleCount": 3, "@severityLabel": "Info"}]


async def test_over_time_statistics(engine: DuckDBLogSearch, current: list[dict[str, Any]]) -> None:
    """count_over_time(*) and sum_over_time(field) by bin(): per bin, the count and the sum."""
    got = await run(engine, "stats count_over_time(*) as n, sum_over_time(latency_ms) as s by bin(30m) as b "
                            "| sort b asc")
    bins: dict[int, list[float]] = {}
    for line in current:
        bins.setdefault(ms(line) // 1_800_000 * 1_800_000, []).append(line.get("latency_ms", 0))
    assert [(row["b"], row["n"]) for row in got] == [(shown(b), len(v)) for b, v in sorted(bins.items())]
    assert all(math.isclose(row["s"], sum(v)) for row, (_, v) in zip(got, sorted(bins.items()), strict=True))
