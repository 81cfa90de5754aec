"""Each project's path mappings, read from the database at most every few seconds.

Ingest would otherwise read them once per batch. A change made through the API
therefore reaches new events within TTL_SECONDS; events already stored keep
the paths they were given.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import repository
from services.ingest.paths import PathMappings, order_mappings
from services.ingest.periodic import PeriodicRead
from stackline_infra.clock import MonotonicClock

TTL_SECONDS = 10.0


async def _ordered(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, PathMappings]:
    found = await repository.path_mappings(session, project_ids)
    return {project_id: order_mappings(rows) for project_id, rows in found.items()}


def path_mapping_cache(
    sessions: async_sessionmaker[AsyncSession], *, clock: MonotonicClock = time.monotonic
) -> PeriodicRead[uuid.UUID, PathMappings]:
    """Each project's mappings, most specific first; none for a project that has none."""
    return PeriodicRead(sessions, _ordered, order_mappings(()), period=TTL_SECONDS, clock=clock)
