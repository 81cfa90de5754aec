"""AuthService settings, read from the environment once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from stackline_infra.settings import DatabaseSettings


class AuthSettings(DatabaseSettings):
    grpc_port: int = 50051
    # PEM file of the Ed25519 key that signs access tokens. Required in
    # production; in development a missing file is created.
    jwt_private_key_file: Path | None = None
    jwt_issuer: str = "stackline"
    jwt_audience: str = "stackline-api"
    access_token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    # Local sign-in by login alone, for the one-machine mode.
    dev_login_enabled: bool = False

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> AuthSettings:
        if self.environment == "production":
            if self.dev_login_enabled:
                raise ValueError("STACKLINE_DEV_LOGIN_ENABLED is for development only")
            if self.jwt_private_key_file is None:
                raise ValueError("STACKLINE_JWT_PRIVATE_KEY_FILE is required in production")
        return self
