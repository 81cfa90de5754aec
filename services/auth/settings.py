"""AuthService settings, read from the environment once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from stackline_infra.settings import DatabaseSettings


class AuthSettings(DatabaseSettings):
    grpc_port: int = 50051
    # PEM file of the Ed25519 key that signs access tokens. Required in
    # production; in development a missing file is created.
    jwt_private_key_file: Path | None = None
    jwt_issuer: str = "stackline"
    jwt_audience: str = "stackline-api"
    access_token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    # Public (or private) PEM keys that signed before the current one. They are
    # published until every token they signed has expired: rotation logs no one out.
    jwt_retired_key_files: tuple[Path, ...] = ()
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    # How often the service removes deleted accounts whose projects have been purged
    # (services/auth/purge.py); 0 turns it off.
    purge_interval_seconds: float = Field(default=5.0, ge=0)
    # Local sign-in by login alone, for the one-machine mode.
    dev_login_enabled: bool = False

    # GitHub, or GitHub Enterprise, or tools/github_standin.py.
    github_web_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    github_client_id: str = ""
    github_client_secret: SecretStr = SecretStr("")
    # The callback registered with the OAuth app: the gateway's
    # /api/auth/github/callback, as browsers reach it.
    github_callback_url: str = ""
    github_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # POST /api/auth/token takes a GitHub token of Stackline's own OAuth app, checked as such.
    # On, it also takes a token of any other app that has the read:user scope (the editor's
    # built-in GitHub sign-in): convenient, but then any site holding a user's GitHub token
    # can act as them here. Off unless the operator decides otherwise (docs/identity.md).
    github_accept_other_app_tokens: bool = False

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> AuthSettings:
        if self.environment == "production":
            if self.dev_login_enabled:
                raise ValueError("STACKLINE_DEV_LOGIN_ENABLED is for development only")
            if self.jwt_private_key_file is None:
                raise ValueError("STACKLINE_JWT_PRIVATE_KEY_FILE is required in production")
            if not (self.github_client_id and self.github_client_secret.get_secret_value()):
                raise ValueError(
                    "STACKLINE_GITHUB_CLIENT_ID and _SECRET are required in production"
                )
            if not self.github_callback_url:
                raise ValueError("STACKLINE_GITHUB_CALLBACK_URL is required in production")
        return self
