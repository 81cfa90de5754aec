"""Metrics of the database as a service sees it: reachability, pool use, statement latency.

Apart from stackline_infra/metrics.py so that a process without a database (the gateway)
imports no SQLAlchemy for its metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from stackline_infra.metrics import LATENCY_BUCKETS

_STATEMENT_KINDS = frozenset({"select", "insert", "update", "delete", "with"})


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


def statement_kind(statement: str) -> str:
    """The statement's first keyword when it is a common one, else "other": a closed set."""
    word = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else ""
    return word if word in _STATEMENT_KINDS else "other"


def instrument_engine(engine: AsyncEngine, *, report_pool: bool = True) -> None:
    """Time every statement the engine runs, and report its pool's use (the one engine of a
    process that reports it: a second engine's pool would replace the first's figures)."""
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

    if report_pool and isinstance(pool, QueuePool):
        # Read when Prometheus scrapes: always the pool's state at that moment.
        metrics.pool_connections.labels("in_use").set_function(pool.checkedout)
        metrics.pool_connections.labels("idle").set_function(pool.checkedin)
        metrics.pool_connections.labels("max").set_function(
            lambda: pool.size() + pool._max_overflow
        )
