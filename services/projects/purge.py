"""The purge of deleted projects, ProjectsService's part: their releases, then their row.

A deleted project is only marked (`deleted_at`) by the call that deletes it. IngestService's
purge removes its events, incidents and source maps in batches (services/ingest/purge.py); this
job removes the releases in batches, and the project's row once IngestService has nothing of it
left, with its keys and path mappings (a few dozen rows, ON DELETE CASCADE). Each statement
runs in its own short transaction and the job keeps no state: a run cut short is finished by
the next. A project's `projects.deleted` audit entry was written by the call and stays.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.projects import repository

log = logging.getLogger(__name__)

PURGED = Counter(
    "stackline_projects_purge_rows_removed_total",
    "Rows of deleted projects the purge removed, by table.",
    ["table"],
)


class ProjectPurge:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, batch_size: int = 1000
    ) -> None:
        self._sessions = sessions
        self._batch_size = batch_size

    async def run(self) -> int:
        """One pass; how many projects' rows it removed."""
        async with self._sessions() as session:
            projects = await repository.deleted_projects(session)
        removed = 0
        for project_id in projects:
            while True:
                async with self._sessions.begin() as session:
                    count = await repository.delete_releases(session, project_id, self._batch_size)
                PURGED.labels("releases").inc(count)
                if count < self._batch_size:
                    break
            async with self._sessions.begin() as session:
                if await repository.ingest_holds(session, project_id):
                    continue  # IngestService's purge has not finished: the next run looks again
                await repository.delete_project(session, project_id)
            PURGED.labels("projects").inc()
            removed += 1
        if removed:
            log.info("purge removed %d deleted projects", removed)
        return removed
