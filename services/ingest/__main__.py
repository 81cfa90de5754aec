"""Runs IngestService: `python -m services.ingest`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.server import build_host
from services.ingest.settings import IngestSettings
from stackline_infra.grpc_server import ServiceHost, run


def build(settings: IngestSettings, engine: AsyncEngine) -> ServiceHost:
    return build_host(engine, database_probe_seconds=settings.database_probe_seconds)


if __name__ == "__main__":
    run("ingest", IngestSettings, build)
