"""IngestService settings, read from the environment once at start-up."""

from __future__ import annotations

from pydantic import Field

from services.ingest.sourcemaps import DEFAULT_PARSE_BUDGET
from stackline_infra.settings import DatabaseSettings


class IngestSettings(DatabaseSettings):
    grpc_port: int = 50053
    # Ingest makes few round trips per batch and this would be one more. After
    # a database restart, a dead pooled connection fails one batch (503, and
    # SDKs retry) and the pool is renewed.
    database_pre_ping: bool = False
    # How often the service runs the retention job; 0 leaves it to a CronJob running
    # `python -m services.ingest.retention`.
    retention_interval_seconds: float = Field(default=3600.0, ge=0)
    # Rows one retention statement removes: the longest any lock is held.
    retention_batch_size: int = Field(default=1000, ge=1, le=100_000)
    audit_retention_days: int = Field(default=365, ge=1)
    # How often the service purges deleted projects of their events, incidents and source maps
    # (services/ingest/purge.py), in batches of retention_batch_size; 0 turns it off.
    purge_interval_seconds: float = Field(default=5.0, ge=0)
    # Parsed source maps held in memory, by the size of the maps they came from (least recently
    # used let go first), and how long an unused one is kept.
    sourcemap_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    sourcemap_cache_idle_seconds: float = Field(default=3600.0, gt=0)
    # Bytes parsing one map may hold at its peak, as sourcemaps.parse_cost() counts them before
    # parsing: an upload over it is refused with 413 (at most two parse at once), and a map stored
    # under a larger budget is not loaded for symbolication (its frames get a note instead).
    sourcemap_parse_budget_bytes: int = Field(default=DEFAULT_PARSE_BUDGET, gt=0)
