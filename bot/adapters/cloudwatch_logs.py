"""CloudWatch Logs Insights as the `LogSearch` port: start_query, poll get_query_results, stop on our timeout.

boto3 blocks, so every call goes through `asyncio.to_thread`. Vendor failures become QueryResult statuses
(Failed, Cancelled, Timeout) with a one-line message; a query the service rejects as malformed raises
QueryError.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.errors import QueryError
from bot.incidents.ports import QueryResult
from bot.logquery.to_duckdb import DEFAULT_LIMIT
from bot.logquery.values import format_timestamp, typed_value

log = structlog.get_logger(__name__)

_FINAL = {"Complete", "Failed", "Cancelled", "Timeout", "Unknown"}


class CloudWatchLogSearch:
    """Logs Insights over `log_groups` through a boto3 `logs` client."""

    def __init__(
        self,
        client: Any = None,
        *,
        log_groups: Sequence[str],
        timeout: float = 60.0,
        region: str | None = None,
        endpoint_url: str | None = None,
        first_poll: float = 0.25,
        max_poll: float = 2.0,
    ) -> None:
        if not log_groups:
            raise ValueError("CloudWatchLogSearch needs at least one log group (LOG_GROUPS)")
        self.client = client or boto3.client(
            "logs", region_name=region, endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )
        self.log_groups = list(log_groups)
        self.timeout = timeout
        self.first_poll = first_poll
        self.max_poll = max_poll

    async def run(
        self, query: str, *, start: datetime, end: datetime, limit: int | None = None
    ) -> QueryResult:
        """Run `query` over [start, end] in the log groups; raises QueryError if the service rejects it."""
        began = time.monotonic()
        try:
            started = await asyncio.to_thread(
                self.client.start_query,
                logGroupNames=self.log_groups,
                startTime=int(start.timestamp()),
                endTime=int(end.timestamp()),
                queryString=query,
                limit=min(limit or DEFAULT_LIMIT, DEFAULT_LIMIT),
            )
        except ClientError as exc:
            return _client_error(exc)
        except BotoCoreError as exc:
            return _failed(f"cannot reach CloudWatch Logs: {exc}")
        query_id = started["queryId"]
        log.info("log_query_started", engine="cloudwatch", query_id=query_id, log_groups=self.log_groups)
        delay = self.first_poll
        while True:
            try:
                response = await asyncio.to_thread(self.client.get_query_results, queryId=query_id)
            except ClientError as exc:
                return _client_error(exc)
            except BotoCoreError as exc:
                return _failed(f"cannot reach CloudWatch Logs: {exc}")
            status = response.get("status", "Unknown")
            elapsed = time.monotonic() - began
            if status in _FINAL:
                return _result(response, status, elapsed)
            if elapsed + delay > self.timeout:
                await self._stop(query_id)
                log.warning("log_query_timed_out", engine="cloudwatch", query_id=query_id,
                            timeout_s=self.timeout)
                message = f"the query did not finish within {self.timeout:g} s and was stopped"
                return QueryResult(fields=[], rows=[], status="Timeout", elapsed_seconds=elapsed,
                                   message=message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_poll)

    async def _stop(self, query_id: str) -> None:
        try:
            await asyncio.to_thread(self.client.stop_query, queryId=query_id)
        except (ClientError, BotoCoreError) as exc:
            # The query may have finished in the meantime; nothing more to do either way.
            log.info("log_query_stop_failed", query_id=query_id, error=str(exc))


def _result(response: Mapping[str, Any], status: str, elapsed: float) -> QueryResult:
    fields: list[str] = []
    rows: list[dict[str, Any]] = []
    for record in response.get("results", []):
        row: dict[str, Any] = {}
        for cell in record:
            name = cell.get("field", "")
            if name == "@ptr":  # an opaque pointer for get_log_record, useless in a table
                continue
            if name not in fields:
                fields.append(name)
            value = cell.get("value", "")
            if name == "@timestamp" and value.isdigit():  # epoch ms from some emulators; the service prints text
                row[name] = format_timestamp(datetime.fromtimestamp(int(value) / 1000, tz=UTC))
            else:
                row[name] = typed_value(value)
        rows.append(row)
    statistics = response.get("statistics", {})
    scanned = statistics.get("recordsScanned")
    messages = {
        "Failed": "CloudWatch Logs Insights reported the query as failed",
        "Cancelled": "the query was cancelled before it finished",
        "Timeout": "CloudWatch Logs Insights timed the query out (its limit is 60 minutes)",
        "Unknown": "CloudWatch Logs Insights no longer knows this query",
    }
    return QueryResult(
        fields=fields, rows=rows, status="Failed" if status == "Unknown" else status,
        records_scanned=int(scanned) if scanned is not None else None,
        elapsed_seconds=elapsed, message=messages.get(status, ""),
    )


def _client_error(exc: ClientError) -> QueryResult:
    code = exc.response.get("Error", {}).get("Code", "")
    text = exc.response.get("Error", {}).get("Message", "") or str(exc)
    if code == "MalformedQueryException":
        raise QueryError(f"CloudWatch rejected the query: {text}") from None
    if code == "LimitExceededException":
        return _failed(f"too many concurrent Logs Insights queries; try again in a minute ({text})")
    if code == "ResourceNotFoundException":
        return _failed(f"log group not found (LOG_GROUPS): {text}")
    if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
        return _failed(f"not allowed to query CloudWatch Logs ({code}): {text}")
    return _failed(f"CloudWatch Logs error {code}: {text}")


def _failed(message: str) -> QueryResult:
    return QueryResult(fields=[], rows=[], status="Failed", message=message)
