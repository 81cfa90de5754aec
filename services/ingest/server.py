"""IngestService wiring: the servicer on a ServiceHost."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncEngine
from stackline.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from services.ingest.purge import PurgeJob
from services.ingest.retention import RetentionJob, run_every
from services.ingest.servicer import IngestServicer
from services.ingest.sourcemaps import DEFAULT_PARSE_BUDGET
from stackline_infra.clock import MonotonicClock
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.grpc_server import ServiceHost
from stackline_infra.schedule import every

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


def build_host(
    engine: AsyncEngine,
    *,
    database_probe_seconds: float = 2.0,
    clock: MonotonicClock = time.monotonic,
    retention: RetentionJob | None = None,
    retention_interval_seconds: float = 0.0,
    source_map_bytes: int = 256 * 1024 * 1024,
    source_map_idle_seconds: float = 3600.0,
    source_map_parse_budget: int = DEFAULT_PARSE_BUDGET,
    purge: PurgeJob | None = None,
    purge_interval_seconds: float = 0.0,
) -> ServiceHost:
    """retention and purge, each when given with an interval, run on that schedule for as long
    as the host."""
    sessions = create_sessionmaker(engine)
    servicer = IngestServicer(
        sessions,
        clock=clock,
        source_map_bytes=source_map_bytes,
        source_map_idle_seconds=source_map_idle_seconds,
        source_map_parse_budget=source_map_parse_budget,
    )
    background = []
    if retention is not None and retention_interval_seconds > 0:
        job = retention
        background.append(lambda: run_every(job, retention_interval_seconds))
    if purge is not None and purge_interval_seconds > 0:
        purge_job = purge
        background.append(lambda: every(purge_interval_seconds, purge_job.run, "purge"))
    return ServiceHost(
        "ingest",
        {
            SERVICE_NAME: lambda server: ingest_pb2_grpc.add_IngestServiceServicer_to_server(
                servicer, server
            )
        },
        engine=engine,
        database_probe_seconds=database_probe_seconds,
        background=background,
    )
