"""Runs ProjectsService: `python -m services.projects`."""

from __future__ import annotations

import uvloop

from services.projects.server import build_host
from services.projects.service import Caps
from services.projects.settings import ProjectsSettings
from stackline_infra.grpc_server import serve
from stackline_infra.logs import configure_logging
from stackline_infra.settings import load_settings


def main() -> None:
    settings = load_settings(ProjectsSettings)
    configure_logging("projects", level=settings.log_level, fmt=settings.log_format)
    uvloop.run(
        serve(
            settings,
            lambda engine: build_host(
                engine,
                caps=Caps(
                    projects_per_user=settings.max_projects_per_user,
                    keys_per_project=settings.max_keys_per_project,
                ),
                database_probe_seconds=settings.database_probe_seconds,
            ),
        )
    )


if __name__ == "__main__":
    main()
