"""The dashboard's Prometheus metrics: its own pages (the RED metrics every HTTP deployable
has, from stackline_infra) and the calls it makes to the gateway, by route template.

The gateway's answers are most of a page's time, so an SRE who sees slow pages needs to
see which API call is slow or failing from the dashboard's side of the wire too.
"""

from __future__ import annotations

import re
import time

import httpx2
from prometheus_client import Counter, Histogram

from stackline_infra.metrics import LATENCY_BUCKETS, method_label

# The gateway's route templates the dashboard calls, as the gateway declares them (a test
# holds this list to the gateway's own route table and to every call in dashboard/).
GATEWAY_ROUTES = (
    "/api/auth/dev-login",
    "/api/auth/github/callback",
    "/api/auth/github/login",
    "/api/auth/logout",
    "/api/auth/refresh",
    "/api/incidents",
    "/api/incidents/{incident_id}",
    "/api/me",
    "/api/me/export",
    "/api/projects",
    "/api/projects/{project_id}",
    "/api/projects/{project_id}/audit",
    "/api/projects/{project_id}/keys",
    "/api/projects/{project_id}/keys/{key_id}",
    "/api/projects/{project_id}/keys/{key_id}/rotate",
    "/api/projects/{project_id}/path-mappings",
)
_PATTERNS = tuple(
    (re.compile(re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(route))), route)
    for route in GATEWAY_ROUTES
)

GATEWAY_REQUESTS = Counter(
    "stackline_dashboard_gateway_requests_total",
    "Calls to the gateway's API, by method, route template and status (or timeout, "
    "unreachable, cancelled).",
    ["method", "route", "status"],
)
GATEWAY_DURATION = Histogram(
    "stackline_dashboard_gateway_request_duration_seconds",
    "Time until the gateway's answer (its headers) arrived, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)


def gateway_route(path: str) -> str:
    """The template of a path the dashboard calls; "other" for one it was never meant to."""
    for pattern, route in _PATTERNS:
        if pattern.fullmatch(path):
            return route
    return "other"


class MeasuredTransport(httpx2.AsyncBaseTransport):
    """Counts and times every call the dashboard's gateway client sends through `inner`."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        method = method_label(request.method)
        route = gateway_route(request.url.path)
        started = time.perf_counter()
        # Left so only when the page's own request was cancelled (the browser went away).
        status = "cancelled"
        try:
            response = await self._inner.handle_async_request(request)
            status = str(response.status_code)
            return response
        except httpx2.TimeoutException:
            status = "timeout"
            raise
        except Exception:
            status = "unreachable"
            raise
        finally:
            GATEWAY_REQUESTS.labels(method, route, status).inc()
            GATEWAY_DURATION.labels(method, route).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._inner.aclose()
