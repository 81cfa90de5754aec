"""The gateway's channels to the four services, opened at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2_grpc
from stackline.auth.v1 import auth_pb2_grpc
from stackline.incidents.v1 import incidents_pb2_grpc
from stackline.ingest.v1 import ingest_pb2_grpc
from stackline.projects.v1 import projects_pb2_grpc

from services.gateway.settings import GatewaySettings
from stackline_infra.grpc_client import open_channel


@dataclass(frozen=True)
class Backends:
    auth: auth_pb2_grpc.AuthServiceStub
    projects: projects_pb2_grpc.ProjectsServiceStub
    ingest: ingest_pb2_grpc.IngestServiceStub
    incidents: incidents_pb2_grpc.IncidentsServiceStub
    # Health stubs by service name, for /ready.
    health: dict[str, health_pb2_grpc.HealthStub]
    channels: tuple[grpc.aio.Channel, ...]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


def open_backends(settings: GatewaySettings) -> Backends:
    deadline = settings.rpc_deadline_seconds
    channels = {
        name: open_channel(target, default_deadline=deadline)
        for name, target in (
            ("auth", settings.auth_target),
            ("projects", settings.projects_target),
            ("ingest", settings.ingest_target),
            ("incidents", settings.incidents_target),
        )
    }
    return Backends(
        auth=auth_pb2_grpc.AuthServiceStub(channels["auth"]),
        projects=projects_pb2_grpc.ProjectsServiceStub(channels["projects"]),
        ingest=ingest_pb2_grpc.IngestServiceStub(channels["ingest"]),
        incidents=incidents_pb2_grpc.IncidentsServiceStub(channels["incidents"]),
        health={name: health_pb2_grpc.HealthStub(channel) for name, channel in channels.items()},
        channels=tuple(channels.values()),
    )
