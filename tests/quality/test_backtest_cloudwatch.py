"""`alarms backtest` and `alarms tune` against moto's CloudWatch holding two weeks of per-minute DLQ counts.

The expected episodes are computed here from CloudWatch's documented rule (DLQSpike: Sum per minute, ALARM when
2 of the last 2 minutes are over the threshold, missing minutes not breaching), not with the bot's evaluator.
"""

from __future__ import annotations

import json
import math
import random
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.cli import app
from bot.incidents.models import Incident, Outcome
from bot.store import Database, upgrade

pytestmark = pytest.mark.slow

MINUTE = timedelta(minutes=1)
DLQ_ALARM = "orders-pipeline-DLQSpike"




def _history(end: datetime) -> dict[datetime, float]:
    """Two weeks (+ a little) of per-minute DLQ counts: quiet noise, spikes, a gap, and a spike at the very end."""
    rng = random.Random(11)
    start = end - timedelta(days=14, minutes=10)
    values = {start + i * MINUTE: float(rng.randint(0, 60)) for i in range(int((end - start) / MINUTE))}

    def spike(day: float, minutes: list[float]) -> None:
        at = (end - timedelta(days=14) + timedelta(days=day)).replace(second=0, microsecond=0)
        for i, value in enumerate(minutes):
            values[at + i * MINUTE] = value

    spike(1, [150, 160, 170])               # one episode for the current threshold (100)
    spike(3, [500, 10])                      # a single minute: never pages 2-of-2
    spike(5, [120, 130, 20, 140, 150, 90])   # two episodes
    spike(8, [90, 95, 85, 99])               # only a threshold of 80 pages on this
    gap = end - timedelta(days=10) + 28 * MINUTE
    values[gap], values[gap + MINUTE] = 200.0, 210.0  # breaching, then a gap: 2 of 2 once, then OK
    for i in range(2, 12):
        values.pop(gap + i * MINUTE, None)  # missing minutes do not breach
    for i in range(30):
        values[end - (30 - i) * MINUTE] = 300.0  # still in ALARM when the history ends
    return values


def _expected(values: dict[datetime, float], since: datetime, until: datetime,
              threshold: float) -> list[dict[str, Any]]:
    """CloudWatch's rule evaluated after each closed minute in [since, until): 2 of the last 2 breaching."""
    episodes: list[dict[str, Any]] = []
    in_alarm, opened = False, None
    minute = since
    while minute + MINUTE <= until:
        window = [values.get(minute - i * MINUTE) for i in range(2)]
        breaching = sum(1 for v in window if v is not None and v > threshold)
        now_alarm = breaching >= 2
        at = minute + MINUTE
        if now_alarm and not in_alarm:
            opened = at
        elif in_alarm and not now_alarm:
            episodes.append({"start": opened, "end": at})
        in_alarm = now_alarm
        minute += MINUTE
    if in_alarm:
        episodes.append({"start": opened, "end": None})
    for episode in episodes:  # peak: the biggest minute from the window that raised it to the one that cleared it
        lo, hi = episode["start"] - 2 * MINUTE, episode["end"] or until
        episode["peak"] = max(v for t, v in values.items() if lo <= t < hi)
        episode["start"] = _iso(episode["start"])
        episode["end"] = _iso(episode["end"]) if episode["end"] else None
    return episodes


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def history_in_moto(moto_url: str) -> dict[datetime, float]:
    """The history, put once for the module (put_metric_data takes at most 1,000 datapoints a call)."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    client = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    # A few minutes past now (CloudWatch takes datapoints up to 2 h ahead): the backtest's "now" falls inside
    # the last spike whenever it runs.
    end = datetime.now(UTC).replace(second=0, microsecond=0) + 5 * MINUTE
    values = _history(end)
    data = [{"MetricName": "DLQRecordCount", "Timestamp": at, "Value": value, "Unit": "Count"}
            for at, value in sorted(values.items())]
    for i in range(0, len(data), 1000):
        client.put_metric_data(Namespace="OrdersPipeline", MetricData=data[i : i + 1000])
    return values


@pytest.fixture
def cloudwatch_history(history_in_moto: dict[datetime, float], moto_url: str, monkeypatch: pytest.MonkeyPatch,
                       tmp_path: Path) -> dict[datetime, float]:
    """The CLI pointed at moto (METRICS_BACKEND=cloudwatch, AWS_ENDPOINT_URL) and at an empty store."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("METRICS_BACKEND", "cloudwatch")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return history_in_moto


def _run(*argv: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_backtest_reports_the_episodes_cloudwatch_would_for_current_and_proposed(
    cloudwatch_history: dict[datetime, float],
) -> None:
    """Every ALARM episode of DLQSpike over 14 days, at today's threshold (100) and at a proposed 80."""
    answer = _run("alarms", "backtest", "--days", "14", "--alarm", "DLQSpike", "--threshold", "80", "--json")
    [row] = answer["alarms"]
    since, until = _parse(answer["since"]), _parse(answer["until"])
    assert until - since == timedelta(days=14)
    assert row["alarm"] == DLQ_ALARM
    current, proposed = row["current"], row["proposed"]
    assert current["setting"] == {"threshold": 100.0, "periods": 2, "datapoints": 2}
    assert proposed["setting"] == {"threshold": 80.0, "periods": 2, "datapoints": 2}
    expected_now = _expected(cloudwatch_history, since, until, 100.0)
    expected_80 = _expected(cloudwatch_history, since, until, 80.0)
    assert current["episodes"] == expected_now
    assert proposed["episodes"] == expected_80
    assert len(expected_now) == 5 and expected_now[-1]["end"] is None  # days 1, 5 (×2), the gap, the end
    assert len(expected_80) > len(expected_now)
    assert current["pages_per_week"] == round(len(expected_now) / 2, 2)


def test_tune_proposes_the_95th_percentile_of_the_history_outside_incidents(
    cloudwatch_history: dict[datetime, float], tmp_path: Path,
) -> None:
    """Incidents are cut out of "normal"; the threshold is the nearest-rank 95th percentile of the rest."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    episodes = _run("alarms", "backtest", "--alarm", "DLQSpike", "--json")["alarms"][0]["episodes"]
    spans = [(_parse(e["start"]), _parse(e["end"])) for e in episodes[:3]]
    db = Database(url)

    def seed(session: Session) -> None:
        for n, (opened, resolved) in enumerate(spans):
            incident = Incident(title="DLQ spike", alarm_name=DLQ_ALARM, alarm_arn=f"arn:{DLQ_ALARM}",
                                open_key=None, severity="CRITICAL", status="resolved", source="alarm",
                                opened_at=opened, resolved_at=resolved, last_transition_at=resolved, alarm={})
            session.add(incident)
            session.flush()
            session.add(Outcome(incident_id=incident.id, kind="false-positive" if n else "actionable", by="U1",
                                at=resolved))

    db.transact(seed)
    db.engine.dispose()

    answer = _run("alarms", "tune", "--days", "14", "--json")
    row = next(r for r in answer["alarms"] if r["alarm"] == DLQ_ALARM)
    since, until = _parse(answer["since"]), _parse(answer["until"])
    normal = sorted(v for t, v in cloudwatch_history.items()
                    if since <= t < until and not any(lo - 2 * MINUTE <= t < hi for lo, hi in spans))
    p95 = normal[math.ceil(0.95 * len(normal)) - 1]
    assert row["current"] == {"threshold": 100.0, "periods": 2, "datapoints": 2}
    assert row["proposed"]["threshold"] == p95
    assert 2 <= row["proposed"]["periods"] <= 3 and 1 <= row["proposed"]["datapoints"] <= row["proposed"]["periods"]
    assert row["normal_datapoints"] == len(normal)
    # Both settings backtested; the incidents are judged, and the actionable one is still caught.
    verdicts = {v["id"]: v for v in row["backtest"]["proposed"]["incidents"]}
    assert verdicts[1]["outcome"] == "actionable" and verdicts[1]["verdict"] != "missed"
    assert row["backtest"]["current"]["caught"]["caught"] == 3
    # Alarms whose metric CloudWatch does not know are listed, with nothing to replay.
    lag = next(r for r in answer["alarms"] if r["alarm"] == "orders-pipeline-ConsumerLagHigh")
    assert lag["normal_datapoints"] == 0 and lag["proposed"]["threshold"] == 50_000
