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
    # Proxies in front of the gateway whose X-Forwarded-For entries are
    # believed, counted from the right. 0 trusts none.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    dev_login_enabled: bool = False
    # The address SDKs reach the gateway at, as DSNs name it; the request's own when empty.
    public_url: str = ""

    # Rate limits; 0 switches one off. Shared through Redis when REDIS_URL is
    # set (several replicas), else counted in this process.
    redis_url: str = Field(
        default="", validation_alias=AliasChoices("REDIS_URL", "STACKLINE_REDIS_URL")
    )
    ingest_events_per_minute: int = Field(default=60_000, ge=0)
    ingest_burst_per_second: int = Field(default=2_000, ge=0)
    api_requests_per_minute: int = Field(default=600, ge=0)
    # Bad tokens or keys from one address before it is refused with 429.
    failed_credentials_per_minute: int = Field(default=120, ge=0)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> GatewaySettings:
        if self.environment == "production" and self.dev_login_enabled:
            raise ValueError("STACKLINE_DEV_LOGIN_ENABLED is for development only")
        return self
