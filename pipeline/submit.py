"""The `pipeline` image's command: submit `pipeline/main.py` to a Flink session cluster with `flink run -py`.

    python -m pipeline.submit        # FLINK_REST=host:port (default jobmanager:8081); the job reads ORDERS_SOURCE,
                                     # ORDERS_SINK, PARALLELISM, ... (see pipeline.main) in the Flink client

`incident-bot pipeline submit` builds the same command (`flink_run_command`), detached, against a local cluster
(`pipeline.cluster`), so the image's command is the one the tests run. The `pipeline` package goes with the job as
a zip (`-pyfs`, first on the client's and the workers' PYTHONPATH): the TaskManagers' Python workers run the code
the job was built from, whatever is installed on them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pipeline
from pipeline import main as job_main
from pipeline.cluster import Cluster, flink_home
from pipeline.job import OUTPUTS


def flink_run_command(rest: str, *, detached: bool = False, flink: str | None = None,
                      python: str | None = None, ship_dir: Path | None = None) -> list[str]:
    """`flink run -m REST [-d] -pyfs pipeline.zip -py pipeline/main.py`, this interpreter for client and workers."""
    python = python or sys.executable
    package = package_zip(ship_dir or Path(tempfile.mkdtemp(prefix="pipeline-submit-")))
    return [flink or flink_executable(), "run", "-m", rest, *(["-d"] if detached else []),
            "-pyclientexec", python, "-pyexec", python,
            "-pyfs", str(package), "-py", str(Path(job_main.__file__))]


def package_zip(directory: Path) -> Path:
    """Zip the `pipeline` package (sources only) into `directory`; returns the zip's path."""
    root = Path(pipeline.__file__).parent
    target = directory / "pipeline.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*.py")):
            archive.write(path, Path("pipeline") / path.relative_to(root))
    return target


def flink_executable() -> str:
    """`$FLINK_HOME/bin/flink` (the image's /opt/flink), else the distribution inside the pyflink wheel."""
    home = os.environ.get("FLINK_HOME")
    if home:
        return str(Path(home) / "bin" / "flink")
    return str(flink_home() / "bin" / "flink")


def submit_detached(rest: str, env: dict[str, str], *, flink: str | None = None, timeout_s: float = 180) -> str:
    """Run `flink run -d` with `env` (ORDERS_SOURCE, ORDERS_SINK, ...); returns the job id Flink printed."""
    with tempfile.TemporaryDirectory(prefix="pipeline-submit-") as ship:
        command = flink_run_command(rest.removeprefix("http://"), detached=True, flink=flink, ship_dir=Path(ship))
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    found = re.search(r"JobID ([0-9a-f]{32})", result.stdout)
    if result.returncode != 0 or not found:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"flink run failed (exit {result.returncode}):\n{tail}")
    return found.group(1)


def submit_job(cluster: Cluster, source: Path, out: Path, *, parallelism: int = 2,
               checkpoint_interval_ms: int = 10_000, source_rate: float = 0.0) -> str:
    """Submit the job over a local file to `cluster`, writing `out/` as `pipeline run` does; returns the job id."""
    source, out = source.resolve(), out.resolve()
    for name in (*OUTPUTS, "metrics"):
        (out / name).mkdir(parents=True, exist_ok=True)
    env = {**cluster.env(), "ORDERS_SOURCE": str(source), "ORDERS_SINK": str(out), "ENVIRONMENT": "local",
           "PARALLELISM": str(parallelism), "CHECKPOINT_INTERVAL_MS": str(checkpoint_interval_ms),
           "SOURCE_RATE": str(source_rate)}
    return submit_detached(cluster.rest_url, env)


def main() -> None:
    """Submit to FLINK_REST and stay attached while the job runs (the container lives as long as the job)."""
    command = flink_run_command(os.environ.get("FLINK_REST", "jobmanager:8081"))
    os.execvp(command[0], command)  # noqa: S606 - the container's process becomes flink's client


if __name__ == "__main__":
    main()
