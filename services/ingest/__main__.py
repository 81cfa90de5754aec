"""Runs IngestService: `python -m services.ingest`."""

from __future__ import annotations

import uvloop

from services.ingest.server import build_host
from services.ingest.settings import IngestSettings
from stackline_infra.grpc_server import serve
from stackline_infra.logs import configure_logging
from stackline_infra.settings import load_settings


def main() -> None:
    settings = load_settings(IngestSettings)
    configure_logging("ingest", level=settings.log_level, fmt=settings.log_format)
    uvloop.run(
        serve(
            settings,
            lambda engine: build_host(
                engine, database_probe_seconds=settings.database_probe_seconds
            ),
        )
    )


if __name__ == "__main__":
    main()
