"""The purge of deleted accounts, AuthService's part: a user's row, once their projects are gone.

DELETE /api/me marks the account and its projects deleted in the caller's transaction and
clears what identifies the user (services/auth/repository.py); the projects are purged by
IngestService and ProjectsService in batches. This job removes the user's row once no project
of theirs is left. Each statement is short and the job keeps no state, so a run cut short is
finished by the next.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.auth import repository

log = logging.getLogger(__name__)

PURGED = Counter(
    "stackline_auth_purge_users_removed_total",
    "Deleted accounts whose row the purge removed, once their projects had gone.",
)


class UserPurge:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, batch_size: int = 1000
    ) -> None:
        self._sessions = sessions
        self._batch_size = batch_size

    async def run(self) -> int:
        """One pass; how many users' rows it removed."""
        removed = 0
        while True:
            async with self._sessions.begin() as session:
                count = await repository.delete_purged_users(session, self._batch_size)
            removed += count
            if count < self._batch_size:
                break
        PURGED.inc(removed)
        if removed:
            log.info("purge removed %d deleted accounts", removed)
        return removed
