"""`python -m bot serve` as a real process in tests: start it, and wait until `/readyz` says it is ready."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

import httpx


def start_serve(port: int, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m bot serve --port PORT` with `env`, its output appended to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                                stdout=sink, stderr=sink, env=dict(env))


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, *, timeout: float = 60.0,
               poll: float = 0.1, name: str = "server") -> float:
    """Block until `base/readyz` answers 200 (returns that moment, monotonic); fails with the server's log if it
    exits first, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return time.monotonic()
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{name} did not become ready"
        time.sleep(poll)
