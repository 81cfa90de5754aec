"""Runs AuthService: `python -m services.auth`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.github import GitHub
from services.auth.server import build_host
from services.auth.settings import AuthSettings
from services.auth.tokens import TokenIssuer, load_retired_key, load_signing_key
from stackline_infra.grpc_server import ServiceHost, run


def build(settings: AuthSettings, engine: AsyncEngine) -> ServiceHost:
    issuer = TokenIssuer(
        key=load_signing_key(
            settings.jwt_private_key_file, create_if_missing=settings.environment == "development"
        ),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        retired=tuple(load_retired_key(path) for path in settings.jwt_retired_key_files),
    )
    # Made inside the running loop: the HTTP client belongs to it.
    github = GitHub(
        web_url=settings.github_web_url,
        api_url=settings.github_api_url,
        client_id=settings.github_client_id,
        client_secret=settings.github_client_secret.get_secret_value(),
        callback_url=settings.github_callback_url,
        timeout=settings.github_timeout_seconds,
    )
    return build_host(
        engine,
        issuer,
        github,
        dev_login_enabled=settings.dev_login_enabled,
        refresh_ttl=timedelta(days=settings.refresh_token_ttl_days),
        accept_other_app_tokens=settings.github_accept_other_app_tokens,
        database_probe_seconds=settings.database_probe_seconds,
        purge_interval_seconds=settings.purge_interval_seconds,
    )


if __name__ == "__main__":
    run("auth", AuthSettings, build)
