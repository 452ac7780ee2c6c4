"""A fake CloudWatch endpoint for `GetMetricWidgetImage` (moto does not implement it): a real local HTTP server
speaking the protocol botocore uses for CloudWatch here (AWS JSON 1.0, `X-Amz-Target:
GraniteServiceVersion20100801.<Operation>`), checking the widget JSON the way CloudWatch does and answering a
PNG. Every widget asked for is kept in `widgets`; `fail_next(code)` makes the next call fail with that error.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_PREFIX = "GraniteServiceVersion20100801."
# The smallest valid PNG (1×1, transparent): what the fake draws for every widget.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
WIDGET_SIZE_MAX = 2000


class FakeCloudWatchWidgets:
    """`start()`, point a boto3 `cloudwatch` client at `endpoint_url`, `stop()`."""

    def __init__(self) -> None:
        self.widgets: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FakeCloudWatchWidgets:
        """Listen on 127.0.0.1, a free port, in a background thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, code: str) -> None:
        """Answer the next call with this CloudWatch error code (e.g. `Throttling`, `InvalidParameterInput`)."""
        self.failures.append(code)

    def answer(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer for one call."""
        if self.failures:
            code = self.failures.pop(0)
            return (400 if code != "InternalServiceError" else 500), {"__type": code, "message": code}
        if operation != "GetMetricWidgetImage":
            return 400, {"__type": "UnknownOperationException", "message": operation}
        try:
            widget = json.loads(str(body.get("MetricWidget") or ""))
        except json.JSONDecodeError:
            return 400, {"__type": "InvalidParameterInput", "message": "MetricWidget is not JSON"}
        problem = _widget_problem(widget)
        if problem or body.get("OutputFormat", "png") != "png":
            return 400, {"__type": "InvalidParameterInput", "message": problem or "OutputFormat"}
        self.widgets.append(widget)
        return 200, {"MetricWidgetImage": base64.b64encode(PNG).decode()}


def _widget_problem(widget: Any) -> str:
    if not isinstance(widget, dict):
        return "the widget must be an object"
    metrics = widget.get("metrics")
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, list) and len(m) >= 2 for m in metrics):
        return "metrics must be a non-empty list of [namespace, name, ...] arrays"
    for key in ("width", "height"):
        if not 1 <= int(widget.get(key, 600)) <= WIDGET_SIZE_MAX:
            return f"{key} out of range"
    return ""


class _Handler(BaseHTTPRequestHandler):
    fake: FakeCloudWatchWidgets
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        """One AWS JSON 1.0 call."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        if not target.startswith(TARGET_PREFIX) or "AWS4-HMAC-SHA256" not in self.headers.get("Authorization", ""):
            status, answer = 400, {"__type": "MissingAuthenticationToken", "message": "unsigned or no target"}
        else:
            status, answer = self.fake.answer(target.removeprefix(TARGET_PREFIX), json.loads(raw or b"{}"))
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
