"""The commits that projects recorded for their releases, read at most every few seconds.

An event that names a release and no commit is placed at the release's commit. A commit
recorded through the API reaches new events within TTL_SECONDS.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import repository
from services.ingest.periodic import PeriodicRead
from stackline_infra.clock import MonotonicClock

TTL_SECONDS = 10.0
# Releases remembered at most; a flood of made-up releases starts the cache afresh.
_MAX_ENTRIES = 50_000


def release_commit_cache(
    sessions: async_sessionmaker[AsyncSession], *, clock: MonotonicClock = time.monotonic
) -> PeriodicRead[tuple[uuid.UUID, str], str]:
    """The commit of each (project, release), "" where none is recorded."""
    return PeriodicRead(
        sessions,
        repository.release_commits,
        "",
        period=TTL_SECONDS,
        clock=clock,
        max_entries=_MAX_ENTRIES,
    )
