"""The gateway's Prometheus metrics, and the middleware that times every request."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackline_infra.metrics import LATENCY_BUCKETS

HTTP_REQUESTS = Counter(
    "stackline_gateway_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "stackline_gateway_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
INGEST_EVENTS = Counter(
    "stackline_gateway_ingest_events_total",
    "Events offered to POST /api/ingest, by outcome.",
    ["outcome"],
)
# Known outcomes exist at 0 from the start: rate() over a series that appears late misses
# its first increase.
for _outcome in ("accepted", "rejected"):
    INGEST_EVENTS.labels(_outcome)
INGEST_BATCH_EVENTS = Histogram(
    "stackline_gateway_ingest_batch_events",
    "Events per call to IngestService.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # Labels come from the route table, never from the raw path: a
            # scanner probing random URLs must not create series. Requests
            # refused before routing (413, unknown paths) share one label.
            route = scope["route"].path if "route" in scope else "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_DURATION.labels(scope["method"], route).observe(time.perf_counter() - started)
