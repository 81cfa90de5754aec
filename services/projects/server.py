"""ProjectsService wiring: the servicer on a ServiceHost."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from stackline.projects.v1 import projects_pb2, projects_pb2_grpc

from services.projects.service import DEFAULT_CAPS, Caps
from services.projects.servicer import ProjectsServicer
from stackline_infra.clock import WallClock
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.types import utcnow
from stackline_infra.grpc_server import ServiceHost

SERVICE_NAME = projects_pb2.DESCRIPTOR.services_by_name["ProjectsService"].full_name


def build_host(
    engine: AsyncEngine,
    *,
    caps: Caps = DEFAULT_CAPS,
    database_probe_seconds: float = 2.0,
    clock: WallClock = utcnow,
) -> ServiceHost:
    servicer = ProjectsServicer(create_sessionmaker(engine), caps=caps, clock=clock)
    return ServiceHost(
        "projects",
        {
            SERVICE_NAME: lambda server: projects_pb2_grpc.add_ProjectsServiceServicer_to_server(
                servicer, server
            )
        },
        engine=engine,
        database_probe_seconds=database_probe_seconds,
    )
