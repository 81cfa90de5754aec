from __future__ import annotations

import pytest

from services.auth.settings import AuthSettings
from services.gateway.settings import GatewaySettings
from stackline_infra.settings import (
    DatabaseSettings,
    ServiceSettings,
    load_settings,
    normalise_database_url,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/stackline", "postgresql+psycopg://u:p@db:5432/stackline"),
        ("postgres://u@db/stackline", "postgresql+psycopg://u@db/stackline"),
        ("postgresql+asyncpg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:///tmp/stackline.db", "sqlite+aiosqlite:///tmp/stackline.db"),
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize("url", ["mysql://db/x", "not a url"])
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="postgresql"):
        normalise_database_url(url)


def test_bad_settings_exit_without_echoing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://admin:hunter2@db/x")
    with pytest.raises(SystemExit) as exited:
        load_settings(DatabaseSettings)
    assert "DATABASE_URL" in str(exited.value)
    assert "hunter2" not in str(exited.value)


def test_production_refuses_local_sign_in_and_missing_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("STACKLINE_ENVIRONMENT", "production")
    with pytest.raises(SystemExit, match="JWT_PRIVATE_KEY_FILE"):
        load_settings(AuthSettings)
    monkeypatch.setenv("STACKLINE_JWT_PRIVATE_KEY_FILE", "/keys/signing.pem")
    with pytest.raises(SystemExit, match="GITHUB_CLIENT_ID"):
        load_settings(AuthSettings)
    monkeypatch.setenv("STACKLINE_GITHUB_CLIENT_ID", "Iv1.abc")
    monkeypatch.setenv("STACKLINE_GITHUB_CLIENT_SECRET", "s3cr3t-value")
    with pytest.raises(SystemExit, match="GITHUB_CALLBACK_URL") as refused:
        load_settings(AuthSettings)
    assert "s3cr3t-value" not in str(refused.value)
    monkeypatch.setenv(
        "STACKLINE_GITHUB_CALLBACK_URL", "https://stackline.example.com/api/auth/github/callback"
    )
    assert load_settings(AuthSettings).jwt_private_key_file is not None
    monkeypatch.setenv("STACKLINE_DEV_LOGIN_ENABLED", "true")
    with pytest.raises(SystemExit, match="development only"):
        load_settings(AuthSettings)
    with pytest.raises(SystemExit, match="development only"):
        load_settings(GatewaySettings)


def test_settings_default_to_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKLINE_ENVIRONMENT", raising=False)
    assert GatewaySettings().environment == "production"
    assert GatewaySettings().dev_login_enabled is False


def test_grpc_reflection_is_off_unless_asked_and_refused_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("STACKLINE_ENVIRONMENT", "STACKLINE_GRPC_REFLECTION"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings(ServiceSettings).grpc_reflection is False
    monkeypatch.setenv("STACKLINE_GRPC_REFLECTION", "true")
    with pytest.raises(SystemExit, match="development only"):
        load_settings(ServiceSettings)  # the environment is production unless said otherwise
    monkeypatch.setenv("STACKLINE_ENVIRONMENT", "development")
    assert load_settings(ServiceSettings).grpc_reflection is True
