"""IncidentsService wiring: the servicer on a ServiceHost."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from stackline.incidents.v1 import incidents_pb2, incidents_pb2_grpc

from services.incidents.servicer import IncidentsServicer
from stackline_infra.db.engine import create_read_engine, create_sessionmaker
from stackline_infra.db.metrics import instrument_engine
from stackline_infra.grpc_server import ServiceHost

SERVICE_NAME = incidents_pb2.DESCRIPTOR.services_by_name["IncidentsService"].full_name


def build_host(
    engine: AsyncEngine, *, github_web_url: str, database_probe_seconds: float = 2.0
) -> ServiceHost:
    reads = create_read_engine(engine.url.render_as_string(hide_password=False))
    instrument_engine(reads, report_pool=False)
    servicer = IncidentsServicer(create_sessionmaker(engine), reads, github_web_url=github_web_url)
    return ServiceHost(
        "incidents",
        {
            SERVICE_NAME: lambda server: incidents_pb2_grpc.add_IncidentsServiceServicer_to_server(
                servicer, server
            )
        },
        engine=engine,
        database_probe_seconds=database_probe_seconds,
        on_stop=[reads.dispose],
    )
