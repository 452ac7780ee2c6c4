"""Production entry point for `flink run -py pipeline/main.py`: source, sink and knobs from the environment.

    ORDERS_SOURCE        kafka://BROKERS/orders.raw (or a file path)
    ORDERS_SINK          firehose://orders (delivery streams orders-output, orders-dlq, ...) or a directory
    PARALLELISM          default 2
    CHECKPOINT_INTERVAL_MS  default 10000
    ENVIRONMENT          label on every log line, default prod
"""

from __future__ import annotations

import os

from pipeline.job import JobConfig, build_job


def main() -> None:
    """Build the job from the environment and run it until cancelled."""
    config = JobConfig(
        parallelism=int(os.environ.get("PARALLELISM", "2")),
        checkpoint_interval_ms=int(os.environ.get("CHECKPOINT_INTERVAL_MS", "10000")),
        environment=os.environ.get("ENVIRONMENT", "prod"),
    )
    source = os.environ.get("ORDERS_SOURCE", "kafka://kafka:9092/orders.raw")
    sink = os.environ.get("ORDERS_SINK", "firehose://orders")
    build_job(source, sink, config).execute("orders-pipeline")


if __name__ == "__main__":
    main()
