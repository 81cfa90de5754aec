"""ProjectsService wiring: the servicer on a ServiceHost."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from stackline.projects.v1 import projects_pb2, projects_pb2_grpc

from services.projects.purge import ProjectPurge
from services.projects.service import DEFAULT_CAPS, Caps
from services.projects.servicer import ProjectsServicer
from stackline_infra.clock import WallClock
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.types import utcnow
from stackline_infra.grpc_server import ServiceHost
from stackline_infra.schedule import every

SERVICE_NAME = projects_pb2.DESCRIPTOR.services_by_name["ProjectsService"].full_name


def build_host(
    engine: AsyncEngine,
    *,
    caps: Caps = DEFAULT_CAPS,
    database_probe_seconds: float = 2.0,
    clock: WallClock = utcnow,
    purge: ProjectPurge | None = None,
    purge_interval_seconds: float = 0.0,
) -> ServiceHost:
    """purge, when given with an interval, runs on that schedule for as long as the host."""
    servicer = ProjectsServicer(create_sessionmaker(engine), caps=caps, clock=clock)
    background = []
    if purge is not None and purge_interval_seconds > 0:
        job = purge
        background.append(lambda: every(purge_interval_seconds, job.run, "project purge"))
    return ServiceHost(
        "projects",
        {
            SERVICE_NAME: lambda server: projects_pb2_grpc.add_ProjectsServiceServicer_to_server(
                servicer, server
            )
        },
        engine=engine,
        database_probe_seconds=database_probe_seconds,
        background=background,
    )
