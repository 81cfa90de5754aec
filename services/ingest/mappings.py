"""Each project's path mappings, read from the database at most every few seconds.

Ingest would otherwise read them once per batch. A change made through the API
therefore reaches new events within TTL_SECONDS; events already stored keep
the paths they were given.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import repository
from services.ingest.paths import PathMappings, order_mappings
from stackline_infra.clock import MonotonicClock

TTL_SECONDS = 10.0


class PathMappingCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ttl: float = TTL_SECONDS,
        *,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[uuid.UUID, tuple[float, PathMappings]] = {}

    async def for_projects(self, project_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PathMappings]:
        wanted = set(project_ids)
        now = self._clock()
        stale = [p for p in wanted if p not in self._entries or self._entries[p][0] <= now]
        if stale:
            async with self._sessions() as session:
                found = await repository.path_mappings(session, stale)
            for project_id in stale:
                self._entries[project_id] = (
                    now + self._ttl,
                    order_mappings(found.get(project_id, ())),
                )
        return {p: self._entries[p][1] for p in wanted}
