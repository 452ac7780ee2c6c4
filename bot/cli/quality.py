"""`incident-bot alarms backtest`, `alarms tune` and `report`: alert quality from metric history and the store.

History comes from `METRICS_BACKEND` (CloudWatch `GetMetricData` at `AWS_ENDPOINT_URL` when set, or a run's
`LOCAL_METRICS`) at each alarm's period and statistic; the rule is replayed by `pipeline.backtest` with the local
evaluator's own function. Past incidents and their outcomes come from `DATABASE_URL` when it holds any. Nothing
here changes an alarm: a human edits `pipeline/alarms.py` and runs `alarms deploy`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.adapters.metric_sources import metric_history_from_settings
from bot.cli.app import app
from bot.cli.deploy import alarms_app
from bot.clock import wall_clock
from bot.errors import ConfigError, MetricsUnavailable
from bot.health.ports import MetricQuery
from bot.incidents.models import Incident
from bot.incidents.outcomes import outcomes_of
from bot.incidents.quality import quality_report, report_text
from bot.settings import Settings, load_settings, parse_duration
from bot.store import Database, sync_url, upgrade
from pipeline.alarms import ALARMS, AlarmSpec, alarm_name
from pipeline.backtest import (
    PastIncident,
    Setting,
    backtest,
    normal_values,
    propose,
    setting_of,
    to_values,
    with_setting,
)

Days = Annotated[float, typer.Option("--days", min=0.01, help="How much history to replay (days).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@alarms_app.command("backtest")
def backtest_command(
    days: Days = 14.0,
    alarm: Annotated[str | None, typer.Option(help="One alarm (Name or full alarm name).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Proposed threshold (needs --alarm).")] = None,
    periods: Annotated[int | None, typer.Option(min=1, help="Proposed evaluation periods (needs --alarm).")] = None,
    datapoints: Annotated[int | None, typer.Option(min=1, help="Proposed datapoints to alarm (needs --alarm).")]
    = None,
    as_json: AsJson = False,
) -> None:
    """Replay each alarm's rule over its metric history: would-be ALARM episodes, pages a week, incidents caught."""
    proposing = any(v is not None for v in (threshold, periods, datapoints))
    if proposing and alarm is None:
        _fail("--threshold/--periods/--datapoints compare one alarm: give --alarm NAME")
    settings = _settings()
    specs = _chosen(settings, alarm)
    history, start, end = _history(settings, specs, days)
    incidents = _past_incidents(settings, specs, start, end)
    rows: list[dict[str, Any]] = []
    for spec in specs:
        name, values = alarm_name(spec, settings.alarm_prefix), history[spec.name]
        current = backtest(spec, values, start, end, incidents.get(spec.name, ()))
        current["setting"] = setting_of(spec).as_dict()
        if not proposing:
            rows.append({"alarm": name, **current, "datapoints": len(values)})
            continue
        now = setting_of(spec)
        setting = Setting(threshold if threshold is not None else now.threshold, periods or now.periods,
                          datapoints or min(now.datapoints, periods or now.periods))
        try:
            tuned = with_setting(spec, setting)
        except ValueError as exc:
            _fail(str(exc))
        proposed = backtest(tuned, values, start, end, incidents.get(spec.name, ()))
        proposed["setting"] = setting.as_dict()
        rows.append({"alarm": name, "current": current, "proposed": proposed, "datapoints": len(values)})
    result = {"since": _iso(start), "until": _iso(end), "alarms": rows}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"backtest {_iso(start)} → {_iso(end)}")
    for row in rows:
        if "proposed" in row:
            typer.echo(f"{row['alarm']}:")
            typer.echo(f"  current  {_line(row['current'])}")
            typer.echo(f"  proposed {_line(row['proposed'])}")
        else:
            typer.echo(f"{row['alarm']}: {_line(row)}" + ("  (no datapoints)" if not row["datapoints"] else ""))


@alarms_app.command("tune")
def tune_command(days: Days = 14.0, as_json: AsJson = False) -> None:
    """Propose each alarm's steady-state setting (95th percentile of normal, 2-3 periods); changes nothing."""
    settings = _settings()
    specs = list(ALARMS)
    history, start, end = _history(settings, specs, days)
    incidents = _past_incidents(settings, specs, start, end)
    rows: list[dict[str, Any]] = []
    for spec in specs:
        values, past = history[spec.name], incidents.get(spec.name, ())
        setting = propose(spec, values, start, end, past)
        rows.append({
            "alarm": alarm_name(spec, settings.alarm_prefix),
            "current": setting_of(spec).as_dict(),
            "proposed": setting.as_dict(),
            "normal_datapoints": len(normal_values(spec, values, past, start, end)),
            "backtest": {"current": backtest(spec, values, start, end, past),
                         "proposed": backtest(with_setting(spec, setting), values, start, end, past)},
        })
    if as_json:
        typer.echo(json.dumps({"since": _iso(start), "until": _iso(end), "alarms": rows}, indent=2))
        return
    typer.echo(f"proposals from {_iso(start)} → {_iso(end)} (nothing changed; edit pipeline/alarms.py, then "
               "`alarms deploy`)")
    for row in rows:
        if not row["normal_datapoints"]:
            typer.echo(f"{row['alarm']}: no history, keep {_setting(row['current'])}")
            continue
        typer.echo(f"{row['alarm']}: {_setting(row['current'])} → {_setting(row['proposed'])}   "
                   f"pages/week {row['backtest']['current']['pages_per_week']} → "
                   f"{row['backtest']['proposed']['pages_per_week']}")


@app.command("report")
def report_command(
    since: Annotated[str, typer.Option(help="How far back, e.g. 7d, 24h.")] = "7d",
    as_json: AsJson = False,
) -> None:
    """Alert quality per alarm from the incident store: pages, outcomes, false positives, MTTA/MTTR, flags."""
    try:
        span = parse_duration(since)
    except ValueError as exc:
        _fail(f"--since: {exc}")
    if span <= timedelta(0):
        _fail("--since must be longer than 0")
    settings = _settings()
    upgrade(settings.database_url)  # the outcomes table must exist; the bot itself upgrades the same way
    db = Database(settings.database_url)
    until = wall_clock()
    try:
        report = db.transact(lambda session: quality_report(session, since=until - span, until=until))
    finally:
        db.engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        typer.echo(report_text(report))


def _fail(message: str) -> NoReturn:
    """A bad option or an unreachable store: one line on stderr, exit status 2."""
    typer.echo(f"incident-bot: {message}", err=True)
    raise typer.Exit(2)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        _fail(str(exc))


def _chosen(settings: Settings, alarm: str | None) -> list[AlarmSpec]:
    if alarm is None:
        return list(ALARMS)
    for spec in ALARMS:
        if alarm in (spec.name, alarm_name(spec, settings.alarm_prefix)):
            return [spec]
    known = ", ".join(spec.name for spec in ALARMS)
    _fail(f"unknown alarm {alarm!r}; one of {known}")


def _history(settings: Settings, specs: Sequence[AlarmSpec],
             days: float) -> tuple[dict[str, dict[int, float]], datetime, datetime]:
    """Each alarm's `{period start ms: statistic}` over the last `days` (a local run: up to its newest minute)."""
    source = metric_history_from_settings(settings)
    queries = [MetricQuery(spec.name, spec.metric, spec.statistic, spec.period, namespace=spec.namespace,
                           dimensions=spec.dimensions) for spec in specs]

    async def read() -> tuple[Mapping[str, Any], datetime, datetime]:
        end = await source.latest() or wall_clock().replace(second=0, microsecond=0)
        start = end - timedelta(days=days)
        # The first evaluations look back a whole window: fetch that much before `start` too.
        lead = max(spec.period * spec.evaluation_periods for spec in specs)
        return await source.history(queries, start=start - timedelta(seconds=lead), end=end), start, end

    try:
        series, start, end = asyncio.run(read())
    except MetricsUnavailable as exc:
        _fail(str(exc))
    return {spec.name: to_values(series.get(spec.name, [])) for spec in specs}, start, end


def _past_incidents(settings: Settings, specs: Sequence[AlarmSpec], start: datetime,
                    end: datetime) -> dict[str, list[PastIncident]]:
    """Incidents each alarm opened in [start, end], with outcomes; nothing when the store holds no incidents."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
        return {}  # no store yet: do not leave an empty SQLite file behind
    engine = create_engine(sync_url(settings.database_url))
    try:
        tables = set(inspect(engine).get_table_names())
        if "incidents" not in tables:
            return {}
        names = {alarm_name(spec, settings.alarm_prefix): spec.name for spec in specs}
        with Session(engine) as session:
            found = session.execute(select(Incident).where(
                Incident.alarm_name.in_(names), Incident.opened_at >= start, Incident.opened_at <= end,
            ).order_by(Incident.opened_at)).scalars().all()
            kinds = outcomes_of(session, (i.id for i in found)) if "incident_outcomes" in tables else {}
    except Exception as exc:  # a store we cannot read only costs the incident comparison, said in one line
        typer.echo(f"incident-bot: incidents not read ({type(exc).__name__}); backtesting metrics only", err=True)
        return {}
    finally:
        engine.dispose()
    out: dict[str, list[PastIncident]] = {}
    for incident in found:
        out.setdefault(names[incident.alarm_name], []).append(
            PastIncident(incident.id, incident.opened_at, incident.resolved_at, kinds.get(incident.id)))
    return out


def _line(result: dict[str, Any]) -> str:
    caught = result.get("caught")
    incidents = (" · incidents " + ", ".join(f"{n} {word}" for word, n in caught.items() if n)) if caught else ""
    return (f"{_setting(result['setting'])}: {len(result['episodes'])} episodes, "
            f"{result['pages_per_week']} pages/week{incidents}")


def _setting(setting: dict[str, Any]) -> str:
    return f"threshold {setting['threshold']:g}, {setting['datapoints']} of {setting['periods']}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
