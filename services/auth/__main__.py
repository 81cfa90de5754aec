"""Runs AuthService: `python -m services.auth`."""

from __future__ import annotations

from datetime import timedelta

import uvloop

from services.auth.server import build_host
from services.auth.settings import AuthSettings
from services.auth.tokens import TokenIssuer, load_signing_key
from stackline_infra.grpc_server import serve
from stackline_infra.logs import configure_logging
from stackline_infra.settings import load_settings


def main() -> None:
    settings = load_settings(AuthSettings)
    configure_logging("auth", level=settings.log_level, fmt=settings.log_format)
    issuer = TokenIssuer(
        key=load_signing_key(
            settings.jwt_private_key_file, create_if_missing=settings.environment == "development"
        ),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
    )
    uvloop.run(
        serve(
            settings,
            lambda engine: build_host(
                engine,
                issuer,
                dev_login_enabled=settings.dev_login_enabled,
                database_probe_seconds=settings.database_probe_seconds,
            ),
        )
    )


if __name__ == "__main__":
    main()
