"""The job's entry point for `flink run -py pipeline/main.py` (see `pipeline.submit`): all knobs from the environment.

    ORDERS_SOURCE           kafka://BROKERS/orders.raw (or a JSON-lines file: then its `.faults.json` applies)
    ORDERS_SINK             firehose://orders (delivery streams orders-output, orders-dlq, ...) or a directory
    PARALLELISM             default 2
    CHECKPOINT_INTERVAL_MS  default 10000
    RESTART_ATTEMPTS        fixed-delay restarts from the last checkpoint before the job fails, default 10
    RESTART_DELAY_MS        between restarts, default 2000
    SOURCE_RATE             replay a file at most this many records/s (0: as fast as possible), default 0
    ENVIRONMENT             label on every log line, default prod
"""

from __future__ import annotations

import os
from pathlib import Path


def main() -> None:
    """Build the job from the environment and run it until it ends or is cancelled."""
    from pyflink.common import Configuration

    from pipeline.job import JobConfig, build_job, with_fault_sidecar

    config = JobConfig(
        parallelism=int(os.environ.get("PARALLELISM", "2")),
        checkpoint_interval_ms=int(os.environ.get("CHECKPOINT_INTERVAL_MS", "10000")),
        environment=os.environ.get("ENVIRONMENT", "prod"),
        source_rate=float(os.environ.get("SOURCE_RATE", "0")),
    )
    source = os.environ.get("ORDERS_SOURCE", "kafka://kafka:9092/orders.raw")
    sink = os.environ.get("ORDERS_SINK", "firehose://orders")
    if "://" not in source:
        config = with_fault_sidecar(config, Path(source))
    env = build_job(source, sink, config)
    # A lost TaskManager restarts the job from its last completed checkpoint; the file and Firehose sinks commit
    # on checkpoints, so the restart neither loses nor duplicates output.
    restart = Configuration()
    restart.set_string("restart-strategy.type", "fixed-delay")
    restart.set_string("restart-strategy.fixed-delay.attempts", os.environ.get("RESTART_ATTEMPTS", "10"))
    restart.set_string("restart-strategy.fixed-delay.delay", f"{int(os.environ.get('RESTART_DELAY_MS', '2000'))} ms")
    env.configure(restart)
    env.execute("orders-pipeline")


if __name__ == "__main__":
    main()
