"""Runs IncidentsService: `python -m services.incidents`."""

from __future__ import annotations

import uvloop

from services.incidents.server import build_host
from services.incidents.settings import IncidentsSettings
from stackline_infra.grpc_server import serve
from stackline_infra.logs import configure_logging
from stackline_infra.settings import load_settings


def main() -> None:
    settings = load_settings(IncidentsSettings)
    configure_logging("incidents", level=settings.log_level, fmt=settings.log_format)
    uvloop.run(
        serve(
            settings,
            lambda engine: build_host(
                engine,
                github_web_url=settings.github_web_url,
                database_probe_seconds=settings.database_probe_seconds,
            ),
        )
    )


if __name__ == "__main__":
    main()
