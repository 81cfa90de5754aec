"""Runs IngestService: `python -m services.ingest`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.purge import PurgeJob
from services.ingest.retention import RetentionJob
from services.ingest.server import build_host
from services.ingest.settings import IngestSettings
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.grpc_server import ServiceHost, run


def build(settings: IngestSettings, engine: AsyncEngine) -> ServiceHost:
    retention = RetentionJob(
        create_sessionmaker(engine),
        batch_size=settings.retention_batch_size,
        audit_retention_days=settings.audit_retention_days,
    )
    purge = PurgeJob(create_sessionmaker(engine), batch_size=settings.retention_batch_size)
    return build_host(
        engine,
        database_probe_seconds=settings.database_probe_seconds,
        retention=retention,
        retention_interval_seconds=settings.retention_interval_seconds,
        source_map_bytes=settings.sourcemap_cache_bytes,
        source_map_idle_seconds=settings.sourcemap_cache_idle_seconds,
        source_map_parse_budget=settings.sourcemap_parse_budget_bytes,
        purge=purge,
        purge_interval_seconds=settings.purge_interval_seconds,
    )


if __name__ == "__main__":
    run("ingest", IngestSettings, build)
