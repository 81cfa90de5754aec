"""ProjectsService settings, read from the environment once at start-up."""

from __future__ import annotations

from pydantic import Field

from stackline_infra.settings import DatabaseSettings


class ProjectsSettings(DatabaseSettings):
    grpc_port: int = 50052
    # Ingest is limited per project: these keep a user from multiplying it (docs/identity.md).
    max_projects_per_user: int = Field(default=100, ge=1)
    max_keys_per_project: int = Field(default=10, ge=1)
