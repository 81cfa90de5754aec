"""Prometheus metrics shared by every service: `stackline_<service>_<thing>_<unit>`.

Labels come from closed sets only (method names, status codes, route
templates), never ids or raw paths.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    # Types only: the gRPC services' images carry no web framework.
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

# From 0.5 ms (a cached lookup) to 10 s (a call that hit its deadline).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True)
class RpcMetrics:
    requests: Counter
    duration: Histogram


@cache
def rpc_metrics(service: str) -> RpcMetrics:
    """The server-side RPC metrics of one service, created once per process."""
    return RpcMetrics(
        requests=Counter(
            f"stackline_{service}_rpc_requests_total",
            "gRPC calls answered, by method and status code.",
            ["method", "code"],
        ),
        duration=Histogram(
            f"stackline_{service}_rpc_duration_seconds",
            "Time to answer a gRPC call, by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
        ),
    )


BUILD_INFO = Gauge(
    "stackline_build_info",
    "Always 1; the labels say which version and Python this process runs.",
    ["version", "python"],
)


def record_build_info() -> None:
    """Publish the version the image was built as (STACKLINE_VERSION, "dev" outside one)."""
    version = os.environ.get("STACKLINE_VERSION", "dev")[:64]
    BUILD_INFO.labels(version, platform.python_version()).set(1)


def start_metrics_endpoint(host: str, port: int) -> None:
    """Serve /metrics for Prometheus from a daemon thread; port 0 turns it off."""
    if port:
        start_http_server(port, addr=host)


# Any other method a client sends (a scanner's PROPFIND) shares one label.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else "other"


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter
    duration: Histogram


@cache
def http_metrics(process: str) -> HttpMetrics:
    """The RED metrics of one HTTP deployable (gateway, dashboard), created once per process."""
    return HttpMetrics(
        requests=Counter(
            f"stackline_{process}_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
        ),
        duration=Histogram(
            f"stackline_{process}_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
        ),
    )


def _route_template(scope: Scope, root_path: str) -> str:
    """The route table's template for the request, never the raw path: a scanner probing
    random URLs must not create series. Requests refused before routing (413, unknown paths)
    share one label; a mounted app (the dashboard's /static) is labelled by its prefix, which
    the router appends to root_path when it hands the request over."""
    if "route" in scope:
        path: str = scope["route"].path
        return path
    mounted: str = scope.get("root_path", "")
    if mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path) :]
    return "unmatched"


class HttpMetricsMiddleware:
    """Times every HTTP request of an ASGI app into `http_metrics(process)`."""

    def __init__(self, app: ASGIApp, process: str) -> None:
        self.app = app
        self.metrics = http_metrics(process)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        root_path = scope.get("root_path", "")

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = method_label(scope["method"])
            route = _route_template(scope, root_path)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)
