"""IngestService settings, read from the environment once at start-up."""

from __future__ import annotations

from stackline_infra.settings import DatabaseSettings


class IngestSettings(DatabaseSettings):
    grpc_port: int = 50053
    # Ingest makes few round trips per batch and this would be one more. After
    # a database restart, a dead pooled connection fails one batch (503, and
    # SDKs retry) and the pool is renewed.
    database_pre_ping: bool = False
