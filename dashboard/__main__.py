"""Runs the dashboard: `python -m dashboard`."""

from __future__ import annotations

import uvicorn

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from stackline_infra.logs import configure_logging
from stackline_infra.metrics import record_build_info, start_metrics_endpoint
from stackline_infra.settings import load_settings


def main() -> None:
    settings = load_settings(DashboardSettings)
    configure_logging("dashboard", level=settings.log_level, fmt=settings.log_format)
    record_build_info()
    start_metrics_endpoint(settings.host, settings.metrics_port)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        # Request lines carry ids only, but a line per page view says nothing Prometheus
        # on the gateway does not already say.
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
        server_header=False,
    )


if __name__ == "__main__":
    main()
