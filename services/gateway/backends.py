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

# Calls that change nothing, or whose repetition changes nothing (IngestEvents: an event id
# is stored once per project, a resent event is acknowledged and counted once). Only these
# are retried on UNAVAILABLE; creating a project or a key twice would not be harmless.
RETRYABLE_METHODS = {
    "auth": (
        "stackline.auth.v1.AuthService/GetPublicKeys",
        "stackline.auth.v1.AuthService/ResolveIngestKey",
        "stackline.auth.v1.AuthService/GetUser",
    ),
    "projects": (
        "stackline.projects.v1.ProjectsService/ListProjects",
        "stackline.projects.v1.ProjectsService/GetProject",
        "stackline.projects.v1.ProjectsService/ListAuditEntries",
        "stackline.projects.v1.ProjectsService/GetPathMappings",
    ),
    "ingest": (
        "stackline.ingest.v1.IngestService/IngestEvents",
        "stackline.ingest.v1.IngestService/ListSourceMaps",
    ),
    "incidents": (
        "stackline.incidents.v1.IncidentsService/ListIncidents",
        "stackline.incidents.v1.IncidentsService/GetIncident",
    ),
    # /ready asks every service's health; a restart must not fail the probe of the gateway.
    "health": ("grpc.health.v1.Health/Check",),
}


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
        name: open_channel(
            target,
            default_deadline=deadline,
            retryable_methods=(*RETRYABLE_METHODS[name], *RETRYABLE_METHODS["health"]),
        )
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
