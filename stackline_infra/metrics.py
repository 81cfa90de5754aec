"""Prometheus metrics shared by every service: `stackline_<service>_<thing>_<unit>`.

Labels come from closed sets only (method names, status codes, route
templates), never ids or raw paths.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache

from prometheus_client import Counter, Gauge, Histogram

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
