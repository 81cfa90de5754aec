"""The dashboard's settings refuse what production must not run with."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from dashboard.settings import DashboardSettings

KEY = Fernet.generate_key().decode()


def _production(**values: object) -> DashboardSettings:
    return DashboardSettings(environment="production", **values)  # type: ignore[arg-type]


def test_production_needs_a_session_key_and_https() -> None:
    with pytest.raises(ValidationError, match="STACKLINE_SESSION_KEY"):
        _production(dashboard_url="https://dashboard.example.com")
    with pytest.raises(ValidationError, match="https"):
        _production(session_key=KEY, dashboard_url="http://dashboard.example.com")
    with pytest.raises(ValidationError, match="development only"):
        _production(
            session_key=KEY, dashboard_url="https://dashboard.example.com", dev_login_enabled=True
        )
    settings = _production(session_key=KEY, dashboard_url="https://dashboard.example.com")
    assert settings.secure_cookies


@pytest.mark.parametrize(
    ("dashboard_url", "secure"),
    [
        ("http://127.0.0.1:8081", False),
        ("http://localhost:8081", False),
        ("http://[::1]:8081", False),
        ("https://dashboard.example.com", True),
        ("http://10.0.0.5:8081", True),
    ],
)
def test_cookies_are_secure_off_loopback(dashboard_url: str, secure: bool) -> None:
    settings = DashboardSettings(environment="development", dashboard_url=dashboard_url)
    assert settings.secure_cookies is secure


def test_the_api_url_shown_defaults_to_the_gateway() -> None:
    settings = DashboardSettings(environment="development", gateway_url="http://gw:8080/")
    assert settings.api_url == "http://gw:8080"
    shown = DashboardSettings(environment="development", api_public_url="https://api.example.com")
    assert shown.api_url == "https://api.example.com"
