"""Runs ProjectsService: `python -m services.projects`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projects.server import build_host
from services.projects.settings import ProjectsSettings
from stackline_infra.grpc_server import ServiceHost, run


def build(settings: ProjectsSettings, engine: AsyncEngine) -> ServiceHost:
    return build_host(engine, database_probe_seconds=settings.database_probe_seconds)


if __name__ == "__main__":
    run("projects", ProjectsSettings, build)
