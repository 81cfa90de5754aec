"""Dashboard settings, read from the environment once at start-up."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from stackline_infra.settings import ProcessSettings


def is_loopback_host(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class DashboardSettings(ProcessSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    # Prometheus scrape port, apart from the pages so that the Ingress, which routes every
    # path to the dashboard, never publishes /metrics; 0 turns the endpoint off.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # How this process reaches the gateway (inside a cluster, its service address).
    gateway_url: str = "http://127.0.0.1:8080"
    # What an SDK on a user's machine is told to send to; the gateway as the world reaches it.
    # Empty means gateway_url, which is right on one machine.
    api_public_url: str = ""
    # The dashboard as browsers reach it: its cookies are Secure unless this is loopback.
    dashboard_url: str = "http://127.0.0.1:8081"
    # A Fernet key (32 url-safe base64 bytes) sealing the session cookie. Required in
    # production; in development an empty key means a fresh one per start (sign in again).
    session_key: SecretStr = SecretStr("")
    # A gateway call that takes longer is given up and the user sees "not answering".
    gateway_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Shows the local sign-in form; the gateway refuses it unless it is switched on there too.
    dev_login_enabled: bool = False

    @property
    def api_url(self) -> str:
        return (self.api_public_url or self.gateway_url).rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return not is_loopback_host(urlsplit(self.dashboard_url).hostname)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> DashboardSettings:
        if self.environment == "production":
            if self.dev_login_enabled:
                raise ValueError("STACKLINE_DEV_LOGIN_ENABLED is for development only")
            if not self.session_key.get_secret_value():
                raise ValueError("STACKLINE_SESSION_KEY is required in production")
            if self.secure_cookies and not self.dashboard_url.startswith("https://"):
                raise ValueError("STACKLINE_DASHBOARD_URL must be https:// in production")
        return self
