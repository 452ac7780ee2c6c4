"""A standalone Flink session cluster started from the `apache-flink` wheel: one JobManager, N TaskManagers.

The wheel ships Flink's distribution (`pyflink/bin`, `lib`, `conf`). A cluster lives in one directory of its own:
`conf/` (a copy of the wheel's `conf/` with this cluster's `config.yaml`: loopback ports, memory, heartbeats,
checkpoint storage), `log/`, `pids/` (one pid file per daemon, named by `FLINK_IDENT_STRING`), `checkpoints/`,
`tmp/` and `cluster.json` (ports and REST URL). Nothing is shared with another cluster on the machine.
`pipeline.submit` runs the job on it; `incident-bot pipeline cluster start|stop|status` wraps this module.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
# Set in the environment of everything started for a cluster (daemons, hence their Python workers; clients), so
# that `stop` finds what a killed TaskManager left behind, and nothing of anyone else's.
MARKER = "INCIDENT_BOT_FLINK_CLUSTER"
TERMINAL_STATES = frozenset({"FINISHED", "FAILED", "CANCELED", "SUSPENDED"})


def flink_home() -> Path:
    """The Flink distribution inside the installed `pyflink` package (found without importing it)."""
    spec = importlib.util.find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        raise ClusterError("pyflink is not installed: pip install 'incident-bot[pipeline]'")
    return Path(next(iter(spec.submodule_search_locations)))


class ClusterError(RuntimeError):
    """The cluster could not be started, reached or stopped; the message says why (and where the logs are)."""


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """Size of a local cluster: sized for a 2-core machine shared with others (about 3.3 GB of JVMs in all)."""

    taskmanagers: int = 2
    slots: int = 2  # per TaskManager: a job of parallelism 2 survives the loss of one TaskManager
    jobmanager_memory: str = "768m"
    taskmanager_memory: str = "1280m"
    # Fast enough to notice a dead TaskManager in seconds, slow enough not to declare a busy one dead on a
    # loaded shared machine (a killed process is seen sooner: its RPCs fail, see heartbeat.rpc-failure-threshold).
    heartbeat_interval_ms: int = 3000
    heartbeat_timeout_ms: int = 20000
    startup_timeout_s: float = 90.0


class Cluster:
    """One standalone session cluster, identified by its directory."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory).resolve()

    # --- paths and state ------------------------------------------------------------------------------------
    @property
    def conf_dir(self) -> Path:
        """This cluster's FLINK_CONF_DIR."""
        return self.dir / "conf"

    @property
    def log_dir(self) -> Path:
        """This cluster's FLINK_LOG_DIR (one .log and .out per daemon)."""
        return self.dir / "log"

    def state(self) -> dict[str, Any]:
        """What `start` recorded in `cluster.json` (ports, REST URL, TaskManager ids); {} before a start."""
        path = self.dir / "cluster.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @property
    def rest_url(self) -> str:
        """The JobManager's REST endpoint, `http://127.0.0.1:PORT`."""
        url = self.state().get("rest_url")
        if not url:
            raise ClusterError(f"no cluster in {self.dir}: run `incident-bot pipeline cluster start` first")
        return str(url)

    def env(self) -> dict[str, str]:
        """Environment for Flink's scripts and CLI: this cluster's conf, logs and pid files."""
        return {**os.environ, "FLINK_HOME": str(flink_home()), "FLINK_CONF_DIR": str(self.conf_dir),
                "FLINK_LOG_DIR": str(self.log_dir), "FLINK_PID_DIR": str(self.dir / "pids"), MARKER: str(self.dir)}

    def pid(self, daemon: str) -> int | None:
        """Pid of `jobmanager` or a TaskManager id (`tm-1`, ...), from its pid file; None if never started."""
        kind = "standalonesession" if daemon == "jobmanager" else "taskexecutor"
        path = self.dir / "pids" / f"flink-{daemon}-{kind}.pid"
        lines = path.read_text().split() if path.is_file() else []
        return int(lines[-1]) if lines else None

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self, spec: ClusterSpec | None = None) -> dict[str, Any]:
        """Write the configuration, start the JobManager and TaskManagers, wait until all slots are registered."""
        spec = spec or ClusterSpec()
        if self.state() and any(p["alive"] for p in self._processes()):
            raise ClusterError(f"a cluster is already running from {self.dir}: stop it first")
        for name in ("pids", "log", "tmp", "checkpoints"):
            shutil.rmtree(self.dir / name, ignore_errors=True)
            (self.dir / name).mkdir(parents=True)
        shutil.rmtree(self.conf_dir, ignore_errors=True)
        shutil.copytree(flink_home() / "conf", self.conf_dir)
        rpc, rest, blob = _free_ports(3)
        (self.conf_dir / "config.yaml").write_text(self._config(spec, rpc=rpc, rest=rest, blob=blob),
                                                  encoding="utf-8")
        taskmanagers = [f"tm-{i}" for i in range(1, spec.taskmanagers + 1)]
        state = {"rest_url": f"http://{HOST}:{rest}", "ports": {"rpc": rpc, "rest": rest, "blob": blob},
                 "taskmanagers": taskmanagers, "slots": spec.slots}
        (self.dir / "cluster.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
        bin_dir = flink_home() / "bin"
        self._daemon([str(bin_dir / "jobmanager.sh"), "start"], ident="jobmanager")
        for tm in taskmanagers:
            self._daemon([str(bin_dir / "taskmanager.sh"), "start", f"-Dtaskmanager.resource-id={tm}"], ident=tm)
        self._wait_registered(len(taskmanagers), spec.startup_timeout_s)
        return self.status()

    def stop(self, timeout_s: float = 15.0) -> list[int]:
        """Stop every daemon (SIGTERM, then SIGKILL after `timeout_s`), then whatever else this cluster started.

        "Whatever else": processes whose environment carries this cluster's marker, i.e. the Python workers
        (also those a killed TaskManager left behind) and `flink run` clients; never another cluster's processes.
        Returns the pids stopped.
        """
        daemons = [p["pid"] for p in self._processes() if p["alive"]]
        for pid in daemons:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(_alive(pid) for pid in daemons):
            time.sleep(0.2)
        members = self.members()
        for pid in daemons + members:
            _signal(pid, signal.SIGKILL)
        (self.dir / "cluster.json").unlink(missing_ok=True)
        return sorted(set(daemons + members))

    def members(self) -> list[int]:
        """Live processes started for this cluster (`env()` marks their environment), except this one."""
        return [int(e.name) for e in Path("/proc").iterdir()
                if e.name.isdigit() and int(e.name) != os.getpid() and self.owns(int(e.name))]

    def owns(self, pid: int) -> bool:
        """True if `pid` runs and was started for this cluster (a recycled pid is someone else's)."""
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return False
        return f"{MARKER}={self.dir}".encode() in environ.split(b"\0") and _alive(pid)

    def status(self) -> dict[str, Any]:
        """The JobManager and each TaskManager with pid and liveness, the REST URL, and the REST overview."""
        state = self.state()
        processes = self._processes()
        overview: dict[str, Any] | None = None
        if state and processes and processes[0]["alive"]:
            try:
                overview = self.rest("/overview", timeout=3)
            except ClusterError:
                overview = None
        registered: dict[str, Any] = {}
        if overview is not None:
            registered = {tm["id"]: tm for tm in self.rest("/taskmanagers", timeout=3).get("taskmanagers", [])}
        tms = [{**p, "registered": p["id"] in registered,
                "slots": registered.get(p["id"], {}).get("slotsNumber"),
                "free_slots": registered.get(p["id"], {}).get("freeSlots")} for p in processes[1:]]
        return {
            "dir": str(self.dir),
            "running": overview is not None,
            "rest_url": state.get("rest_url"),
            "jobmanager": processes[0] if processes else None,
            "taskmanagers": tms,
            "overview": overview,
        }

    def kill_taskmanager(self, tm: str) -> int:
        """`kill -9` one TaskManager, as a lost machine would; returns its pid (its Python workers are left)."""
        pid = self.pid(tm)
        if pid is None or not self.owns(pid):
            raise ClusterError(f"TaskManager {tm} is not running")
        os.kill(pid, signal.SIGKILL)
        return pid

    # --- REST -----------------------------------------------------------------------------------------------
    def rest(self, path: str, *, timeout: float = 10.0) -> Any:
        """GET `path` on the JobManager's REST API, decoded JSON."""
        try:
            with urllib.request.urlopen(self.rest_url + path, timeout=timeout) as response:  # noqa: S310 - loopback
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ClusterError(f"GET {self.rest_url}{path} failed: {exc}") from None

    def job(self, job_id: str) -> dict[str, Any]:
        """`/jobs/:id`: state, timestamps, vertices with their task status counts."""
        return dict(self.rest(f"/jobs/{job_id}"))

    def wait_for_job(self, job_id: str, *, timeout_s: float = 600.0) -> dict[str, Any]:
        """Poll until the job reaches a terminal state; returns its `/jobs/:id`."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job["state"] in TERMINAL_STATES:
                return job
            if time.monotonic() > deadline:
                raise ClusterError(f"job {job_id} still {job['state']} after {timeout_s:.0f} s")
            time.sleep(0.5)

    def recovery(self, job_id: str) -> dict[str, Any]:
        """How the job recovered: failures (time, TaskManager, exception) and the checkpoint it restored from."""
        exceptions = self.rest(f"/jobs/{job_id}/exceptions").get("exceptionHistory", {}).get("entries", [])
        checkpoints = self.rest(f"/jobs/{job_id}/checkpoints")
        restored = (checkpoints.get("latest") or {}).get("restored")
        counts = checkpoints.get("counts", {})
        return {
            "failures": [{"timestamp": e.get("timestamp"), "taskmanager": (e.get("taskManagerLocation") or {})
                          .get("resourceID") or e.get("taskManagerId"),
                          "exception": (e.get("exceptionName") or "")} for e in exceptions],
            "restored_checkpoint": None if restored is None else {
                "id": restored.get("id"), "restore_timestamp": restored.get("restore_timestamp")},
            "checkpoints": {"completed": counts.get("completed", 0), "failed": counts.get("failed", 0),
                            "restored": counts.get("restored", 0)},
        }

    # --- internals ------------------------------------------------------------------------------------------
    def _config(self, spec: ClusterSpec, *, rpc: int, rest: int, blob: int) -> str:
        wheel = (flink_home() / "conf" / "config.yaml").read_text(encoding="utf-8")
        java_opts = next((line.split("all:", 1)[1].strip() for line in wheel.splitlines()
                          if line.strip().startswith("all:")), "")
        tmp = self.dir / "tmp"
        settings: dict[str, Any] = {
            # The JDK 17 module flags Flink needs, from the wheel's own config, plus a private temp dir.
            "env.java.opts.all": f"{java_opts} -Djava.io.tmpdir={tmp}".strip(),
            "jobmanager.bind-host": HOST,
            "jobmanager.rpc.address": HOST,
            "jobmanager.rpc.port": rpc,
            "jobmanager.memory.process.size": spec.jobmanager_memory,
            "jobmanager.execution.failover-strategy": "region",
            "rest.address": HOST,
            "rest.bind-address": HOST,
            "rest.port": rest,
            "blob.server.port": blob,
            # TaskManagers take random free ports, bound to loopback only.
            "taskmanager.bind-host": HOST,
            "taskmanager.host": HOST,
            "taskmanager.rpc.port": 0,
            "taskmanager.data.port": 0,
            "taskmanager.numberOfTaskSlots": spec.slots,
            "taskmanager.memory.process.size": spec.taskmanager_memory,
            # Spread a job's slots over the TaskManagers, so that losing one loses part of the job, not all of it.
            "taskmanager.load-balance.mode": "slots",
            "parallelism.default": 2,
            "heartbeat.interval": spec.heartbeat_interval_ms,
            "heartbeat.timeout": spec.heartbeat_timeout_ms,
            "execution.checkpointing.dir": f"file://{self.dir / 'checkpoints'}",
            "io.tmp.dirs": str(tmp),
            "web.tmpdir": str(tmp),
            "python.client.executable": sys.executable,  # the job's Python: this venv's
            "python.executable": sys.executable,
        }
        return "".join(f"{key}: {json.dumps(value) if isinstance(value, str) else value}\n"
                       for key, value in settings.items())

    def _daemon(self, command: list[str], *, ident: str) -> None:
        env = {**self.env(), "FLINK_IDENT_STRING": ident}
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise ClusterError(f"{' '.join(command[:2])} failed: {result.stdout}{result.stderr}".strip())

    def _wait_registered(self, taskmanagers: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            dead = [p for p in self._processes() if not p["alive"]]
            if dead:
                break
            try:
                overview = self.rest("/overview", timeout=2)
                if overview.get("taskmanagers", 0) >= taskmanagers:
                    return
                last = json.dumps(overview)
            except ClusterError as exc:
                last = str(exc)
            time.sleep(0.5)
        self.stop()
        raise ClusterError(f"cluster did not come up ({last or 'a daemon exited'}); logs in {self.log_dir}")

    def _processes(self) -> list[dict[str, Any]]:
        """The JobManager first, then the TaskManagers, as recorded by `start`."""
        state = self.state()
        if not state:
            return []
        rows = []
        for ident in ["jobmanager", *state.get("taskmanagers", [])]:
            pid = self.pid(ident)
            rows.append({"id": ident, "pid": pid, "alive": pid is not None and self.owns(pid)})
        return rows


def _free_ports(n: int) -> list[int]:
    """`n` distinct ports free on loopback now (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
