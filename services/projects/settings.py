"""ProjectsService settings, read from the environment once at start-up."""

from __future__ import annotations

from stackline_infra.settings import DatabaseSettings


class ProjectsSettings(DatabaseSettings):
    grpc_port: int = 50052
