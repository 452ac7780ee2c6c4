"""What both bot benchmarks share: the bot as a subprocess on loopback, machine facts, and percentile maths.

`BotServer` runs `incident-bot serve` on a free 127.0.0.1 port with only the environment a benchmark gives it
(every incident-bot setting inherited from the shell is dropped first), waits for `/readyz`, and stops it on exit.
To add a benchmark: build its env, `with BotServer(env, workdir) as bot:`, drive `bot.url`, print a Markdown table
whose first rows come from `machine_rows()`.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_BUCKET = re.compile(r'^(?P<name>[a-zA-Z_:][\w:]*)_bucket\{(?:[^}]*,)?le="(?P<le>[^"]+)"[^}]*\}\s+(?P<v>\S+)$')


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any incident-bot setting, plus `overrides`."""
    from bot.settings import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in ours}
    # The bot's own code must come from this checkout whether or not the venv installed it editable.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(overrides)
    return env


def _serve_command(port: int) -> list[str]:
    script = Path(sys.executable).parent / "incident-bot"
    head = [str(script)] if script.is_file() else [sys.executable, "-c", "from bot.cli import main; main()"]
    return [*head, "serve", "--host", "127.0.0.1", "--port", str(port)]


class BotServer:
    """`incident-bot serve` as a child process, started in `workdir` (so no stray `.env` is read)."""

    def __init__(self, env: Mapping[str, str], workdir: Path, *, app: str | None = None) -> None:
        """`app` (`module:attribute`) serves that ASGI app on plain uvicorn instead of the bot (a yardstick)."""
        self.port = free_port()
        self.app = app
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.log_path = workdir / ("server.log" if app is None else "noop.log")
        self._env = bot_env(env)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._proc is not None, "BotServer is not started"
        return self._proc.pid

    def start(self) -> BotServer:
        """Spawn the server and wait until `/readyz` answers 200 (raises RuntimeError with its log otherwise)."""
        with self.log_path.open("wb") as log:
            command = _serve_command(self.port) if self.app is None else [
                sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port),
                "--no-access-log", "--log-level", "warning", "--app-dir", str(REPO)]
            self._proc = subprocess.Popen(command, cwd=self.workdir, env=self._env,
                                          stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"incident-bot serve exited with {self._proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"incident-bot serve not ready within {READY_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (from /proc; 0.0 where there is no /proc)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def __enter__(self) -> BotServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def machine_rows() -> list[tuple[str, str]]:
    """(label, value) rows describing where the figures were measured."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    rows = [("nproc", str(os.cpu_count())), ("CPU", cpu),
            ("Python", f"{platform.python_implementation()} {platform.python_version()}")]
    with contextlib.suppress(OSError):
        # Other work on a 2-core box moves every figure; the load average says how quiet the run was.
        rows.append(("load average (1/5/15 min)", " / ".join(f"{x:.2f}" for x in os.getloadavg())))
    return rows


def machine_line() -> str:
    """The machine rows on one line."""
    return "; ".join(f"{label} {value}" for label, value in machine_rows())


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def histogram_buckets(metrics_text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts `{le: count}` of Prometheus histogram `name` in a text exposition."""
    buckets: dict[float, float] = {}
    for line in metrics_text.splitlines():
        match = _BUCKET.match(line.strip())
        if match and match["name"] == name:
            buckets[float(match["le"])] = buckets.get(float(match["le"]), 0.0) + float(match["v"])
    return buckets


def bucket_delta(after: Mapping[float, float], before: Mapping[float, float]) -> dict[float, float]:
    """Buckets of the observations made between two scrapes."""
    return {le: count - before.get(le, 0.0) for le, count in after.items()}


def histogram_quantile(buckets: Mapping[float, float], q: float) -> float:
    """Prometheus' `histogram_quantile` (q in 0..1): linear interpolation inside the bucket holding rank q.

    Past the last finite bound it answers that bound (the true value is only known to be larger).
    """
    bounds = sorted(buckets)
    total = buckets.get(math.inf, buckets[bounds[-1]] if bounds else 0.0)
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for upper in bounds:
        count = buckets[upper]
        if count >= rank:
            if math.isinf(upper):
                return lower
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = upper, count
    return lower


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal, for tables."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f}"
