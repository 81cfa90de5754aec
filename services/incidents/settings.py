"""IncidentsService settings, read from the environment once at start-up."""

from __future__ import annotations

from stackline_infra.settings import DatabaseSettings


class IncidentsSettings(DatabaseSettings):
    grpc_port: int = 50054
    # Where permalinks point: github.com, or a GitHub Enterprise host.
    github_web_url: str = "https://github.com"
