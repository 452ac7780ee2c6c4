"""The CloudWatch Logs Insights engine against moto's server (protocol) and a scripted fake (states, errors)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from bot.adapters.cloudwatch_logs import CloudWatchLogSearch
from bot.errors import QueryError

GROUP = "/orders-pipeline/flink"


def logs_client(endpoint: str) -> Any:
    """A boto3 logs client for a local endpoint, with test credentials and no retries."""
    return boto3.client("logs", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's CloudWatch Logs server on a free port."""
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class FakeInsights(BaseHTTPRequestHandler):
    """Speaks the CloudWatch Logs JSON protocol; `script` decides each answer, `calls` records the targets."""

    script: ClassVar[dict[str, Any]] = {}
    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        target = self.headers.get("X-Amz-Target", "").split(".")[-1]
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.calls.append((target, body))
        answer = self.script.get(target)
        if callable(answer):
            answer = answer(len([c for c in self.calls if c[0] == target]))
        status, payload = answer if isinstance(answer, tuple) else (200, answer or {})
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep the test output quiet


@pytest.fixture
def fake() -> Iterator[tuple[str, type[FakeInsights]]]:
    """A scripted CloudWatch Logs server on a free port; set `script` before calling."""
    handler = type("Handler", (FakeInsights,), {"script": {}, "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def window() -> tuple[datetime, datetime]:
    end = datetime.now(UTC) + timedelta(minutes=1)
    return end - timedelta(hours=1), end


async def test_moto_round_trip(moto_endpoint: str) -> None:
    """start_query then get_query_results return rows with @ptr dropped and values typed."""
    client = logs_client(moto_endpoint)
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName="job-1")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    client.put_log_events(logGroupName=GROUP, logStreamName="job-1", logEvents=[
        {"timestamp": now_ms - 2000 + i, "message": json.dumps({"order_id": f"ORD-{i}"})} for i in range(3)])
    engine = CloudWatchLogSearch(client, log_groups=[GROUP], timeout=10, first_poll=0.01)
    start, end = window()
    result = await engine.run("fields @timestamp, @message | sort @timestamp desc | limit 2", start=start, end=end)
    assert result.status == "Complete"
    assert list(result.fields) == ["@timestamp", "@message"]
    assert len(result.rows) == 2 and "@ptr" not in result.rows[0]
    assert json.loads(result.rows[0]["@message"]) == {"order_id": "ORD-2"}
    assert str(result.rows[0]["@timestamp"]).startswith(str(datetime.now(UTC).year))


async def test_moto_missing_log_group_is_failed(moto_endpoint: str) -> None:
    """A log group that does not exist gives a Failed result that says so."""
    engine = CloudWatchLogSearch(logs_client(moto_endpoint), log_groups=["/nope"], timeout=5)
    start, end = window()
    result = await engine.run("fields @message", start=start, end=end)
    assert result.status == "Failed" and "log group not found" in result.message


async def test_polls_with_backoff_until_complete(fake: tuple[str, type[FakeInsights]]) -> None:
    """Running answers are polled again (with growing delays) until Complete; statistics are kept."""
    endpoint, handler = fake
    handler.script = {
        "StartQuery": {"queryId": "q-1"},
        "GetQueryResults": lambda n: {"status": "Running", "results": []} if n < 3 else {
            "status": "Complete", "statistics": {"recordsScanned": 1234.0},
            "results": [[{"field": "error_type", "value": "parse_error"}, {"field": "count", "value": "812"},
                         {"field": "@ptr", "value": "abc"}],
                        [{"field": "error_type", "value": "duplicate"}, {"field": "count", "value": "150"}]]},
    }
    engine = CloudWatchLogSearch(logs_client(endpoint), log_groups=[GROUP], timeout=10, first_poll=0.01)
    start, end = window()
    result = await engine.run("stats count() as count by error_type", start=start, end=end, limit=50)
    assert result.ok
    assert [dict(r) for r in result.rows] == [{"error_type": "parse_error", "count": 812},
                                             {"error_type": "duplicate", "count": 150}]
    assert result.records_scanned == 1234
    targets = [call[0] for call in handler.calls]
    assert targets == ["StartQuery", "GetQueryResults", "GetQueryResults", "GetQueryResults"]
    started = handler.calls[0][1]
    assert started["logGroupNames"] == [GROUP] and started["limit"] == 50
    assert started["endTime"] - started["startTime"] == 3600


async def test_our_timeout_stops_the_query(fake: tuple[str, type[FakeInsights]]) -> None:
    """A query still running at our timeout is stopped with StopQuery and reported as Timeout."""
    endpoint, handler = fake
    handler.script = {"StartQuery": {"queryId": "q-slow"}, "GetQueryResults": {"status": "Running"},
                      "StopQuery": {"success": True}}
    engine = CloudWatchLogSearch(logs_client(endpoint), log_groups=[GROUP], timeout=0.3, first_poll=0.05)
    start, end = window()
    result = await engine.run("fields @message", start=start, end=end)
    assert result.status == "Timeout" and "stopped" in result.message
    assert ("StopQuery", {"queryId": "q-slow"}) in handler.calls


@pytest.mark.parametrize(("status", "words"), [("Failed", "failed"), ("Cancelled", "cancelled"),
                                              ("Timeout", "timed the query out")])
async def test_final_states_become_clear_results(fake: tuple[str, type[FakeInsights]], status: str,
                                                 words: str) -> None:
    """Failed, Cancelled and Timeout from the service become results with that status and a message."""
    endpoint, handler = fake
    handler.script = {"StartQuery": {"queryId": "q"}, "GetQueryResults": {"status": status, "results": []}}
    engine = CloudWatchLogSearch(logs_client(endpoint), log_groups=[GROUP], timeout=5, first_poll=0.01)
    start, end = window()
    result = await engine.run("fields @message", start=start, end=end)
    assert result.status == status and not result.ok
    assert words in result.message


async def test_limit_exceeded_is_a_failed_result(fake: tuple[str, type[FakeInsights]]) -> None:
    """LimitExceededException (too many concurrent queries) becomes a Failed result, not an exception."""
    endpoint, handler = fake
    handler.script = {"StartQuery": (400, {"__type": "LimitExceededException",
                                           "message": "Account maximum query concurrency limit of 30 reached"})}
    engine = CloudWatchLogSearch(logs_client(endpoint), log_groups=[GROUP], timeout=5)
    start, end = window()
    result = await engine.run("fields @message", start=start, end=end)
    assert result.status == "Failed"
    assert "too many concurrent Logs Insights queries" in result.message


async def test_malformed_query_raises_query_error(fake: tuple[str, type[FakeInsights]]) -> None:
    """A query the service rejects as malformed raises QueryError with the service's words."""
    endpoint, handler = fake
    handler.script = {"StartQuery": (400, {"__type": "MalformedQueryException", "message": "unexpected symbol"})}
    engine = CloudWatchLogSearch(logs_client(endpoint), log_groups=[GROUP], timeout=5)
    start, end = window()
    with pytest.raises(QueryError, match="unexpected symbol"):
        await engine.run("fields |", start=start, end=end)


async def test_unreachable_endpoint_is_failed() -> None:
    """No server at the endpoint gives a Failed result saying CloudWatch cannot be reached."""
    client = boto3.client("logs", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    engine = CloudWatchLogSearch(client, log_groups=[GROUP], timeout=5)
    start, end = window()
    result = await engine.run("fields @message", start=start, end=end)
    assert result.status == "Failed" and "cannot reach CloudWatch Logs" in result.message
