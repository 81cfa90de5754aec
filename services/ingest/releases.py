"""The commits that projects recorded for their releases, read at most every few seconds.

An event that names a release and no commit is placed at the release's commit. Looked up per
(project, release), misses included, so a batch of events from one deploy costs one query per
period, not one per event; a commit recorded through the API reaches new events within
TTL_SECONDS.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import repository
from stackline_infra.clock import MonotonicClock

TTL_SECONDS = 10.0
# Releases remembered at most; a flood of made-up releases starts the cache afresh.
_MAX_ENTRIES = 50_000


class ReleaseCommitCache:
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
        self._entries: dict[tuple[uuid.UUID, str], tuple[float, str]] = {}

    async def commits(
        self, releases: Iterable[tuple[uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, str], str]:
        """The commit of each (project, release), "" where none is recorded."""
        wanted = set(releases)
        now = self._clock()
        stale = [r for r in wanted if r not in self._entries or self._entries[r][0] <= now]
        if stale:
            async with self._sessions() as session:
                found = await repository.release_commits(session, stale)
            if len(self._entries) + len(stale) > _MAX_ENTRIES:
                self._entries.clear()
            for release in stale:
                self._entries[release] = (now + self._ttl, found.get(release, ""))
        return {r: self._entries[r][1] for r in wanted}
