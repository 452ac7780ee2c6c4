"""The job on a real standalone Flink cluster from the wheel, and what happens when a TaskManager dies mid-run.

One module-scoped cluster (one JobManager, two TaskManagers) and one killed run: the job is submitted through
`incident-bot pipeline submit --wait` (the `pipeline` image's own `flink run -py` command) in a separate process,
one TaskManager is `kill -9`ed once a checkpoint has completed, and the output must still reconcile exactly after
Flink's restart.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from pipeline.cluster import Cluster
from pipeline.job import read_lines
from pipeline.orders import iso_ms, parse_event_time
from pipeline.submit import flink_run_command

ROOT = Path(__file__).resolve().parents[2]
START = "2026-11-25T10:00:00Z"
# No slow_enrichment: a restart empties the enrichment cache, so its timeouts may rightly differ from a run
# without a failure; every other fault must land in the DLQ exactly as injected, restart or not.
FAULTS = ["schema_change@3-6", "duplicates@9-11:0.4", "invalid_amount@12-13:0.5", "late_events@22-28:0.25"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("flink-cluster")
    cluster = Cluster(directory)
    try:
        result = CliRunner().invoke(app, ["pipeline", "cluster", "start", "--dir", str(directory), "--json"])
        assert result.exit_code == 0, result.output
        yield cluster
    finally:
        cluster.stop()
        assert cluster.members() == [], "processes of the cluster survived `stop`"


@pytest.mark.slow
def test_status_lists_each_daemon_with_its_pid_and_the_rest_url(cluster: Cluster) -> None:
    """`cluster status --json`: the JobManager and both TaskManagers alive with pids, REST on loopback."""
    result = CliRunner().invoke(app, ["pipeline", "cluster", "status", "--dir", str(cluster.dir), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["running"] is True
    assert status["rest_url"].startswith("http://127.0.0.1:")
    assert status["jobmanager"]["alive"] and status["jobmanager"]["pid"] > 0
    assert [(tm["id"], tm["alive"], tm["registered"]) for tm in status["taskmanagers"]] == [
        ("tm-1", True, True), ("tm-2", True, True)]
    assert all(tm["pid"] > 0 for tm in status["taskmanagers"])
    assert status["overview"]["slots-total"] == 4


@dataclass
class KilledRun:
    out: Path
    summary: dict[str, Any]
    injected: Counter[str]
    job_id: str


@pytest.fixture(scope="module")
def killed_run(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> KilledRun:
    """`pipeline submit --wait` in its own process; `kill -9` of tm-1 once the job has completed a checkpoint."""
    base = tmp_path_factory.mktemp("killed-run")
    source, out = base / "orders.jsonl", base / "out"
    args = ["pipeline", "generate", "--orders", "6000", "--minutes", "60", "--start", START, "--seed", "5",
            "--out", str(source)]
    for fault in FAULTS:
        args += ["--fault", fault]
    generated = CliRunner().invoke(app, args)
    assert generated.exit_code == 0, generated.output
    injected = Counter({k: int(v) for k, v in (p.split(": ") for p in generated.output.strip().split("; ")[1:])})
    # A separate process, as on-call would run it; `python -m bot` from the repository runs this checkout. At 250
    # records/s the replay lasts about 25 s, so the kill lands mid-run on any machine, and the source advances like
    # a live stream (see "Replay a file with --rate" in pipeline/README.md).
    submit = subprocess.Popen(
        [sys.executable, "-m", "bot", "pipeline", "submit", "--dir", str(cluster.dir), "--source", str(source),
         "--out", str(out), "--wait", "--rate", "250", "--checkpoint-interval", "2000", "--timeout", "420"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        job_id = _running_with_a_checkpoint(cluster, submit)
        assert cluster.job(job_id)["state"] == "RUNNING"
        cluster.kill_taskmanager("tm-1")
        stdout, stderr = submit.communicate(timeout=480)
    finally:
        if submit.poll() is None:
            submit.kill()
    assert submit.returncode == 0, stdout + stderr
    return KilledRun(out, json.loads(stdout), injected, job_id)


@pytest.mark.slow
def test_flink_restarts_the_job_from_its_last_checkpoint(cluster: Cluster, killed_run: KilledRun) -> None:
    """The restart shows where on-call looks: the job's exception history and its restored checkpoint."""
    assert killed_run.summary["state"] == "FINISHED"
    assert killed_run.summary["restarts"] >= 1
    assert killed_run.summary["restored_checkpoint"] is not None
    recovery = cluster.recovery(killed_run.job_id)
    assert recovery["checkpoints"]["restored"] >= 1
    status = cluster.status()
    assert [tm["alive"] for tm in status["taskmanagers"]] == [False, True]


@pytest.mark.slow
def test_output_is_input_minus_dlq_without_loss_or_duplicate(killed_run: KilledRun) -> None:
    """Exactly-once file commits: output = input − DLQ, each order once, DLQ per error type exactly as injected."""
    out, injected = killed_run.out, killed_run.injected
    dlq = Counter(r["error_type"] for r in read_lines(out / "dlq"))
    assert dlq == Counter({"parse_error": injected["schema_change"], "duplicate": injected["duplicates"],
                           "validation_error": injected["invalid_amount"]})
    orders = list(read_lines(out / "output"))
    ids = Counter(o["order_id"] for o in orders)
    assert [i for i, n in ids.items() if n > 1] == []
    assert len(orders) == killed_run.summary["input"] - sum(dlq.values()) == killed_run.summary["output"]
    late = Counter(r["order_id"] for r in read_lines(out / "late"))
    assert max(late.values(), default=1) == 1
    assert set(late) <= set(ids)


@pytest.mark.slow
def test_each_window_fires_on_time_once_with_its_orders(killed_run: KilledRun) -> None:
    """No window result is emitted twice, and every window that fired counts all its orders but the late ones."""
    _, _, expected = _windows_expected(killed_run.out)
    firings = Counter((w["currency"], w["window_start"]) for w in read_lines(killed_run.out / "windows")
                      if w["firing"] == "on_time")
    assert firings and max(firings.values()) == 1
    final = _final_window_counts(killed_run.out)
    assert {key: final[key] for key in final} == {key: expected[key] for key in final}


@pytest.mark.slow
def test_every_window_is_complete_after_the_restart(killed_run: KilledRun) -> None:
    """Windows complete: every (currency, 5-minute window) of the output fired, Σ window orders = input − DLQ − late."""
    orders, late, expected = _windows_expected(killed_run.out)
    assert _final_window_counts(killed_run.out) == dict(expected)
    assert killed_run.summary["window_orders"] == len(orders) - len(late)


def test_image_command_is_the_submit_command(tmp_path: Path) -> None:
    """The `pipeline` image runs `python -m pipeline.submit`, which ships the package and runs pipeline/main.py."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["python", "-m", "pipeline.submit"]' in dockerfile
    command = flink_run_command("jobmanager:8081", flink="flink", python="python", ship_dir=tmp_path)
    assert command[:4] == ["flink", "run", "-m", "jobmanager:8081"]
    assert command[-2:] == ["-py", str(ROOT / "pipeline" / "main.py")]
    shipped = Path(command[command.index("-pyfs") + 1])
    with zipfile.ZipFile(shipped) as archive:
        assert {"pipeline/main.py", "pipeline/job.py", "pipeline/operators.py"} <= set(archive.namelist())


def _running_with_a_checkpoint(cluster: Cluster, submit: subprocess.Popen[str]) -> str:
    """Wait until the submitted job runs every task and has completed a checkpoint; returns its id."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert submit.poll() is None, submit.communicate()
        jobs: list[dict[str, Any]] = cluster.rest("/jobs")["jobs"]
        for job in jobs:
            detail = cluster.job(job["id"])
            counts = detail["status-counts"]
            if detail["state"] == "RUNNING" and counts["RUNNING"] == sum(counts.values()):
                completed = cluster.rest(f"/jobs/{job['id']}/checkpoints")["counts"]["completed"]
                if completed >= 1:
                    return str(job["id"])
        time.sleep(0.5)
    raise AssertionError("the job never ran with a completed checkpoint")


def _windows_expected(out: Path) -> tuple[list[dict[str, Any]], set[str], Counter[tuple[str, str]]]:
    """Output orders, late order ids, and per (currency, window start) the orders a window should count."""
    orders = list(read_lines(out / "output"))
    late = {r["order_id"] for r in read_lines(out / "late")}
    return orders, late, Counter((o["currency"], _window(o["event_time"])) for o in orders
                                 if o["order_id"] not in late)


def _final_window_counts(out: Path) -> dict[tuple[str, str], int]:
    """Orders per window from its last firing (a late firing re-emits the whole window)."""
    final: dict[tuple[str, str], int] = {}
    for w in read_lines(out / "windows"):
        key = (w["currency"], w["window_start"])
        final[key] = max(final.get(key, 0), w["orders"])
    return final


def _window(event_time: str) -> str:
    ms = parse_event_time(event_time)
    return iso_ms(ms - ms % (5 * 60_000))
