"""Runs IncidentsService: `python -m services.incidents`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.incidents.server import build_host
from services.incidents.settings import IncidentsSettings
from stackline_infra.grpc_server import ServiceHost, run


def build(settings: IncidentsSettings, engine: AsyncEngine) -> ServiceHost:
    return build_host(
        engine,
        github_web_url=settings.github_web_url,
        database_probe_seconds=settings.database_probe_seconds,
    )


if __name__ == "__main__":
    run("incidents", IncidentsSettings, build)
