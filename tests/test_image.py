"""The bot's image from the real Dockerfile, built with buildah and run: healthy, ready, non-root, database in /data."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support import image

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def bot_image() -> Iterator[str]:
    """The bot image built from this checkout (skipped where images cannot be built; failed under CI=true)."""
    reason = image.missing_requirement()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI needs it")
        pytest.skip(reason)
    with image.exclusive():
        yield image.build_bot_image()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _argv(pid: int) -> list[str] | None:
    """A process's command line, or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return None


def _uids(pid: int) -> set[int]:
    """A process's real, effective, saved and filesystem user ids."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {int(uid) for line in status.splitlines() if line.startswith("Uid:") for uid in line.split()[1:]}


@contextmanager
def running(container: str, command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`buildah run` the command in the container on the host's network; stopped (and its processes gone) after."""
    args = ["buildah", "run", "--isolation", "chroot", "--network", "host", container, "--", *command]
    with log.open("wb") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=sink)
        started: set[int] = set()
        try:
            yield process
        finally:
            started.update(_descendants(process.pid))
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            for pid in started:  # nothing this run started outlives it
                if _argv(pid) is not None:
                    os.kill(pid, signal.SIGKILL)


def test_image_serves_as_non_root_with_its_database_in_data(bot_image: str, tmp_path: Path) -> None:
    """`incident-bot serve` from the image answers /healthz and /readyz, runs as the image's user, writes /data."""
    config = json.loads(image.buildah("inspect", "--type", "image", bot_image))
    settings = config["Docker"]["config"]
    assert settings["Entrypoint"] == ["incident-bot"] and settings["Cmd"][0] == "serve"
    assert settings["User"] == "10001" and "/data" in settings["Volumes"]
    assert settings["Env"] and "DATABASE_URL=sqlite:////data/incident-bot.db" in settings["Env"]
    assert settings["Healthcheck"]["Test"][0] == "CMD"

    with image.working_container(bot_image) as container:
        rootfs = Path(image.buildah("mount", container).strip())
        data_owner = (rootfs / "data").stat().st_uid
        image.buildah("umount", container)
        # The image's /data belongs to its user, so the volume made from it (as Docker does) is writable.
        assert data_owner == 10001

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        # The image's own entry point and command, on a loopback port instead of 0.0.0.0:8080.
        command = [*settings["Entrypoint"], "serve", "--host", "127.0.0.1", "--port", str(port)]
        log = tmp_path / "serve.log"
        with running(container, command, log) as process:
            deadline = time.monotonic() + 120  # the bot's own start-up takes ~15 s on a busy 2-vCPU machine
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"not ready within 120 s:\n{log.read_text()}"
                time.sleep(0.2)
            assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
            assert httpx.get(f"{base}/readyz", timeout=5).json()["status"] == "ready"

            servers = [pid for pid in _descendants(process.pid)
                       if (argv := _argv(pid)) and argv[0].endswith("python") and "serve" in argv]
            assert servers, "no incident-bot serve process found under buildah run"
            assert set().union(*(_uids(pid) for pid in servers)) == {10001}

            # Seen from the server itself: /data is a volume of its own (not the image's layers) holding the database.
            server = servers[0]
            mounts = [line.split()[4] for line in Path(f"/proc/{server}/mountinfo").read_text().splitlines()]
            assert "/data" in mounts
            database = Path(f"/proc/{server}/root/data/incident-bot.db")
            assert database.exists() and database.stat().st_uid == 10001

        assert "Traceback" not in log.read_text()
