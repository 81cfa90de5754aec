"""Runs ProjectsService: `python -m services.projects`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projects.purge import ProjectPurge
from services.projects.server import build_host
from services.projects.service import Caps
from services.projects.settings import ProjectsSettings
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.grpc_server import ServiceHost, run


def build(settings: ProjectsSettings, engine: AsyncEngine) -> ServiceHost:
    caps = Caps(
        projects_per_user=settings.max_projects_per_user,
        keys_per_project=settings.max_keys_per_project,
    )
    return build_host(
        engine,
        caps=caps,
        database_probe_seconds=settings.database_probe_seconds,
        purge=ProjectPurge(create_sessionmaker(engine), batch_size=settings.purge_batch_size),
        purge_interval_seconds=settings.purge_interval_seconds,
    )


if __name__ == "__main__":
    run("projects", ProjectsSettings, build)
