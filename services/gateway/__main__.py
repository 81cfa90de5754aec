"""Runs the gateway: `python -m services.gateway`."""

from __future__ import annotations

import uvicorn

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from stackline_infra import otel
from stackline_infra.logs import configure_logging
from stackline_infra.settings import load_settings


def main() -> None:
    settings = load_settings(GatewaySettings)
    configure_logging("gateway", level=settings.log_level, fmt=settings.log_format)
    # Spans still buffered are sent by the app's lifespan as it stops.
    otel.start("gateway", settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        # Logged by the metrics middleware and Prometheus instead; a line per
        # ingest request would cost more than the request.
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
        server_header=False,
    )


if __name__ == "__main__":
    main()
