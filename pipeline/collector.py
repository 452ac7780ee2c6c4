"""Checkpoint and restart metrics from a Flink cluster's REST API, as EMF documents (`incident-bot pipeline collect`).

Flink counts checkpoints and failures since the job started; CloudWatch alarms want what happened in each
minute. So the collector polls `GET /jobs/:id/checkpoints` and `GET /jobs/:id/exceptions` and emits the
differences since its previous poll (the first poll of a job emits nothing for counters: its past is not "this
minute"), plus the latest completed checkpoint's duration and size:

    checkpoint_completed_total   completed since the last poll            (Count)
    checkpoint_failures_total    failed since the last poll               (Count; CheckpointFailure alarms on it)
    checkpoint_duration_ms       latest completed end-to-end duration     (Milliseconds)
    checkpoint_size_bytes        latest completed checkpointed size       (Bytes)
    job_restarts_total           new entries in the exception history     (Count; each is a failover)

The job is the one `GET /jobs` reports RUNNING (or RESTARTING), unless given. Each poll's documents are stamped
with the poll's wall-clock time. Plain urllib: no dependency for a sidecar that runs next to the JobManager.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline import emf

LIVE_STATES = ("RUNNING", "RESTARTING", "CREATED", "INITIALIZING")


class CollectorError(Exception):
    """The REST API could not be read (unreachable, not Flink, no job); the message is one line."""


@dataclass(slots=True)
class Collector:
    """Polls one cluster; remembers the previous counts per job to emit per-poll differences."""

    rest_url: str
    job_id: str | None = None
    timeout: float = 5.0
    clock: Callable[[], float] = time.time
    _seen: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def _get(self, path: str) -> Any:
        url = f"{self.rest_url.rstrip('/')}{path}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:  # noqa: S310 - the operator's URL
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise CollectorError(f"GET {url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CollectorError(f"GET {url}: {reason}") from None

    def current_job(self) -> str:
        """The job to watch: the one given, or the one the cluster runs."""
        if self.job_id:
            return self.job_id
        jobs = self._get("/jobs").get("jobs", [])
        live = [j["id"] for j in jobs if j.get("status") in LIVE_STATES]
        if not live:
            raise CollectorError(f"no running job at {self.rest_url} (jobs: {len(jobs)})")
        return str(live[0])

    def poll(self) -> list[dict[str, Any]]:
        """One poll: EMF documents for what changed since the previous one."""
        job = self.current_job()
        checkpoints = self._get(f"/jobs/{job}/checkpoints")
        exceptions = self._get(f"/jobs/{job}/exceptions")
        now_ms = int(self.clock() * 1000)
        counts = checkpoints.get("counts") or {}
        completed, failed = int(counts.get("completed", 0)), int(counts.get("failed", 0))
        restarts = len((exceptions.get("exceptionHistory") or {}).get("entries") or [])
        docs: list[dict[str, Any]] = []
        before = self._seen.get(job)
        if before is not None:
            # A counter that went down means Flink started counting again (a new attempt of the job).
            for name, now_value, old in (("checkpoint_completed_total", completed, before[0]),
                                         ("checkpoint_failures_total", failed, before[1]),
                                         ("job_restarts_total", restarts, before[2])):
                docs.append(emf.count_document(name, now_value - old if now_value >= old else now_value,
                                               timestamp_ms=now_ms))
        self._seen[job] = (completed, failed, restarts)
        latest = (checkpoints.get("latest") or {}).get("completed") or {}
        if latest:
            docs.append(emf.count_document("checkpoint_duration_ms", float(latest.get("end_to_end_duration", 0)),
                                           timestamp_ms=now_ms, unit="Milliseconds"))
            size = latest.get("checkpointed_size", latest.get("state_size", 0))
            docs.append(emf.count_document("checkpoint_size_bytes", float(size), timestamp_ms=now_ms,
                                           unit="Bytes"))
        return docs
