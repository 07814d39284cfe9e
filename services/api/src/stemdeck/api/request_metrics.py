"""The API's Prometheus metrics: requests by route template, method and status, their
latency, the requests in flight, and uploads.

Pure ASGI, outermost but for Starlette's error handler: it counts every answer,
refusals by the front door included, and costs two counter updates and one histogram
observation per request (no extra I/O). The route label is the matched route's
template (``/api/jobs/{job_id}``), never the raw path, so one label value stands for
every id; requests no route matched (the web app's pages, 404s) share ``unmatched``.
A request that crashes counts as 500, which is what Starlette then answers.

/metrics itself is served on ``STEMDECK_METRICS_PORT`` (``stemdeck.core.metrics``),
never by this app.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "stemdeck_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "stemdeck_http_request_duration_seconds",
    "Time to answer, by route template and method (an event stream: its whole life).",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_FLIGHT = Gauge(
    "stemdeck_http_requests_in_flight",
    "Requests being answered now (open event streams included).",
    multiprocess_mode="livesum",
)
UPLOAD_BYTES = Counter("stemdeck_upload_bytes", "Bytes of uploaded audio received and stored.")
UPLOAD_SECONDS = Histogram(
    "stemdeck_upload_duration_seconds",
    "Time to receive and store one uploaded file, from the body's first byte to its commit.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


def record_upload(size_bytes: int, seconds: float) -> None:
    UPLOAD_BYTES.inc(size_bytes)
    UPLOAD_SECONDS.observe(seconds)


def route_template(scope: Scope) -> str:
    """The full template of the route the router matched (it leaves the route in the scope).

    A route of a router included under a prefix (``/api``) knows only its own part
    (``/jobs/{job_id}``); the prefix is what the path holds before that part, filled in.
    """
    template = getattr(scope.get("route"), "path_format", None)
    if not isinstance(template, str):
        return UNMATCHED
    path: str = scope["path"]
    try:
        filled = template.format(**scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return template
    return path[: len(path) - len(filled)] + template if path.endswith(filled) else template


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Each label set's counter and histogram, looked up once: labels() takes a lock
        # and builds a key on every call. Bounded: templates x methods x statuses.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_FLIGHT.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, noting_status)
        finally:
            IN_FLIGHT.dec()
            key = (route_template(scope), scope["method"], status)
            children = self._children.get(key) or self._add(key)
            children[0].inc()
            children[1].observe(time.perf_counter() - started)

    def _add(self, key: tuple[str, str, int]) -> tuple[Counter, Histogram]:
        route, method, status = key
        method = method if method in _METHODS else "other"
        children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
        self._children[key] = children
        return children
