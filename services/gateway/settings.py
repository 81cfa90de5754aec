"""Gateway settings, read from the environment once at start-up."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator

from stackline_infra.settings import ProcessSettings


class GatewaySettings(ProcessSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    auth_target: str = "127.0.0.1:50051"
    projects_target: str = "127.0.0.1:50052"
    ingest_target: str = "127.0.0.1:50053"
    incidents_target: str = "127.0.0.1:50054"
    # Every call to a service carries this deadline unless it sets its own.
    rpc_deadline_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How long a resolved ingest key is trusted before asking AuthService
    # again; a revoked key stops working within this time.
    ingest_key_cache_seconds: float = Field(default=30.0, ge=0, le=60)
    # Events waiting for IngestService beyond this are refused with 503.
    ingest_max_pending_events: int = Field(default=10_000, ge=1)
    # IngestEvents calls in flight at once; the events that arrive meanwhile wait and go
    # together in the next call (services/gateway/ingest_batcher.py, bench/README.md).
    ingest_calls_in_flight: int = Field(default=2, ge=1, le=16)
    # Proxies in front of the gateway whose X-Forwarded-For entries are
    # believed, counted from the right. 0 trusts none.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    dev_login_enabled: bool = False
    # The address SDKs reach the gateway at, as DSNs name it; the request's own when empty.
    public_url: str = ""
    # Slow clients (services/gateway/slow_clients.py): a request's headers must arrive within
    # this, and its body may not pause longer than that between pieces.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # Open connections one address may hold; only where clients connect directly
    # (trusted_proxy_hops=0), since behind a proxy every connection is the proxy's. 0: no cap.
    max_connections_per_address: int = Field(default=256, ge=0)

    # Rate limits; 0 switches one off. Shared through Redis when REDIS_URL is
    # set (several replicas), else counted in this process.
    redis_url: str = Field(
        default="", validation_alias=AliasChoices("REDIS_URL", "STACKLINE_REDIS_URL")
    )
    ingest_events_per_minute: int = Field(default=60_000, ge=0)
    ingest_burst_per_second: int = Field(default=2_000, ge=0)
    api_requests_per_minute: int = Field(default=600, ge=0)
    # Sign-in calls (browser start and callback, GitHub token exchange, device start and poll,
    # refresh, sign-out) per client address, and in total: each reaches GitHub or writes a row,
    # and GitHub's rate limit is shared by every user of the instance. A device sign-in polls
    # every 5 s, 12 a minute; the per-address default leaves room for a few at once behind one
    # address.
    sign_in_per_address_per_minute: int = Field(default=60, ge=0)
    sign_in_per_minute: int = Field(default=1_200, ge=0)
    # Bad tokens or keys from one address before its bad ones get 429 instead of 401; a
    # credential that verifies is never refused for its address's failures.
    failed_credentials_per_minute: int = Field(default=120, ge=0)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> GatewaySettings:
        if self.environment == "production" and self.dev_login_enabled:
            raise ValueError("STACKLINE_DEV_LOGIN_ENABLED is for development only")
        return self
