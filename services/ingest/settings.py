"""IngestService settings, read from the environment once at start-up."""

from __future__ import annotations

from stackline_infra.settings import DatabaseSettings


class IngestSettings(DatabaseSettings):
    grpc_port: int = 50053
