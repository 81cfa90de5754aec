"""The purge of deleted projects: IngestService removes their events, incidents and source maps.

DELETE /api/projects/{id} (and DELETE /api/me for each project of the account) only marks the
project deleted, in the caller's transaction, so the call answers at once whatever the project
holds; every read path treats the project as gone from then on. This job removes what
IngestService owns of such projects, in bounded batches each in its own short transaction, every
`STACKLINE_PURGE_INTERVAL_SECONDS` inside the service or once per call of
`python -m services.ingest.purge`. It keeps no state of its own: a run cut short (SIGKILL
included) leaves whole batches behind, and the next run carries on. ProjectsService removes the
project's own row once nothing of IngestService's is left (services/projects/purge.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import retention_repository as repository
from services.ingest.settings import IngestSettings
from stackline_infra.clock import MonotonicClock
from stackline_infra.db.engine import create_engine, create_sessionmaker
from stackline_infra.logs import configure_logging
from stackline_infra.settings import load_settings

log = logging.getLogger(__name__)

PURGED = Counter(
    "stackline_ingest_purge_rows_removed_total",
    "Rows of deleted projects the purge removed, by table.",
    ["table"],
)

Batch = Callable[[AsyncSession, uuid.UUID, int], Awaitable[int]]

# In this order: an incident goes once its events have; claimed ids need no order.
_STEPS: tuple[tuple[str, Batch], ...] = (
    ("event_keys", lambda s, p, n: repository.delete_event_keys(s, p, None, n)),
    ("events", lambda s, p, n: repository.delete_events(s, p, None, n)),
    ("incidents", lambda s, p, n: repository.delete_empty_incidents(s, p, None, n)),
    ("source_maps", repository.delete_source_maps),
)


class PurgeJob:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch_size: int = 1000,
        monotonic: MonotonicClock = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._batch_size = batch_size
        self._monotonic = monotonic

    async def run(self) -> dict[str, int]:
        """One pass over every deleted project; what it removed, by table."""
        started = self._monotonic()
        async with self._sessions() as session:
            projects = await repository.deleted_projects(session)
        removed = dict.fromkeys((table for table, _ in _STEPS), 0)
        for project_id in projects:
            for table, step in _STEPS:
                while True:
                    async with self._sessions.begin() as session:
                        count = await step(session, project_id, self._batch_size)
                    removed[table] += count
                    PURGED.labels(table).inc(count)
                    if count:
                        log.debug("purge removed %d %s of project %s", count, table, project_id)
                    if count < self._batch_size:
                        break
        if projects:
            log.info(
                "purge of %d deleted projects removed %d events, %d incidents and %d source"
                " maps in %.1f s",
                len(projects),
                removed["events"],
                removed["incidents"],
                removed["source_maps"],
                self._monotonic() - started,
            )
        return removed


async def _run_once(settings: IngestSettings) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await PurgeJob(create_sessionmaker(engine), batch_size=settings.retention_batch_size).run()
    finally:
        await engine.dispose()


def main() -> None:
    """One pass: exits 0 when it finished, 1 when it failed."""
    settings = load_settings(IngestSettings)
    configure_logging("ingest-purge", level=settings.log_level, fmt=settings.log_format)
    try:
        asyncio.run(_run_once(settings))
    except Exception:
        log.exception("purge failed")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
