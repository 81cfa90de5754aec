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
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

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


@dataclass(frozen=True)
class DatabaseMetrics:
    up: Gauge
    connection_errors: Counter
    pool_connections: Gauge
    query_duration: Histogram


@cache
def database_metrics() -> DatabaseMetrics:
    """Shared by every service that keeps data in the database; Prometheus' `job` label (one
    per deployable) tells them apart, so one alert rule covers them all. Created on first use,
    so that a process without a database (the gateway) exports no database_up of 0."""
    return DatabaseMetrics(
        up=Gauge(
            "stackline_database_up",
            "1 while the last database probe answered, 0 while it failed.",
        ),
        connection_errors=Counter(
            "stackline_database_connection_errors_total",
            "Probes and calls that could not reach the database.",
        ),
        pool_connections=Gauge(
            "stackline_database_pool_connections",
            "Connections of this process's pool, by state (in_use, idle) and its limit (max).",
            ["state"],
        ),
        query_duration=Histogram(
            "stackline_database_query_duration_seconds",
            "Time from sending a statement to its result, by statement kind.",
            ["statement"],
            buckets=LATENCY_BUCKETS,
        ),
    )


_STATEMENT_KINDS = frozenset({"select", "insert", "update", "delete", "with"})
BUILD_INFO = Gauge(
    "stackline_build_info",
    "Always 1; the labels say which version and Python this process runs.",
    ["version", "python"],
)


def record_build_info() -> None:
    """Publish the version the image was built as (STACKLINE_VERSION, "dev" outside one)."""
    version = os.environ.get("STACKLINE_VERSION", "dev")[:64]
    BUILD_INFO.labels(version, platform.python_version()).set(1)


def statement_kind(statement: str) -> str:
    """The statement's first keyword when it is a common one, else "other": a closed set."""
    word = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else ""
    return word if word in _STATEMENT_KINDS else "other"


def instrument_engine(engine: AsyncEngine) -> None:
    """Time every statement the engine runs, and report its pool's use."""
    metrics = database_metrics()
    sync_engine = engine.sync_engine
    pool = sync_engine.pool

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _started(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("stackline_started", []).append(time.perf_counter())

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _finished(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["stackline_started"].pop()
        metrics.query_duration.labels(statement_kind(statement)).observe(
            time.perf_counter() - started
        )

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: Any) -> None:
        # A failed statement never reaches after_cursor_execute: drop its start time.
        started = context.connection.info.get("stackline_started") if context.connection else None
        if started:
            started.pop()

    if isinstance(pool, QueuePool):
        # Read when Prometheus scrapes: always the pool's state at that moment.
        metrics.pool_connections.labels("in_use").set_function(pool.checkedout)
        metrics.pool_connections.labels("idle").set_function(pool.checkedin)
        metrics.pool_connections.labels("max").set_function(
            lambda: pool.size() + pool._max_overflow
        )
