"""ProjectsService settings, read from the environment once at start-up."""

from __future__ import annotations

from pydantic import Field

from stackline_infra.settings import DatabaseSettings


class ProjectsSettings(DatabaseSettings):
    grpc_port: int = 50052
    # Ingest is limited per project: these keep a user from multiplying it (docs/identity.md).
    max_projects_per_user: int = Field(default=100, ge=1)
    max_keys_per_project: int = Field(default=10, ge=1)
    # How often the service removes deleted projects once IngestService has purged them
    # (services/projects/purge.py), and the releases one statement removes; 0 turns it off.
    purge_interval_seconds: float = Field(default=5.0, ge=0)
    purge_batch_size: int = Field(default=1000, ge=1, le=100_000)
