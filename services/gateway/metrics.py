"""The gateway's Prometheus metrics, and the middleware that times every request."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp

from stackline_infra.metrics import HttpMetricsMiddleware

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


class MetricsMiddleware(HttpMetricsMiddleware):
    """stackline_gateway_http_requests_total and _duration_seconds, by route template."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, "gateway")
